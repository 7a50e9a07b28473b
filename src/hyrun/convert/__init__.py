"""``hyrun-convert``: an MMCV 1.x / MMTracking Python config as a Hydra experiment of hyrun.

The config is read as data (``parse``: ``ast``, never executed, ``_base_`` merged as MMCV
does), its settings are mapped onto hyrun's groups and fields (``mapping`` and the modules
it calls), and the result is written as ``conf/experiment/NAME.yaml`` (``write``) with
everything that could not be carried over listed at its end.
"""
