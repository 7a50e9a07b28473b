"""Per-parameter learning rates and weight decays, as MMCV 1.x's ``DefaultOptimizerConstructor``.

Configs written for MMCV 1.x (and MMEngine) carry a ``paramwise_cfg`` next to the optimizer; this
module turns it into torch param groups with the same numbers MMCV would produce, so a config
ported to hyrun trains the same way.  Behaviour read from ``mmcv/runner/optimizer/
default_constructor.py`` (MMCV 1.7, the version with ``custom_keys``, ``dwconv_decay_mult``,
``bypass_duplicate`` and ``dcn_offset_lr_mult``) and, for ``flat_decay_mult`` only, from MMEngine's
``mmengine/optim/optimizer/default_constructor.py``.

How MMCV builds the groups (and so how this module does):

* Without ``paramwise_cfg`` (``None`` or an empty mapping) the optimizer gets ``model.parameters()``
  as one group: frozen parameters included, shared parameters once.
* With a non-empty ``paramwise_cfg`` (even ``{"custom_keys": {}}``) *every* parameter gets a group of
  its own, ``{"params": [p]}``, in the order of a depth-first walk: a module's own parameters
  (``named_parameters(recurse=False)``) first, then its children (``named_children()``, which skips
  a child instance already met under the *same* parent).  A group holds ``lr`` / ``weight_decay``
  only where a rule below set them; the optimizer fills the rest from its own arguments.
* A parameter with ``requires_grad=False`` still gets a group, but a bare one: no rule applies.
* Rules for a trainable parameter named ``prefix.name`` (``name`` is its name in the module that
  owns it), in order of precedence:

  1. ``custom_keys``: the keys are tried longest first, equal lengths alphabetically
     (``sorted(sorted(keys), key=len, reverse=True)``); the first key that is a *substring* of
     ``f"{prefix}.{name}"`` wins.  The string always has the dot, so a parameter of the root module
     is matched as ``".name"``.  The match sets ``lr = base_lr * lr_mult`` (default 1) and, if the
     optimizer has a weight decay, ``weight_decay = base_wd * decay_mult`` (default 1), and *nothing
     else applies* to that parameter: no bias, norm, dwconv or flat rule.
  2. Learning rate: ``lr = base_lr * bias_lr_mult`` (default 1, so the key is set even when the
     option is absent) for a parameter named exactly ``bias`` whose module is not a norm layer.
     Depthwise-conv biases get it too.
  3. Weight decay, only when the optimizer has one (``weight_decay`` given and not ``None``; ``0`` is
     a weight decay), first category that fits:

     a. norm layer (``_BatchNorm`` — BatchNorm1d/2d/3d, SyncBatchNorm, the lazy ones —,
        ``_InstanceNorm``, ``GroupNorm``, ``LayerNorm``; nothing else, e.g. not ``RMSNorm``):
        weight and bias get ``norm_decay_mult``;
     b. depthwise conv, MMCV's test being ``isinstance(m, nn.Conv2d) and m.in_channels == m.groups``
        (so only 2-D convs, channel multipliers allowed, and — quirk — any ``Conv2d`` with one input
        channel counts): weight and bias get ``dwconv_decay_mult``;
     c. a parameter named ``bias`` (of any other module): ``bias_decay_mult``;
     d. anything else: no ``weight_decay`` key.

     In MMCV each of a, b, c defaults to 1, so a category claims its parameters even when its
     option is absent (``bias_decay_mult`` alone does not touch norm or depthwise-conv biases).
* ``flat_decay_mult`` (MMEngine) is the decay multiplier of every one-dimensional parameter unless a
  category option that is *set* claims it: a 1-D parameter in category a/b/c whose option is absent
  gets ``flat_decay_mult`` instead of 1, and a 1-D parameter of category d gets it too.  This is
  MMEngine's result for every config where MMCV and MMEngine agree, and exactly MMCV's when
  ``flat_decay_mult`` is absent.  (MMEngine orders the categories norm > bias > dwconv > flat, and
  an absent option never claims anything; it differs from MMCV on a depthwise-conv bias when both
  ``bias_decay_mult`` and ``dwconv_decay_mult`` are set, and on a norm bias when only
  ``bias_decay_mult`` is set.  Here MMCV wins.)
* A decay option (``bias_decay_mult``, ``norm_decay_mult``, ``dwconv_decay_mult``,
  ``flat_decay_mult``, or a ``decay_mult`` in ``custom_keys``) given while the optimizer has no weight
  decay is a ``ValueError`` (MMCV: "base_wd should not be None"; MMEngine ignores a lone
  ``flat_decay_mult`` silently, here it is an error like the others).  The check is on the key being
  present, as MMCV's, except that a ``None`` value means "absent" here (a Hydra config cannot always
  delete a key).
* ``bypass_duplicate``: a parameter met a second time (tied weights, or one module instance under
  two parents) is skipped with a warning; the first name in walk order keeps its settings.
  Without it MMCV puts the parameter in two groups and torch's optimizer refuses them with a
  ``ValueError``; here ``paramwise_groups`` raises that ``ValueError`` itself, naming both names.

Deliberate differences from MMCV, each one turning a silent or cryptic failure into a working or
explained result:

* the duplicate check comes before the frozen-parameter shortcut (MMEngine's order), so
  ``bypass_duplicate`` also drops a second sighting of a frozen shared parameter, which MMCV would
  add twice and torch would then refuse;
* a model is unwrapped to ``model.module`` only if it is an ``nn.DataParallel`` /
  ``DistributedDataParallel``; MMCV unwraps anything with a ``module`` attribute, which silently
  drops every other parameter of a model that has a child named ``module``;
* ``dcn_offset_lr_mult`` is refused: it only acts on ``mmcv.ops`` deformable convolutions, which
  hyrun's models cannot contain (MMCV too ignores it without ``mmcv.ops``);
* unknown keys and bad values are refused up front (MMCV ignores unknown keys, so a typo such as
  ``norm_decay_mul`` would silently train with full decay).
"""
from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.instancenorm import _InstanceNorm

