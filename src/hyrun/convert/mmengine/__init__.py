"""MMEngine-format configs (OpenMMLab 2.x: mmpretrain, mmdet 3.x, ...): their runtime
settings mapped onto hyrun's groups as MMEngine's Runner runs them.

``detect`` tells the format by its keys; ``mapping`` lists which module converts which key:
``optim_wrapper``, ``schedulers`` (``param_scheduler``), ``loops`` (``train_cfg`` /
``val_cfg`` / ``val_evaluator``), ``hooks`` (``default_hooks``, ``custom_hooks``,
``log_processor``) and ``runtime`` (``visualizer``, ``randomness``, ``env_cfg``,
``auto_scale_lr``, ``load_from`` / ``resume``, ...).
"""
