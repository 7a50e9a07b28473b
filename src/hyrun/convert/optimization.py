"""MMCV's ``optimizer`` (with ``paramwise_cfg`` and ``constructor``), ``optimizer_config``
(the OptimizerHook family) and MMDetection's top-level ``fp16`` as hyrun's ``optimizer`` and
``optimizer_config``."""
from __future__ import annotations

import dataclasses
from typing import Any

from hyrun.config.optimizers import SEED_PRESETS, optimizer_fields
from hyrun.config.schema import ParamwiseConfig
from hyrun.convert.experiment import Experiment, mmcv_repr
from hyrun.registry import snake_case

# MMCV's and MMEngine's: hyrun's own default does what they do
DEFAULT_CONSTRUCTORS = ("DefaultOptimizerConstructor", "DefaultOptimWrapperConstructor")
_PARAMWISE_WHY_NOT = {
    "dcn_offset_lr_mult": "it acts on mmcv.ops deformable convolutions only, which hyrun models do not have",
}
# MMCV's optimizer hooks: (accumulates gradients, fp16)
OPTIMIZER_HOOKS: dict[str, tuple[bool, bool]] = {
    "OptimizerHook": (False, False),
    "DistOptimizerHook": (False, False),  # MMCV's old name of OptimizerHook
    "GradientCumulativeOptimizerHook": (True, False),
    "Fp16OptimizerHook": (False, True),
    "GradientCumulativeFp16OptimizerHook": (True, True),
}
FP16_DEFAULT_LOSS_SCALE = 512.0  # Fp16OptimizerHook's default: a static scale
_GRAD_CLIP_KEYS = ("max_norm", "norm_type")  # what MMCV passes on to clip_grad_norm_ that hyrun takes


def convert_optimizer(cfg: dict[str, Any], out: Experiment) -> None:
    spec = cfg["optimizer"]
    carry_optimizer(spec, spec.get("paramwise_cfg") if isinstance(spec, dict) else None,
                    spec.get("constructor") if isinstance(spec, dict) else None, "optimizer", out)


def carry_optimizer(spec: Any, paramwise: Any, constructor: Any, source: str, out: Experiment) -> None:
    """An optimizer ``dict(type=..., **arguments)`` found at ``source`` (MMCV's ``optimizer``,
    MMEngine's ``optim_wrapper.optimizer``), with the constructor's ``paramwise_cfg``."""
    if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
        out.skip(source, spec, "not dict(type=..., ...): hyrun's default optimizer stays")
        return
    spec = {k: v for k, v in spec.items() if k not in ("paramwise_cfg", "constructor")}
    type_name = spec.pop("type")
    prefix = source.rsplit(".", 1)[0] + "." if "." in source else ""
    torch_fields = optimizer_fields()
    if type_name in torch_fields:
        defaults = {name: default for name, _, default in torch_fields[type_name]}
        for name, value in spec.items():
            if name in defaults:
                out.set(f"optimizer.{name}", value)
            else:
                out.skip(f"{source}.{name}", value, f"torch.optim.{type_name} takes no {name!r}")
        # MMCV leaves unset arguments to torch; hyrun's presets start from the seed's values
        for name in SEED_PRESETS.get(type_name, {}):
            if name not in spec and defaults.get(name) != "???":
                out.set(f"optimizer.{name}", defaults[name])
        out.choose("optimizer", type_name.lower())
    else:
        option = snake_case(type_name)
        for name, value in spec.items():
            out.set(f"optimizer.{name}", value)
        out.choose("optimizer", option)
        out.note(f"{source}.type", f"{type_name!r} is not a torch.optim optimizer: selects optimizer={option}, the "
                                   f"option that @register('optimizer') makes of your class {type_name} ported to "
                                   f"hyrun; its module must be imported before composing (custom_imports=[...] on "
                                   f"the command line, or an entry point)")
    if paramwise:
        _convert_paramwise(paramwise, f"{prefix}paramwise_cfg" if prefix else "optimizer.paramwise_cfg", out)
    if constructor not in (None, *DEFAULT_CONSTRUCTORS):
        out.set("optimizer.constructor", snake_case(constructor))
        out.note(f"{prefix}constructor" if prefix else "optimizer.constructor", f"{constructor!r} selects the constructor registered as "
                                          f"{snake_case(constructor)!r} (@register('optimizer_constructor')): "
                                          f"port it to hyrun and import it")


