"""MMEngine's ``optim_wrapper``: the optimizer, its constructor and ``paramwise_cfg``, and what
the wrapper does around ``step()`` (gradient clipping, accumulation, AMP) as hyrun's
``optimizer`` and ``optimizer_config``."""
from __future__ import annotations

from typing import Any

from hyrun.convert.experiment import Experiment
from hyrun.convert.optimization import carry_optimizer

WRAPPERS = ("OptimWrapper", "AmpOptimWrapper")
_CLIP_NORM_KEYS = ("max_norm", "norm_type")  # clip_grad_norm_'s, as hyrun takes them


def convert_optim_wrapper(cfg: dict[str, Any], out: Experiment) -> None:
    spec = cfg["optim_wrapper"]
    if not isinstance(spec, dict):
        out.skip("optim_wrapper", spec, "not dict(type=..., optimizer=...)")
        return
    spec = dict(spec)
    kind = spec.pop("type", "OptimWrapper")
    if kind not in WRAPPERS:
        out.skip("optim_wrapper", cfg["optim_wrapper"], f"{kind!r} is not a wrapper hyrun has ({', '.join(WRAPPERS)}):"
                                                        " hyrun's default optimizer stays")
        return
    carry_optimizer(spec.pop("optimizer", None), spec.pop("paramwise_cfg", None), spec.pop("constructor", None),
                    "optim_wrapper.optimizer", out)
    if "clip_grad" in spec and spec["clip_grad"] is not None:
        _carry_clip_grad(spec.pop("clip_grad"), out)
    spec.pop("clip_grad", None)
    if "accumulative_counts" in spec:
        out.set("optimizer_config.cumulative_iters", spec.pop("accumulative_counts"))
    if kind == "AmpOptimWrapper":
        amp = {"dtype": _amp_dtype(spec.pop("dtype", None), out), "loss_scale": spec.pop("loss_scale", "dynamic")}
        out.set("optimizer_config.amp", amp)
        out.note("optim_wrapper.type", "AmpOptimWrapper is hyrun's amp: float16 autocast with the loss scale on "
                                       "CUDA, as MMEngine (dtype auto runs bfloat16 on CPU, where MMEngine refuses)")
    for name, value in spec.items():
        out.skip(f"optim_wrapper.{name}", value, f"hyrun's optimizer step has no {name!r}")
    out.choose("optimizer_config", "amp" if kind == "AmpOptimWrapper" else
               "grad_clip" if out.get("optimizer_config.grad_clip") else "default")


def _amp_dtype(dtype: Any, out: Experiment) -> str:
    if dtype in (None, "float16", "bfloat16"):
        return dtype or "auto"
    out.skip("optim_wrapper.dtype", dtype, "hyrun's amp takes float16 or bfloat16")
    return "auto"


def _carry_clip_grad(clip: Any, out: Experiment) -> None:
    """MMEngine's ``clip_grad``: ``dict(max_norm, norm_type)`` for clip_grad_norm_, or
    ``dict(type='value', clip_value)`` for clip_grad_value_."""
    if not isinstance(clip, dict):
        out.skip("optim_wrapper.clip_grad", clip, "not dict(max_norm=...) or dict(type='value', clip_value=...)")
        return
    clip = dict(clip)
    kind = clip.pop("type", "norm")
    keys = _CLIP_NORM_KEYS if kind == "norm" else ("clip_value",) if kind == "value" else None
    if keys is None or keys[0] not in clip:
        out.skip("optim_wrapper.clip_grad", {"type": kind, **clip}, "needs type norm with max_norm, or type value "
                                                                     "with clip_value")
        return
    out.set("optimizer_config.grad_clip", {"type": kind, **{k: clip.pop(k) for k in keys if k in clip}})
    for name, value in clip.items():
        out.skip(f"optim_wrapper.clip_grad.{name}", value, f"hyrun clips by {kind} with {', '.join(keys)} only")