from hyrun.models.wrappers import unwrap_model

__all__ = ["DefaultOptimizerConstructor", "VALID_KEYS", "is_depthwise_conv", "is_norm", "paramwise_groups"]

_DECAY_KEYS = ("bias_decay_mult", "norm_decay_mult", "dwconv_decay_mult", "flat_decay_mult")
_MULT_KEYS = ("bias_lr_mult", *_DECAY_KEYS)
VALID_KEYS: tuple[str, ...] = (*_MULT_KEYS, "custom_keys", "bypass_duplicate")
"""The keys a ``paramwise_cfg`` may hold."""
_CUSTOM_FIELDS = ("lr_mult", "decay_mult")
_WHY_NOT = {"dcn_offset_lr_mult": "it only acts on mmcv.ops deformable convolutions, which hyrun models do not have"}

# MMCV's norm test: isinstance(module, (_BatchNorm, _InstanceNorm, GroupNorm, LayerNorm)).
_NORM_TYPES = (_BatchNorm, _InstanceNorm, nn.GroupNorm, nn.LayerNorm)
# Hydra's instantiate keys: dropped when passing the rest of the optimizer node as keyword arguments.
_HYDRA_DROPPED = ("_target_", "_convert_", "_recursive_")
_HYDRA_REFUSED = ("_args_", "_partial_")


def is_norm(module: nn.Module) -> bool:
    """Whether MMCV treats ``module`` as a norm layer (``norm_decay_mult``, no ``bias_lr_mult``)."""
    return isinstance(module, _NORM_TYPES)


def is_depthwise_conv(module: nn.Module) -> bool:
    """MMCV's depthwise-conv test, quirks included: any ``Conv2d`` whose ``groups`` equals ``in_channels``.

    Conv1d/Conv3d never count; a ``Conv2d`` with a single input channel always does.
    """
    return isinstance(module, nn.Conv2d) and module.in_channels == module.groups


@dataclass(frozen=True)
class _Rules:
    """A validated ``paramwise_cfg``; ``None`` marks an option that is absent."""

    bias_lr_mult: float | None
    bias_decay_mult: float | None
    norm_decay_mult: float | None
    dwconv_decay_mult: float | None
    flat_decay_mult: float | None
    custom: tuple[tuple[str, float | None, float | None], ...]  # (key, lr_mult, decay_mult), match order
    bypass_duplicate: bool


