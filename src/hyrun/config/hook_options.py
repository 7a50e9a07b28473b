"""Options of the multi-select ``hooks`` group for the built-in hooks: one schema each.

Fields are the hook's arguments with the same defaults, plus ``_target_`` and ``priority``
(the hook's default; build pops it and registers the hook with it).
``hooks=[ema,early_stopping] hooks.ema.momentum=0.001`` selects and sets them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from omegaconf import MISSING


@dataclass
class EMAConfig:
    _target_: str = "hyrun.hooks.ema.EMAHook"
    priority: Any = "AVERAGE_WEIGHTS"
    momentum: float = 0.0002
    interval: int = 1
    warm_up: int = 100


@dataclass
class EarlyStoppingConfig:
    _target_: str = "hyrun.hooks.early_stopping.EarlyStoppingHook"
    priority: Any = "NORMAL"
    monitor: str = "accuracy"
    rule: Optional[str] = None  # greater | less; inferred from the monitor's name when unset
    min_delta: float = 0.1
    strict: bool = False
    check_finite: bool = True
    patience: int = 5
    stopping_threshold: Optional[float] = None


@dataclass
class NanGuardConfig:
    _target_: str = "hyrun.hooks.nan_guard.NanGuardHook"
    priority: Any = "GUARD_STEP"
    action: str = "stop"  # stop | skip


@dataclass
class TimeLimitConfig:
    _target_: str = "hyrun.hooks.time_limit.TimeLimitHook"
    priority: Any = "VERY_LOW"
    max_seconds: float = MISSING  # required: the run's wall-clock budget


@dataclass
class ProfilerConfig:
    _target_: str = "hyrun.hooks.profiler.ProfilerHook"
    priority: Any = "LOWEST"
    wait: int = 1
    warmup: int = 1
    active: int = 3
    repeat: int = 1
    record_shapes: bool = False
    profile_memory: bool = False
    with_stack: bool = False


@dataclass
class SyncBuffersConfig:
    _target_: str = "hyrun.hooks.sync_buffers.SyncBuffersHook"
    priority: Any = "SYNC_BUFFERS"


@dataclass
class EmptyCacheConfig:
    _target_: str = "hyrun.hooks.empty_cache.EmptyCacheHook"
    priority: Any = "NORMAL"
    before_epoch: bool = False
    after_epoch: bool = True
    after_iter: bool = False


HOOK_OPTIONS: dict[str, type] = {
    "ema": EMAConfig,
    "early_stopping": EarlyStoppingConfig,
    "nan_guard": NanGuardConfig,
    "time_limit": TimeLimitConfig,
    "profiler": ProfilerConfig,
    "sync_buffers": SyncBuffersConfig,
    "empty_cache": EmptyCacheConfig,
}
