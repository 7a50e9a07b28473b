"""Profile a few training iterations with ``torch.profiler`` (MMCV's ProfilerHook, with a
schedule and trace files as ``tensorboard_trace_handler`` writes them).

Why a schedule: profiling every iteration is slow and the first ones are not typical
(allocator warm-up, cuDNN autotuning). ``torch.profiler.schedule(wait, warmup, active,
repeat)`` skips ``wait`` iterations, runs the profiler without recording for ``warmup``,
records ``active`` and then hands the trace over; ``repeat`` cycles (0: until the run ends).

Output, for each trace: a Chrome trace JSON (open in chrome://tracing, Perfetto or
TensorBoard's profiler plugin) at ``<work_dir>/profiler/trace_<step>.json``, ``<step>``
being the profiler's step count when the trace was ready, and the operators' summary table
(``key_averages().table(sort_by="self_cpu_time_total", row_limit=15)``) in the log.

When: the profiler starts in ``before_run`` and steps in ``after_train_iter``, at LOWEST
priority so a profiler step spans the whole iteration, optimizer step and other hooks
included. Once the schedule's cycles are done it is stopped at once (no per-iteration
cost after that); otherwise ``after_run`` stops it, which writes the trace of an unfinished
``active`` window too (a run shorter than the schedule). In a distributed run only rank 0
has the hook (``main_process_only``, MMCV's ``master_only``). A run that raises never reaches ``after_run``; the
profiler then stops when the process ends, without a trace.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hyrun.hooks.base import Hook
from hyrun.hooks.priority import Priority

if TYPE_CHECKING:
    from torch.profiler import profile

    from hyrun.runner.base import Runner


class ProfilerHook(Hook):
    """``wait``, ``warmup``, ``active``, ``repeat``: ``torch.profiler.schedule``'s.
    ``record_shapes``, ``profile_memory``, ``with_stack``: ``torch.profiler.profile``'s."""

    priority = Priority.LOWEST
    main_process_only = True  # MMCV's master_only: one rank's trace tells the story

    def __init__(self, wait: int = 1, warmup: int = 1, active: int = 3, repeat: int = 1,
                 record_shapes: bool = False, profile_memory: bool = False, with_stack: bool = False) -> None:
        if wait < 0 or warmup < 0 or active < 1 or repeat < 0:
            raise ValueError(f"ProfilerHook needs wait, warmup, repeat >= 0 and active >= 1; got wait={wait}, "
                             f"warmup={warmup}, active={active}, repeat={repeat}")
        self.wait, self.warmup, self.active, self.repeat = wait, warmup, active, repeat
        self.record_shapes, self.profile_memory, self.with_stack = record_shapes, profile_memory, with_stack
        self.traces: list[Path] = []  # the files written, in order
        self._profiler: profile | None = None

    def before_run(self, runner: Runner) -> None:
        import torch
        from torch.profiler import ProfilerActivity, profile, schedule

        self.traces = []
        folder = Path(runner.work_dir) / "profiler"
        folder.mkdir(parents=True, exist_ok=True)

        def on_trace_ready(prof: profile) -> None:
            path = folder / f"trace_{prof.step_num}.json"
            prof.export_chrome_trace(str(path))
            self.traces.append(path)
            table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15)
            runner.logger.info(f"Profiler trace {path} (up to step {prof.step_num}):\n{table}")

        activities = [ProfilerActivity.CPU]
        if torch.cuda.is_available():
            activities.append(ProfilerActivity.CUDA)
        self._profiler = profile(
            activities=activities,
            schedule=schedule(wait=self.wait, warmup=self.warmup, active=self.active, repeat=self.repeat),
            on_trace_ready=on_trace_ready, record_shapes=self.record_shapes,
            profile_memory=self.profile_memory, with_stack=self.with_stack)
        self._profiler.__enter__()

    def after_train_iter(self, runner: Runner) -> None:
        if self._profiler is None:
            return
        self._profiler.step()
        if self.repeat and len(self.traces) >= self.repeat:  # the schedule is done: stop now
            self._stop()

    def after_run(self, runner: Runner) -> None:
        if self._profiler is not None:
            self._stop()

    def _stop(self) -> None:
        profiler, self._profiler = self._profiler, None
        assert profiler is not None
        profiler.__exit__(None, None, None)
