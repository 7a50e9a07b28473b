"""Value checks that live on the schema's own fields, so that a field renamed takes its check
along (a table of dotted keys would silently stop checking it).

    interval: int = checked(1, at_least(1))

``check_fields(cfg)`` walks the composed config and checks every node whose schema declares
checks (the plain nodes, the data options, the optimizers' generated configs)."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

CHECK = "hyrun.check"  # the key of a field's check in its dataclass metadata


@dataclass(frozen=True)
class Check:
    ok: Callable[[Any], bool]
    allowed: str  # what the error says is allowed
    numbers_only: bool = True  # skip values that are not numbers (None, interpolations' results)

    def applies(self, value: Any) -> bool:
        if value is None:
            return False
        return not self.numbers_only or (isinstance(value, (int, float)) and not isinstance(value, bool))


def at_least(low: float) -> Check:
    return Check(lambda v: v >= low, f"a number >= {low}")


def above(low: float) -> Check:
    return Check(lambda v: v > low, f"a number > {low}")


def within(low: float, high: float) -> Check:
    return Check(lambda v: low <= v < high, f"a number in [{low}, {high})")


def one_of(values: Iterable[str], allowed: str | None = None) -> Check:
    values = tuple(values)
    return Check(lambda v: v in values, allowed or " or ".join(values), numbers_only=False)


def checked(default: Any, check: Check) -> Any:
    """A dataclass field with ``default`` and ``check``."""
    return dataclasses.field(default=default, metadata={CHECK: check})


def field_checks(schema: type) -> dict[str, Check]:
    """``{field: check}`` of a dataclass schema (empty for anything else)."""
    if not dataclasses.is_dataclass(schema):
        return {}
    return {f.name: f.metadata[CHECK] for f in dataclasses.fields(schema) if CHECK in f.metadata}


def check_fields(cfg: DictConfig) -> Iterator[tuple[str, Any, str]]:
    """``(key, value, allowed)`` for every value that fails its field's check, in config order."""

    def walk(node: Any, prefix: str) -> Iterator[tuple[str, Any, str]]:
        if isinstance(node, DictConfig):
            checks = field_checks(OmegaConf.get_type(node))
            for key in node:
                full_key = f"{prefix}{key}"
                if OmegaConf.is_missing(node, key):
                    continue
                value = node[key]
                check = checks.get(str(key))
                if check is not None and check.applies(value) and not check.ok(value):
                    yield full_key, value, check.allowed
                yield from walk(value, f"{full_key}.")
        elif isinstance(node, ListConfig):
            for i, item in enumerate(node):
                yield from walk(item, f"{prefix[:-1]}[{i}].")

    yield from walk(cfg, "")
