"""Values a config reader cannot know without running code, kept as markers in the data.

An ``import`` binds names the reader never imports; a call of such a name is never made.
Both are values like any other to the reader (they may sit in a dict, be indexed, be
compared), but a setting that holds one cannot be carried: the converter reports it with
where the marker came from (README, "Read as data, never run").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Unknown:
    """A value only running the config would give: ``origin`` says which line made it."""

    origin: str  # "file.py:3: calling build_model()"

    def __repr__(self) -> str:
        return f"<unknown: {self.origin}>"


@dataclass(frozen=True)
class Imported:
    """A name bound by ``import`` / ``from ... import``: its module path, resolved, never
    imported (``from torch.optim import SGD`` -> ``torch.optim.SGD``). MMEngine's new-style
    configs write ``type=SGD`` with such names; the registry resolves them by that path."""

    path: str
    origin: str

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    def __repr__(self) -> str:
        return self.path


def first_unknown(value: Any) -> Unknown | None:
    """The first ``Unknown`` inside ``value`` (dicts, lists and tuples searched), if any."""
    if isinstance(value, Unknown):
        return value
    if isinstance(value, dict):
        items = list(value.keys()) + list(value.values())
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        return None
    for item in items:
        found = first_unknown(item)
        if found is not None:
            return found
    return None


def imported_as_names(value: Any) -> Any:
    """``value`` with every ``Imported`` replaced by its class name (``torch.optim.SGD`` ->
    ``'SGD'``), as MMEngine's registry sees ``type=SGD``: the converters read type names."""
    if isinstance(value, Imported):
        return value.name
    if isinstance(value, dict):
        return {k: imported_as_names(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(imported_as_names(v) for v in value)
    return value
