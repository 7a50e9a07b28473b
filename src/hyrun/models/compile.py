"""``compile``: the model's forward through ``torch.compile``, for training and evaluation.

    compile=true                                   torch.compile's defaults (inductor)
    compile={mode: max-autotune, fullgraph: true}  its arguments, the rest as torch's

The model is compiled in place (``nn.Module.compile``): it stays the module the runner, the
hooks and the checkpoints see, so a state dict keeps its plain keys (no ``_orig_mod.``) and a
compiled run resumes in an eager one and back; EMA buffers, AMP's autocast around the forward
and DDP (which wraps the module whose forward is compiled, as PyTorch documents) work as
without it. The first iterations of each mode (train, eval) compile: ``CompileWarmupHook``
logs how long they took.

The backend is tried on a one-line function before anything is built, so a backend that
cannot run here (inductor without a C++ compiler, a name torch does not know) stops the run
with the reason instead of failing in the first iteration.
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hyrun.config.errors import ConfigError
from hyrun.hooks.base import Hook
from hyrun.hooks.priority import Order

MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


@dataclass(frozen=True)
class CompileSettings:
    """torch.compile's arguments that hyrun passes on (None: torch's default)."""

    mode: str | None = None
    backend: str = "inductor"
    fullgraph: bool = False
    dynamic: bool | None = None


def compile_settings(value: Any) -> CompileSettings | None:
    """``compile`` as given in the config: false/null (off), true, or a mapping of settings."""
    if value is None or value is False:
        return None
    if value is True:
        return CompileSettings()
    allowed = "true, false or a mapping of " + ", ".join(f.name for f in dataclasses.fields(CompileSettings))
    if not isinstance(value, Mapping):
        raise ConfigError("compile", value, allowed)
    unknown = set(value) - {f.name for f in dataclasses.fields(CompileSettings)}
    if unknown:
        raise ConfigError(f"compile.{sorted(unknown)[0]}", value[sorted(unknown)[0]], allowed)
    settings = CompileSettings(**value)
    if settings.mode is not None and settings.mode not in MODES:
        raise ConfigError("compile.mode", settings.mode, " | ".join(MODES))
    for key in ("fullgraph", "dynamic"):
        field = getattr(settings, key)
        if not (isinstance(field, bool) or (key == "dynamic" and field is None)):
            raise ConfigError(f"compile.{key}", field, "true or false" + (" or null" if key == "dynamic" else ""))
    return settings


def check_backend(settings: CompileSettings) -> None:
    """Compile and run ``x + 1`` with the backend: ConfigError with the reason if it cannot."""
    import torch
    import torch._dynamo

    known = torch._dynamo.list_backends(exclude_tags=())
    if settings.backend not in known:
        raise ConfigError("compile.backend", settings.backend, "one of torch's backends: " + ", ".join(known))
    try:
        probe = torch.compile(lambda x: x + 1, backend=settings.backend, fullgraph=True)
        probe(torch.zeros(2))
    except Exception as error:  # noqa: BLE001 - any failure of the backend is the answer
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError("compile.backend", settings.backend,
                          f"a backend that runs on this machine ({type(error).__name__}: {reason})") from None
    finally:
        torch._dynamo.reset()  # the probe's compiled code and guards are not kept


def compile_model(model: Any, settings: CompileSettings) -> None:
    """Compile ``model``'s calls in place with ``settings``, as ``nn.Module.compile`` does.

    ``Module.compile`` hands torch.compile the module's own ``_call_impl``, a frame of torch's
    that dynamo skips: a model made only of torch's layers (an ``nn.Sequential``) then runs
    uncompiled, silently. A frame of hyrun's own in front of it is traced, and with it the
    module's forward. The compiled call is dropped when the module is pickled or copied
    (``Module.__getstate__``), as ``Module.compile``'s is."""
    import torch

    def call(*args: Any, **kwargs: Any) -> Any:
        return model._call_impl(*args, **kwargs)

    model._compiled_call_impl = torch.compile(call, mode=settings.mode, backend=settings.backend,
                                              fullgraph=settings.fullgraph, dynamic=settings.dynamic)


class CompileWarmupHook(Hook):
    """Logs the first training and the first val iteration of a compiled model: the time they
    took is mostly compiling (a second graph for eval mode)."""

    priority = Order.MEASURE_TIME

    def __init__(self) -> None:
        self._started: dict[str, float] = {}
        self._logged: set[str] = set()

    def before_train_iter(self, runner) -> None:
        self._start("train")

    def after_train_iter(self, runner) -> None:
        self._log(runner, "train")

    def before_val_iter(self, runner) -> None:
        self._start("val")

    def after_val_iter(self, runner) -> None:
        self._log(runner, "val")

    def _start(self, mode: str) -> None:
        if mode not in self._logged:
            self._started[mode] = time.perf_counter()

    def _log(self, runner, mode: str) -> None:
        if mode in self._logged:
            return
        self._logged.add(mode)
        runner.logger.info("torch.compile warm-up: the first %s iteration took %.2f s (compiling); the "
                           "iterations after it run the compiled model", mode, time.perf_counter() - self._started[mode])
