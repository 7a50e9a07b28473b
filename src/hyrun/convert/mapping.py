"""From the settings of an MMCV 1.x or MMEngine config to a hyrun experiment: each setting
goes to the converter of its concept; a setting no converter takes, or one whose value only
running the config would give (``values.Unknown``), is reported, never dropped silently."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hyrun.convert import hooks, optimization, runtime, schedules
from hyrun.convert.experiment import Experiment
from hyrun.convert.mmengine import mapping as mmengine_mapping
from hyrun.convert.mmengine import runtime as mmengine_runtime
from hyrun.convert.mmengine.detect import MMENGINE, config_format
from hyrun.convert.parse import MMCVConfig
from hyrun.convert.values import first_unknown, imported_as_names

Converter = Callable[[dict[str, Any], Experiment], None]

# (the MMCV keys a converter reads, the converter), in the order they run: the runner first,
# since schedules and checkpoints depend on whether it counts epochs or iterations
CONVERTERS: list[tuple[tuple[str, ...], Converter]] = [
    (("runner", "total_epochs"), runtime.convert_runner),
    (("optimizer",), optimization.convert_optimizer),
    (("optimizer_config", "fp16"), optimization.convert_optimizer_step),
    (("lr_config",), schedules.convert_lr_config),
    (("momentum_config",), schedules.convert_momentum_config),
    (("workflow",), runtime.convert_workflow),
    (("custom_hooks",), hooks.convert_custom_hooks),
    (("log_config",), hooks.convert_log_config),
    (("checkpoint_config",), hooks.convert_checkpoint_config),
    (("evaluation",), hooks.convert_evaluation),
    (("custom_imports",), runtime.convert_custom_imports),
    ((*runtime.PLAIN_KEYS, "auto_resume"), runtime.convert_plain),
    (("auto_scale_lr",), mmengine_runtime.convert_auto_scale_lr),  # MMDetection 2.x has it too
]

MODEL_AND_DATA = ("model", "data", "train_cfg", "test_cfg", "dataset_type", "data_root", "img_norm_cfg",
                  "train_pipeline", "val_pipeline", "test_pipeline", "classes")
_MODEL_AND_DATA_WHY = ("models and datasets are not converted: choose hyrun's model= and data= options, or "
                       "your own (--config-dir with model/NAME.yaml and data/NAME.yaml)")
# run settings of MMCV's launchers and tools, with why hyrun has no place for them
RUNTIME_ONLY = {
    "dist_params": "hyrun's DDP takes torchrun's environment (gloo for CPU tensors, NCCL for CUDA)",
    "log_level": "hyrun logs at INFO (Hydra's hydra.verbose changes it)",
    "opencv_num_threads": "a setting of MMCV's launcher: hyrun does not use OpenCV",
    "mp_start_method": "a setting of MMCV's launcher: hyrun's data loaders use torch's default",
    "gpu_ids": "one device a process (device=auto|cpu|cuda:N); several GPUs: torchrun --nproc_per_node=N",
    "device": "hyrun picks the device with device=auto|cpu|cuda:N",
    "cudnn_benchmark": "not a hyrun setting",
    "launcher": "hyrun's processes are started by torchrun or a Hydra launcher",
}
_UNKNOWN_WHY = "not a setting hyrun has (a variable of the config, or a setting of another codebase)"


def convert(config: MMCVConfig) -> Experiment:
    """The experiment for an MMCV 1.x or MMEngine config (``parse.load_config``)."""
    out = Experiment(format=config_format(config.settings, config.new_style))
    settings: dict[str, Any] = {}
    for key, value in config.settings.items():
        unknown = first_unknown(value)
        if unknown is None:
            settings[key] = imported_as_names(value)  # type=SGD of a new-style config: 'SGD'
        elif key not in model_and_data(out.format):
            out.skip(key, value, f"its value is only known by running the config: {unknown.origin}")
    converters = mmengine_mapping.CONVERTERS if out.format == MMENGINE else CONVERTERS
    taken: set[str] = set()
    for keys, converter in converters:
        if any(key in settings for key in keys):
            converter(settings, out)
        taken.update(keys)
    variables = []
    for key, value in config.settings.items():
        if key in taken or (key not in settings and key not in model_and_data(out.format)):
            continue
        if key in model_and_data(out.format):
            out.skip(key, value, _MODEL_AND_DATA_WHY)
        elif key in RUNTIME_ONLY:
            out.skip(key, value, RUNTIME_ONLY[key])
        elif key in config.variables:
            variables.append(key)
        else:
            out.skip(key, value, _UNKNOWN_WHY)
    if variables:
        out.note("variables", f"{', '.join(variables)}: read by other settings, which carry their values")
    return out


def model_and_data(config_format: str) -> tuple[str, ...]:
    """The keys that describe the model and the data, reported as one kind."""
    return MODEL_AND_DATA + mmengine_mapping.MODEL_AND_DATA if config_format == MMENGINE else MODEL_AND_DATA
