"""The composed config as MLflow params: dotted keys, values within MLflow's limits.

* Nested mappings become dotted keys (``optimizer.lr``, ``lr_config.policy``); a list is one
  value (JSON), an empty mapping is the value ``{}`` (so the key still shows).
* Values are written as in an override: ``null``, ``true``/``false``, numbers as Python's
  ``repr`` (full precision), strings as they are.
* MLflow keeps a param value to 6000 characters. A longer value is never cut: the param says
  ``<too long: N characters; see the config.yaml artifact>`` and the whole value is in the
  ``config.yaml`` artifact (the whole composed config).
* A key is at most 250 characters of ``[A-Za-z0-9_./ :-]``; other characters become ``_`` and
  a longer key is shortened with a hash of the whole key (both rare in a hyrun config).

Plain Python only (no mlflow): the worker and the tests use it.
"""
from __future__ import annotations

import hashlib
import json
import math
import posixpath
import re
from collections.abc import Iterator, Mapping
from typing import Any

MAX_PARAM_VALUE = 6000  # mlflow.utils.validation.MAX_PARAM_VAL_LENGTH
MAX_KEY = 250  # MAX_ENTITY_KEY_LENGTH
MAX_TAG_VALUE = 8000  # MAX_TAG_VAL_LENGTH
PARAMS_PER_CALL = 100  # MAX_PARAMS_TAGS_PER_BATCH
METRICS_PER_CALL = 1000  # MAX_METRICS_PER_BATCH
TOO_LONG = "<too long: {n} characters; see the config.yaml artifact>"

_BAD_KEY_CHARS = re.compile(r"[^\w./ :-]", re.ASCII)


def format_value(value: Any) -> str:
    """A config value as text, spelled as in an override."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, (int, str)):
        return str(value)
    return json.dumps(value, separators=(",", ":"), default=str)


def safe_key(key: str) -> str:
    """``key`` as MLflow accepts it for a param, metric or tag."""
    key = _BAD_KEY_CHARS.sub("_", str(key))
    if key != posixpath.normpath(key) or key in ("", "."):  # MLflow refuses keys like "a//b", "a/"
        key = "_".join(filter(None, key.replace("//", "/").strip("/").split("/"))) or "_"
    if len(key) > MAX_KEY:
        digest = hashlib.sha1(key.encode()).hexdigest()[:10]
        key = key[: MAX_KEY - 11] + "~" + digest
    return key


def iter_leaves(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, Mapping):
        if not node and prefix:
            yield prefix, {}
        for key, value in node.items():
            yield from iter_leaves(value, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, node


def flatten_params(config: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """(params by dotted key, the keys whose value was too long to log as a param)."""
    params: dict[str, str] = {}
    too_long: list[str] = []
    for key, value in iter_leaves(config):
        text = format_value(value)
        key = safe_key(key)
        if len(text) > MAX_PARAM_VALUE:
            too_long.append(key)
            text = TOO_LONG.format(n=len(text))
        params[key] = text
    return params, too_long


def clip_tag(value: Any) -> str:
    """A tag value within MLflow's 8000 characters; a longer one says it was cut."""
    text = value if isinstance(value, str) else format_value(value)
    if len(text) <= MAX_TAG_VALUE:
        return text
    marker = f"... <cut: {len(text)} characters>"
    return text[: MAX_TAG_VALUE - len(marker)] + marker


def chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
