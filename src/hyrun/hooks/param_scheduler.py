"""MMEngine-style parameter schedulers as one hook: a list of entries, each driving one
param-group field (lr, momentum, weight_decay, ...) over a range of epochs or iterations.

How values are made. For each param the hook keeps the groups' bases (``initial_<param>``,
MMEngine's ``base_values``) and folds that param's schedulers in order of their first step
(in iterations; equal firsts keep list order): each scheduler that has started maps the value
so far to ``value(t, start=value so far, base)``, with ``t`` frozen at its last step once it
has ended. So a scheduler starts from what the earlier ones left, exactly as MMEngine's chained
updates do, and overlapping ranges compose by multiplying, as MMEngine's chain does when every
overlapping scheduler only multiplies. Overlaps where one of them does not (cosine or poly with
a nonzero ``eta_min``, cosine with a short ``T_max``, one_cycle) are rejected at ``before_run``:
MMEngine's result there depends on per-step interleaving no closed form reproduces.

When. The value used in an iteration is MMEngine's value for that step: set in
``before_train_iter`` for iteration-stepped schedulers (only while one of them is in range;
otherwise a single comparison) and in ``before_train_epoch`` for epoch-stepped ones, at
``Order.SCHEDULE`` like MMCV's lr hook, so before the optimizer steps. A hook with no
iteration-stepped schedulers is not called per iteration at all.

Plateau. ``reduce_on_plateau`` takes each val record with the monitored key as it is
published (``after_record``: an evaluation's metrics or the workflow's val phase); one record
is one MMEngine ``step(metrics)``, and it counts when ``begin <= record["epoch"] < end``
(epochs finished when it was made), so with the default ``end`` the evaluation after the last
epoch is ignored, as in MMEngine. The plateau's counters move at once; a reduction they call
for is applied at the next ``before_train_epoch``, after the epoch-stepped schedulers have
moved to the next epoch, since MMEngine reduces that value (its plateau steps in
``after_val_epoch``, after the other schedulers' epoch step). A reduction is kept as a
per-group multiplier, so the fold stays exact and resumable.

Checkpoints. ``before_save_checkpoint`` stores the bases, each plateau's counters, multipliers
and the reductions due, under ``checkpoint["hooks"]["ParamSchedulerHook"]`` (plain floats,
ints, strings, lists); with the runner's restored ``epoch``/``iter`` that is all a resumed run
needs to continue with identical values. MMEngine's ``last_step`` is not stored: progress
comes from the runner's counters.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hyrun.hooks.base import Hook
from hyrun.hooks.priority import Order
from hyrun.optim.param_groups import MOMENTUM, get_param, set_param
from hyrun.optim.param_schedulers import ParamScheduler, ReduceOnPlateauParamScheduler, build_param_scheduler
from hyrun.optim.plateau import reduced
from hyrun.records import VAL, value_keys

if TYPE_CHECKING:
    from hyrun.runner.base import Runner

STATE_KEY = "ParamSchedulerHook"
_log = logging.getLogger("hyrun")

Curve = Callable[[int, float, float], float]


@dataclass
class _Step:
    """One scheduler as the fold sees it: unit, resolved range, one curve per group."""

    iter_based: bool
    begin: int
    last: int  # end - 1
    curves: list[Curve]


@dataclass
class _Track:
    """Everything that drives one param: its schedulers in fold order, bases, how to write."""

    param: str
    steps: list[_Step]
    bases: list[float]
    lo: int = 0  # iterations where an iteration-stepped scheduler of this param is in range
    hi: int = 0


class ParamSchedulerHook(Hook):
    """``param_scheduler``: a list of entries like ``{"type": "linear", "param_name": "lr",
    "start_factor": 0.1, "begin": 0, "end": 500, "by_epoch": False}`` (types and fields:
    ``hyrun.optim.param_schedulers``), applied as MMEngine's ParamSchedulerHook does."""

    priority = Order.SCHEDULE

    def __init__(self, schedulers: Sequence[Mapping[str, Any] | ParamScheduler]) -> None:
        if isinstance(schedulers, Mapping):
            raise ValueError("param_scheduler must be a list of entries, each with a 'type'")
        self.schedulers = [s if isinstance(s, ParamScheduler) else build_param_scheduler(s) for s in schedulers]
        self._trackers = {i: s.tracker() for i, s in enumerate(self.schedulers)
                          if isinstance(s, ReduceOnPlateauParamScheduler)}
        self._scales: dict[int, list[float]] = {}
        self._resolved: list[ParamScheduler] = []
        self._tracks: list[_Track] = []
        self._floors: dict[int, list[float]] = {}  # plateau min_value per group
        self._iter_tracks: list[_Track] = []
        self._lo = self._hi = 0
        self._due: list[int] = []  # plateaus whose reduction applies at the next epoch's start
        self._val_keys: set[str] = set()  # what the val records held, for the warning at the end
        self._loaded: dict[str, Any] | None = None
        self._groups: list[dict[str, Any]] = []

    def stages(self) -> list[str]:
        stages = super().stages()
        if not any(s.iter_based for s in self.schedulers):
            stages.remove("before_train_iter")
        return stages

    # -- setting up ---------------------------------------------------------------------
    def before_run(self, runner: Runner) -> None:
        if runner.optimizer is None:
            raise ValueError("param_scheduler needs an optimizer")
        groups = self._groups = runner.optimizer.param_groups
        epoch_len = len(runner.data_loaders["train"])
        self._resolved = [s.resolve(max_epochs=runner.max_epochs, max_iters=runner.max_iters, epoch_len=epoch_len)
                          for s in self.schedulers]
        for i in self._trackers:
            self._scales.setdefault(i, [1.0] * len(groups))
            self._floors[i] = self._resolved[i].min_values(len(groups))  # type: ignore[attr-defined]
        by_param: dict[str, list[int]] = {}
        for i, s in enumerate(self._resolved):
            by_param.setdefault(s.param_name, []).append(i)
        self._tracks = [self._track(param, indices, groups, epoch_len) for param, indices in by_param.items()]
        self._iter_tracks = [t for t in self._tracks if t.hi > t.lo]
        self._lo = min((t.lo for t in self._iter_tracks), default=0)
        self._hi = max((t.hi for t in self._iter_tracks), default=0)
        if self._loaded is not None:
            self._restore(self._loaded)
        self._write_all(runner)

    def _track(self, param: str, indices: list[int], groups: list[dict], epoch_len: int) -> _Track:
        for g, group in enumerate(groups):
            if get_param(group, param) is None:
                keys = sorted(k for k in group if k != "params")
                raise ValueError(f"param_scheduler: param group {g} has no {param!r} (it has {keys}); "
                                 f"{MOMENTUM!r} also means betas[0] of Adam-style optimizers")
        bases = [float(group.setdefault(f"initial_{param}", get_param(group, param))) for group in groups]

        def first_iter(i: int) -> int:
            s = self._resolved[i]
            return s.begin if s.iter_based else s.begin * epoch_len

        order = sorted(indices, key=lambda i: (first_iter(i), i))
        self._check_overlaps(param, order, epoch_len)
        steps = []
        for i in order:
            s = self._resolved[i]
            if i in self._trackers:
                scales = self._scales[i]
                curves: list[Curve] = [lambda t, v, base, g=g: v * scales[g] for g in range(len(groups))]
            else:
                curves = [one.value for one in s.per_group(len(groups))]
            steps.append(_Step(s.iter_based, s.begin, s.end - 1, curves))
        track = _Track(param, steps, bases)
        spans = [(s.begin, s.end) for s in map(self._resolved.__getitem__, order) if s.iter_based]
        if spans:
            track.lo, track.hi = min(b for b, _ in spans), max(e for _, e in spans)
        return track

    def _check_overlaps(self, param: str, order: list[int], epoch_len: int) -> None:
        def span(s: ParamScheduler) -> tuple[int, int]:
            unit = 1 if s.iter_based else epoch_len
            return s.begin * unit, s.end * unit  # type: ignore[operator]

        for a_pos, a in enumerate(order):
            for b in order[a_pos + 1:]:
                sa, sb = self._resolved[a], self._resolved[b]
                (a0, a1), (b0, b1) = span(sa), span(sb)
                if a0 < b1 and b0 < a1 and not (sa.multiplicative and sb.multiplicative):
                    raise ValueError(
                        f"param_scheduler entries {a} ({sa.type_name}) and {b} ({sb.type_name}) both drive "
                        f"{param!r} over iterations [{max(a0, b0)}, {min(a1, b1)}); overlapping schedulers "
                        "are reproduced only when each just multiplies (not cosine/poly with eta_min != 0, "
                        "cosine with T_max < end - begin, or one_cycle): make their ranges disjoint")

    # -- when ----------------------------------------------------------------------------
    def before_train_epoch(self, runner: Runner) -> None:
        self._write_all(runner)
        # after the write: MMEngine's plateau reduces the value the epoch schedulers have just set
        if self._due:
            self._reduce(runner)

    def before_train_iter(self, runner: Runner) -> None:
        it = runner.iter
        if self._lo <= it < self._hi:
            epoch = runner.epoch
            for track in self._iter_tracks:
                if track.lo <= it < track.hi:
                    self._write(track, it, epoch)

    def after_run(self, runner: Runner) -> None:
        keys = self._val_keys
        for i in self._trackers:
            monitor = self.schedulers[i].monitor  # type: ignore[attr-defined]
            if keys and monitor not in keys:
                runner.logger.warning(f"param_scheduler entry {i} (reduce_on_plateau) monitors {monitor!r}, "
                                      f"but the val records have only {sorted(keys)}: it never acted")

    # -- values --------------------------------------------------------------------------
    def _write_all(self, runner: Runner) -> None:
        it, epoch = runner.iter, runner.epoch
        for track in self._tracks:
            self._write(track, it, epoch)

    def _write(self, track: _Track, it: int, epoch: int) -> None:
        param, value_at = track.param, self._value
        for g, group in enumerate(self._groups):
            set_param(group, param, value_at(track, g, it, epoch))

    @staticmethod
    def _value(track: _Track, g: int, it: int, epoch: int) -> float:
        base = value = track.bases[g]
        for step in track.steps:
            pos = it if step.iter_based else epoch
            if pos >= step.begin:
                value = step.curves[g]((pos if pos < step.last else step.last) - step.begin, value, base)
        return value

    def values(self, it: int, epoch: int) -> dict[str, list[float]]:
        """Each scheduled param's per-group values for global iteration ``it`` in epoch
        ``epoch`` (what the hook writes there), leaving the optimizer alone; after ``before_run``."""
        return {t.param: [self._value(t, g, it, epoch) for g in range(len(t.bases))] for t in self._tracks}

    # -- plateau -------------------------------------------------------------------------
    def after_record(self, runner: Runner, record: dict[str, Any]) -> None:
        if record["mode"] == VAL:
            self._val_keys.update(value_keys(record))
            self._observe(record, runner.epoch)

    def _observe(self, record: Mapping[str, Any], epoch_now: int) -> None:
        """One val record is one MMEngine ``step(metrics)`` of each plateau it concerns."""
        for i, tracker in self._trackers.items():
            s = self._resolved[i]
            assert isinstance(s, ReduceOnPlateauParamScheduler)
            metric = record.get(s.monitor)
            epoch = record.get("epoch", epoch_now)
            if metric is None or not s.begin <= epoch < s.end:  # type: ignore[operator]
                continue
            if tracker.update(float(metric)):
                self._due.append(i)

    def _reduce(self, runner: Runner) -> None:
        """Apply the reductions the plateaus called for, in the order they did."""
        due, self._due = self._due, []
        for i in due:
            s = self._resolved[i]
            assert isinstance(s, ReduceOnPlateauParamScheduler)
            track = next(t for t in self._tracks if t.param == s.param_name)
            scales = self._scales[i]
            for g, (group, floor) in enumerate(zip(self._groups, self._floors[i])):
                current = get_param(group, s.param_name)
                new = reduced(current, s.factor, floor, s.eps)
                if new is not None:
                    scales[g] *= new / current
            self._write(track, runner.iter, runner.epoch)  # the next step reads the reduced value

    # -- checkpoints ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Bases, plateau state and the reductions due, as plain containers."""
        return {
            "types": [s.type_name for s in self.schedulers],
            "bases": {t.param: list(t.bases) for t in self._tracks},
            "plateaus": {str(i): {**tracker.state_dict(), "scales": list(self._scales.get(i, []))}
                         for i, tracker in self._trackers.items()},
            "due": list(self._due),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Take a ``state_dict``; applied at ``before_run`` (or at once if the run has begun)."""
        self._loaded = dict(state)
        if self._tracks:
            self._restore(self._loaded)

    def _restore(self, state: dict[str, Any]) -> None:
        self._loaded = None
        for track in self._tracks:
            bases = state.get("bases", {}).get(track.param)
            if bases is not None and len(bases) == len(track.bases):
                track.bases[:] = [float(b) for b in bases]
                for group, base in zip(self._groups, track.bases):
                    group[f"initial_{track.param}"] = base
        if list(state.get("types", [])) != [s.type_name for s in self.schedulers]:
            _log.warning("param_scheduler differs from the checkpoint's (%s): kept its bases only",
                         state.get("types"))
            return
        for key, saved in state.get("plateaus", {}).items():
            i = int(key)
            self._trackers[i].load_state_dict(saved)
            if len(saved["scales"]) == len(self._scales.get(i, [])):
                self._scales[i][:] = [float(v) for v in saved["scales"]]
        self._due = [int(i) for i in state.get("due", [])]
        for record in state.get("unread_val_records", []):  # a checkpoint of an earlier hyrun
            self._observe(record, int(record.get("epoch", 0)))

    def before_save_checkpoint(self, runner: Runner, checkpoint: dict[str, Any]) -> None:
        checkpoint.setdefault("hooks", {})[STATE_KEY] = self.state_dict()

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("hooks", {}).get(STATE_KEY)
        if state is not None:
            self.load_state_dict(state)
            if self._tracks:
                self._write_all(runner)