def _plain(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """A plain dict of a config node (OmegaConf nodes resolved), so values are Python objects."""
    if isinstance(cfg, DictConfig):
        return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    if not isinstance(cfg, Mapping):
        raise TypeError(f"expected a mapping, got {type(cfg).__name__}")
    return {k: (_plain(v) if isinstance(v, Mapping) else v) for k, v in cfg.items()}


def _multiplier(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise ValueError(f"paramwise_cfg.{where} must be a finite number >= 0, got {value!r}")
    return value  # kept as given (int or float): base * mult is then the very number MMCV computes


def _rules(paramwise_cfg: Mapping[str, Any], base_wd: float | None) -> _Rules:
    """Validate ``paramwise_cfg`` against the optimizer's weight decay, as MMCV does at construction."""
    unknown = [k for k in paramwise_cfg if k not in VALID_KEYS]
    if unknown:
        key = unknown[0]
        why = f" ({_WHY_NOT[key]})" if key in _WHY_NOT else ""
        raise ValueError(f"paramwise_cfg has an unknown key {key!r}{why}; valid keys: {', '.join(VALID_KEYS)}")
    mults = {k: _multiplier(paramwise_cfg.get(k), k) for k in _MULT_KEYS}

    custom_cfg = paramwise_cfg.get("custom_keys")
    custom_cfg = {} if custom_cfg is None else custom_cfg
    if not isinstance(custom_cfg, Mapping):
        raise ValueError(f"paramwise_cfg.custom_keys must be a mapping, got {type(custom_cfg).__name__}")
    custom: dict[str, tuple[float | None, float | None]] = {}
    for key, fields in custom_cfg.items():
        if not isinstance(key, str):
            raise ValueError(f"paramwise_cfg.custom_keys keys must be strings, got {key!r}")
        if not isinstance(fields, Mapping):
            raise ValueError(f"paramwise_cfg.custom_keys[{key!r}] must be a mapping with "
                             f"{' and/or '.join(_CUSTOM_FIELDS)}, got {fields!r}")
        bad = [f for f in fields if f not in _CUSTOM_FIELDS]
        if bad:
            raise ValueError(f"paramwise_cfg.custom_keys[{key!r}] has an unknown field {bad[0]!r}; "
                             f"valid fields: {', '.join(_CUSTOM_FIELDS)}")
        custom[key] = (_multiplier(fields.get("lr_mult"), f"custom_keys[{key!r}].lr_mult"),
                       _multiplier(fields.get("decay_mult"), f"custom_keys[{key!r}].decay_mult"))

    bypass = paramwise_cfg.get("bypass_duplicate")
    if bypass is not None and not isinstance(bypass, bool):
        raise ValueError(f"paramwise_cfg.bypass_duplicate must be true or false, got {bypass!r}")

    if base_wd is None:
        given = [k for k in _DECAY_KEYS if mults[k] is not None]
        given += [f"custom_keys[{k!r}].decay_mult" for k, (_, d) in custom.items() if d is not None]
        if given:
            raise ValueError(f"paramwise_cfg sets {', '.join(given)} but the optimizer has no weight_decay "
                             "(MMCV: 'base_wd should not be None'); give the optimizer a weight_decay, 0 allowed")

    # MMCV's match order: longest key first, equal lengths alphabetically.
    order = sorted(sorted(custom), key=len, reverse=True)
    return _Rules(**mults, custom=tuple((k, *custom[k]) for k in order), bypass_duplicate=bool(bypass))


def _decay_mult(rules: _Rules, module: nn.Module, name: str, param: nn.Parameter) -> float | None:
    """The weight-decay multiplier of a trainable, non-custom parameter; ``None``: leave the group's decay unset."""
    flat = rules.flat_decay_mult if param.ndim == 1 else None
    if is_norm(module):  # MMCV's order: norm, then depthwise conv, then bias
        category = rules.norm_decay_mult
    elif is_depthwise_conv(module):
        category = rules.dwconv_decay_mult
    elif name == "bias":
        category = rules.bias_decay_mult
    else:
        return flat
    if category is not None:
        return category
    return flat if flat is not None else 1.0  # MMCV's default of 1 claims the parameter


def paramwise_groups(model: nn.Module, base_lr: float, base_wd: float | None,
                     paramwise_cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The param groups MMCV's DefaultOptimizerConstructor makes for ``model``.

    ``base_lr`` / ``base_wd`` are the optimizer's ``lr`` and ``weight_decay`` (``None``: it has none).
    The rules, their precedence and where this differs from MMCV are in the module docstring.
    Raises ``ValueError`` for an invalid ``paramwise_cfg`` and, without ``bypass_duplicate``, for a
    parameter reached under two names (torch would refuse MMCV's groups for it anyway).
    """
    model = unwrap_model(model)
    paramwise_cfg = {} if paramwise_cfg is None else _plain(paramwise_cfg)
    rules = _rules(paramwise_cfg, base_wd)
    if not paramwise_cfg:
        return [{"params": list(model.parameters())}]
    if isinstance(base_lr, bool) or not isinstance(base_lr, numbers.Real):
        raise ValueError(f"paramwise_cfg needs the optimizer's lr as a number, got {base_lr!r}")

    groups: list[dict[str, Any]] = []
    first_name: dict[int, str] = {}  # id(param) -> the name it was first reached under

    def visit(module: nn.Module, prefix: str) -> None:
        for name, param in module.named_parameters(recurse=False):
            full_name = f"{prefix}.{name}" if prefix else name
            if id(param) in first_name:
                if not rules.bypass_duplicate:
                    raise ValueError(
                        f"parameter {full_name!r} is the same tensor as {first_name[id(param)]!r}: it would be "
                        "in two param groups, which torch refuses; set paramwise_cfg.bypass_duplicate=true "
                        "to keep only the first")
                warnings.warn(f"{full_name} is the same parameter as {first_name[id(param)]}; skipped "
                              "since bypass_duplicate=True", UserWarning)
                continue
            first_name[id(param)] = full_name
            group: dict[str, Any] = {"params": [param]}
            groups.append(group)
            if not param.requires_grad:
                continue  # MMCV: frozen parameters are added, untouched by any rule
            matched = f"{prefix}.{name}"  # MMCV matches against this, with a leading dot at the root
            custom = next((c for c in rules.custom if c[0] in matched), None)
            if custom is not None:
                _, lr_mult, decay_mult = custom
                group["lr"] = base_lr * (1.0 if lr_mult is None else lr_mult)
                if base_wd is not None:
                    group["weight_decay"] = base_wd * (1.0 if decay_mult is None else decay_mult)
                continue
            if name == "bias" and not is_norm(module):
                group["lr"] = base_lr * (1.0 if rules.bias_lr_mult is None else rules.bias_lr_mult)
            if base_wd is not None:
                mult = _decay_mult(rules, module, name, param)
                if mult is not None:
                    group["weight_decay"] = base_wd * mult
        for child_name, child in module.named_children():
            visit(child, f"{prefix}.{child_name}" if prefix else child_name)

    visit(model, "")
    return groups


class DefaultOptimizerConstructor:
    """Builds an optimizer from hyrun's optimizer node and a ``paramwise_cfg``, as MMCV's constructor.

    ``optimizer_cfg`` is ``{"_target_": "torch.optim.SGD", "lr": ..., "weight_decay": ..., ...}``;
    everything but Hydra's ``_target_`` / ``_convert_`` / ``_recursive_`` goes to the optimizer
    class as keyword arguments.  Both configs are validated here, at construction, as in MMCV, so a
    bad config fails before the model is built.
    """

    def __init__(self, optimizer_cfg: Mapping[str, Any], paramwise_cfg: Mapping[str, Any] | None = None) -> None:
        self.optimizer_cfg = _plain(optimizer_cfg)
        self.paramwise_cfg = {} if paramwise_cfg is None else _plain(paramwise_cfg)
        target = self.optimizer_cfg.get("_target_")
        if not isinstance(target, str) or not target:
            raise ValueError(f"optimizer config needs a _target_ naming the optimizer class, got {target!r}")
        refused = [k for k in _HYDRA_REFUSED if k in self.optimizer_cfg]
        if refused:
            raise ValueError(f"optimizer config: {refused[0]} is not supported here")
        self.base_lr = self.optimizer_cfg.get("lr")
        self.base_wd = self.optimizer_cfg.get("weight_decay")
        _rules(self.paramwise_cfg, self.base_wd)
        if self.paramwise_cfg and (isinstance(self.base_lr, bool) or not isinstance(self.base_lr, numbers.Real)):
            # MMCV would fail later with a TypeError on None * mult.
            raise ValueError(f"paramwise_cfg needs the optimizer's lr as a number, got {self.base_lr!r}")

    def __call__(self, model: nn.Module) -> torch.optim.Optimizer:
        """The optimizer over ``model``'s parameters (of ``model.module`` for a DataParallel/DDP wrapper)."""
        model = unwrap_model(model)
        optimizer_cls = get_class(self.optimizer_cfg["_target_"])
        kwargs = {k: v for k, v in self.optimizer_cfg.items() if k not in _HYDRA_DROPPED}
        if not self.paramwise_cfg:
            return optimizer_cls(model.parameters(), **kwargs)
        return optimizer_cls(paramwise_groups(model, self.base_lr, self.base_wd, self.paramwise_cfg), **kwargs)
