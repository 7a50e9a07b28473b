"""Which converter takes which key of an MMEngine config, in the order they run: the loop
first (schedules and checkpoints depend on whether it counts epochs or iterations), the
logger hook before ``log_processor`` (which compares its window with the interval)."""
from __future__ import annotations

from hyrun.convert import runtime as mmcv_runtime
from hyrun.convert.mmengine import hooks, loops, optim_wrapper, runtime, schedulers

CONVERTERS = [
    (("train_cfg",), loops.convert_train_cfg),
    (("val_cfg", "val_evaluator", "train_cfg"), loops.convert_val_cfg),  # no val_cfg: no validation
    (("optim_wrapper",), optim_wrapper.convert_optim_wrapper),
    (("param_scheduler",), schedulers.convert_param_scheduler),
    (("default_hooks",), hooks.convert_default_hooks),
    (("custom_hooks",), hooks.convert_custom_hooks),
    (("log_processor",), hooks.convert_log_processor),
    (("visualizer",), runtime.convert_visualizer),
    (("randomness",), runtime.convert_randomness),
    (("env_cfg",), runtime.convert_env_cfg),
    (("load_from", "resume", "work_dir"), runtime.convert_checkpoints),
    (("auto_scale_lr",), runtime.convert_auto_scale_lr),
    (("model_wrapper_cfg",), runtime.convert_model_wrapper),
    (("default_scope",), runtime.convert_default_scope),
    (("custom_imports",), mmcv_runtime.convert_custom_imports),
]
MODEL_AND_DATA = ("model", "data_preprocessor", "train_dataloader", "val_dataloader", "test_dataloader",
                  "test_evaluator", "test_cfg", "dataset_type", "data_root", "train_pipeline", "val_pipeline",
                  "test_pipeline", "backend_args", "tta_model", "tta_pipeline", "metainfo", "classes",
                  "img_norm_cfg", "bgr_mean", "num_classes")