def _convert_paramwise(paramwise: Any, source: str, out: Experiment) -> None:
    if not isinstance(paramwise, dict):
        out.skip(source, paramwise, "not a dict")
        return
    known = {f.name for f in dataclasses.fields(ParamwiseConfig)}
    for name, value in paramwise.items():
        if name in known:
            out.set(f"optimizer.paramwise_cfg.{name}", value)
        else:
            out.skip(f"{source}.{name}", value,
                     _PARAMWISE_WHY_NOT.get(name, f"not a paramwise_cfg key hyrun has ({', '.join(sorted(known))})"))


def convert_optimizer_step(cfg: dict[str, Any], out: Experiment) -> None:
    """``optimizer_config`` and ``fp16`` together: MMDetection builds Fp16OptimizerHook from
    both (``Fp16OptimizerHook(**optimizer_config, **fp16)``)."""
    spec = cfg.get("optimizer_config", {})
    if spec is None:
        out.skip("optimizer_config", None, "no optimizer hook (a model that steps itself): hyrun always steps "
                                           "the optimizer; its default optimizer_config stays")
        spec = {}
    if not isinstance(spec, dict):
        out.skip("optimizer_config", spec, "not a dict: hyrun's default optimizer_config stays")
        spec = {}
    spec = dict(spec)
    type_name = spec.pop("type", "OptimizerHook")
    accumulates, fp16 = OPTIMIZER_HOOKS.get(type_name, (False, False))
    if type_name not in OPTIMIZER_HOOKS:
        out.skip("optimizer_config.type", type_name, "not an optimizer hook hyrun has: hyrun's OptimizerHook "
                                                     "takes the settings it knows (grad_clip, ...)")
    grad_clip = spec.pop("grad_clip", None)
    if grad_clip is not None:
        _convert_grad_clip(grad_clip, out)
    if "cumulative_iters" in spec:
        value = spec.pop("cumulative_iters")
        if accumulates:
            out.set("optimizer_config.cumulative_iters", value)
        else:
            out.skip("optimizer_config.cumulative_iters", value, f"{type_name} does not accumulate gradients")
    if "detect_anomalous_params" in spec:
        out.set("optimizer_config.detect_anomalous_params", spec.pop("detect_anomalous_params"))
    loss_scale = spec.pop("loss_scale", FP16_DEFAULT_LOSS_SCALE) if fp16 else None
    fp16_cfg = cfg.get("fp16")
    if isinstance(fp16_cfg, dict):
        fp16_cfg = dict(fp16_cfg)
        loss_scale, fp16 = fp16_cfg.pop("loss_scale", FP16_DEFAULT_LOSS_SCALE), True
        for name, value in fp16_cfg.items():
            out.skip(f"fp16.{name}", value, "not an fp16 setting hyrun has (loss_scale)")
    elif fp16_cfg is not None:
        out.skip("fp16", fp16_cfg, "not dict(loss_scale=...)")
    if fp16:
        out.set("optimizer_config.amp", {"dtype": "auto", "loss_scale": loss_scale})
        out.note("optimizer_config.amp", "fp16 is hyrun's amp with dtype auto: float16 with loss scaling on CUDA, "
                                         "as MMCV; bfloat16 (no scaling) on CPU")
    for name, value in spec.items():
        out.skip(f"optimizer_config.{name}", value, "not an optimizer_config setting hyrun has")
    out.choose("optimizer_config", "amp" if fp16 else "grad_clip" if out.get("optimizer_config.grad_clip") else
               "default")


def _convert_grad_clip(grad_clip: Any, out: Experiment) -> None:
    if not isinstance(grad_clip, dict):
        out.skip("optimizer_config.grad_clip", grad_clip, "not dict(max_norm=..., norm_type=...)")
        return
    clip = {"type": "norm", "max_norm": grad_clip.get("max_norm"), "norm_type": grad_clip.get("norm_type", 2.0)}
    if clip["max_norm"] is None:
        out.skip("optimizer_config.grad_clip", grad_clip, "no max_norm")
        return
    out.set("optimizer_config.grad_clip", clip)
    for name, value in grad_clip.items():
        if name not in _GRAD_CLIP_KEYS:
            out.skip(f"optimizer_config.grad_clip.{name}", value,
                     f"hyrun clips by norm with max_norm and norm_type only ({mmcv_repr(grad_clip)})")
