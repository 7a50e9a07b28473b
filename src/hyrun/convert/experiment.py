"""What a conversion produces: the group options an experiment selects, the values it sets,
and the report of what was carried with a change (notes) or not carried at all (skipped)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class Interpolation(str):
    """A value that is meant as an OmegaConf interpolation (``${runner.max_epochs}``); any other
    string holding ``${`` is escaped when written, so that it stays the text MMCV had."""


@dataclass(frozen=True)
class ReportItem:
    key: str  # where in the MMCV config: optimizer.paramwise_cfg.dcn_offset_lr_mult, custom_hooks[1], ...
    value: Any  # the MMCV value (shown in the report); None for a note about a carried value
    reason: str


@dataclass
class Experiment:
    """A hyrun experiment under construction: ``choices`` become the ``override /group:
    option`` lines of its defaults list, ``values`` the settings at the global package."""

    format: str = "MMCV 1.x"  # or "MMEngine" (hyrun.convert.mmengine.detect)
    choices: dict[str, str | list[str]] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    notes: list[ReportItem] = field(default_factory=list)
    skipped: list[ReportItem] = field(default_factory=list)

    def choose(self, group: str, option: str | list[str]) -> None:
        self.choices[group] = option

    def set(self, dotted_key: str, value: Any) -> None:
        """Set ``a.b.c`` in ``values``, creating the mappings on the way; tuples become lists."""
        *parents, last = dotted_key.split(".")
        node = self.values
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = plain(value)

    def get(self, dotted_key: str, default: Any = None) -> Any:
        node: Any = self.values
        for part in dotted_key.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def note(self, key: str, reason: str) -> None:
        self.notes.append(ReportItem(key, None, reason))

    def skip(self, key: str, value: Any, reason: str) -> None:
        self.skipped.append(ReportItem(key, value, reason))

    def counts_iterations(self) -> bool:
        """Whether the converted runner is hyrun's iter runner (MMCV's IterBasedRunner)."""
        return self.get("runner.type") == "iter"


def plain(value: Any) -> Any:
    """Tuples as lists all the way down (a YAML config has no tuples)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def mmcv_repr(value: Any, limit: int = 120) -> str:
    """A value as an MMCV config writes it (``dict(type='X', lr=0.1)``), cut at ``limit``."""
    text = _mmcv_text(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _mmcv_text(value: Any) -> str:
    if isinstance(value, dict):
        if all(isinstance(k, str) and k.isidentifier() for k in value):
            return "dict(" + ", ".join(f"{k}={_mmcv_text(v)}" for k, v in value.items()) + ")"
        return "{" + ", ".join(f"{k!r}: {_mmcv_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_mmcv_text(v) for v in value) + "]"
    if isinstance(value, tuple):
        return "(" + ", ".join(_mmcv_text(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return repr(value)
