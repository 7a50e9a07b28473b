"""The TensorBoard logger: event files in ``<work_dir>/tensorboard/`` (``logger=[tensorboard]``).

What it writes, one run (session) per log dir:
  * scalars ``<mode>/<key>`` for every numeric value of a record, at step = the record's
    ``iter`` (finished training iterations): ``train/loss``, ``train/lr``, ``train/momentum``,
    ``train/grad_norm`` (when clipping), ``train/time``, ``train/data_time``; ``val/loss`` (+
    ``val/time``, ``val/data_time``) from a workflow's val phase; ``val/<metric>`` and
    ``val/best_<metric>`` from evaluation. ``mode``/``epoch``/``iter`` are the step, not
    values; strings (``best_checkpoint``) and bools are left out. NaN and inf are logged as
    they are (TensorBoard stores and draws them), so that a diverging loss shows.
    TensorBoard stores scalars as float32.
  * text ``config``: the composed config as YAML (a fenced code block), and text
    ``overrides``: the job's command-line overrides, when Hydra ran the job.
  * hparams (the HPARAMS tab): at the start of the run a ``SessionStartInfo`` with the job's
    hyperparameters (each config group's chosen option under the group's name, the overrides
    as one string, every scalar leaf of the composed config by its dotted key; lists as
    JSON text; the model summary, ``model_summary.parameters`` ...), at the end a ``SessionEndInfo`` (success; none when a signal stopped the run,
    which resume continues). No experiment summary is written: TensorBoard then builds the
    experiment from all sessions under its ``--logdir`` (the union of their hparams, so a
    sweep over ``optimizer=sgd,adam`` shows both options' fields, where an experiment
    summary per job would have TensorBoard pick one job's arbitrarily), and its metric
    columns are the sessions' scalar tags, each shown at its last value: for ``val/<metric>``
    the final evaluation's.

A resumed run (``runner.resumed``) starts its event file with a ``SessionLog.START`` at step
``iter + 1`` (``SummaryWriter``'s ``purge_step``): TensorBoard then drops what an earlier
attempt wrote at that step and later, the stretch this run repeats, so each step has one
point.

Writer: tensorboard's own ``EventFileWriter`` (the one ``torch.utils.tensorboard`` wraps),
one event per record with all its values, where ``SummaryWriter.add_scalar`` makes one
event per value. Measured here (2 cores, torch already imported, 5 interleaved runs):
importing ``torch.utils.tensorboard`` 0.16-0.25 s, the tensorboard modules used here
0.16-0.20 s (no real difference: both load ``tensorboard.summary``), but a train record of
6 values costs ~85 us in ``log`` against ~450 us for ``add_scalar`` x6 (much of either is
the pure-Python CRC of tensorboard's record writer, on its writer thread). Events are
queued (up to 100) and written by that thread; nothing is flushed per record. tensorboard
is imported in ``before_run``, so only a run with this logger pays for it (the module
itself is imported only when the config selects it). A run that raises never reaches
``after_run``: the writer is then closed at interpreter exit (``weakref.finalize``).
"""
from __future__ import annotations

import json
import numbers
import time
import weakref
from pathlib import Path
from typing import Any

from hyrun.hooks.logger.base import LoggerHook, run_summary
from hyrun.records import RECORD_HEADER


class TensorboardLoggerHook(LoggerHook):
    def __init__(self, log_dir: str | None = None) -> None:
        self.log_dir = log_dir  # None: <work_dir>/tensorboard; a relative path: from the current folder
        self._writer = None
        self._close = None  # closes the writer once: at after_run, or at exit if the run raised
        self._tags: dict[tuple[str, str], str] = {}

    # -- stages ----------------------------------------------------------------------------
    def before_run(self, runner) -> None:
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.proto.summary_pb2 import Summary
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        self._Event, self._Summary = Event, Summary
        log_dir = Path(self.log_dir) if self.log_dir is not None else Path(runner.work_dir) / "tensorboard"
        self._writer = writer = EventFileWriter(str(log_dir), max_queue_size=100, flush_secs=10)
        self._close = weakref.finalize(self, writer.close)
        step = runner.iter
        if runner.resumed:
            from tensorboard.compat.proto.event_pb2 import SessionLog

            writer.add_event(Event(wall_time=time.time(), step=step + 1, session_log=SessionLog(status=SessionLog.START)))
        config = runner.meta.get("config")
        if config is not None:
            self._add_text("config", "```yaml\n" + _to_yaml(config) + "```\n", step)
        hydra = runner.meta.get("hydra") or {}
        if hydra.get("overrides"):
            self._add_text("overrides", "```\n" + "\n".join(hydra["overrides"]) + "\n```\n", step)
        self._add_session_start(hparams({**(config or {}), **run_summary(runner.meta)}, hydra), step)

    def after_run(self, runner) -> None:
        if self._writer is None:
            return
        from hyrun.preemption import preempted

        if not preempted(runner):
            self._add_session_end(runner.iter)
        self._close()
        self._writer = None

    def log(self, runner, record: dict[str, Any]) -> None:
        Summary = self._Summary
        mode = record["mode"]
        values = []
        for key, value in record.items():
            if key in RECORD_HEADER:
                continue
            number = _as_float(value)
            if number is None:
                continue
            tag = self._tags.get((mode, key))
            if tag is None:
                tag = self._tags[(mode, key)] = f"{mode}/{key}"
            values.append(Summary.Value(tag=tag, simple_value=number))
        if values:
            self._writer.add_event(self._Event(wall_time=time.time(), step=int(record["iter"]),
                                               summary=Summary(value=values)))

    # -- writing -----------------------------------------------------------------------------
    def _add_summary(self, summary, step: int) -> None:
        self._writer.add_event(self._Event(wall_time=time.time(), step=step, summary=summary))

    def _add_text(self, tag: str, markdown: str, step: int) -> None:
        from tensorboard.plugins.text.summary_v2 import text_pb

        self._add_summary(text_pb(tag, markdown), step)

    def _add_session_start(self, values: dict[str, Any], step: int) -> None:
        from tensorboard.plugins.hparams.summary_v2 import hparams_pb

        self._add_summary(hparams_pb(values), step)

    def _add_session_end(self, step: int) -> None:
        from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

        end = plugin_data_pb2.SessionEndInfo(status=api_pb2.STATUS_SUCCESS, end_time_secs=time.time())
        summary = self._Summary()
        summary.value.add(tag=metadata.SESSION_END_INFO_TAG, tensor=metadata.NULL_TENSOR,
                          metadata=metadata.create_summary_metadata(
                              plugin_data_pb2.HParamsPluginData(session_end_info=end)))
        self._add_summary(summary, step)


def hparams(config: dict[str, Any], hydra: dict[str, Any]) -> dict[str, bool | int | float | str]:
    """The job's hyperparameters as TensorBoard takes them (bool, number or string): each
    config group's chosen option under the group's name (``optimizer: sgd``), the overrides as
    one string, then every scalar leaf of the composed config by its dotted key
    (``optimizer.lr``); lists as JSON text; None and keys starting with ``_`` (``_target_``)
    left out."""
    values: dict[str, Any] = {}
    for group, option in (hydra.get("choices") or {}).items():
        if option is not None:
            values[group] = str(option)
    if hydra.get("overrides"):
        values["overrides"] = " ".join(hydra["overrides"])

    def flatten(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if not str(key).startswith("_"):
                    flatten(value, f"{prefix}.{key}" if prefix else str(key))
        elif node is None or prefix in values:
            return
        elif isinstance(node, (bool, int, float, str)):
            values[prefix] = node
        elif isinstance(node, (list, tuple)):
            values[prefix] = json.dumps(node, default=str)
        else:
            values[prefix] = str(node)

    flatten(config, "")
    return values


def _as_float(value: Any) -> float | None:
    """A record value as a float, or None when it is not a number (strings, bools, None)."""
    if type(value) is float or type(value) is int:
        return value
    if isinstance(value, (bool, str, bytes)) or value is None:
        return None
    if isinstance(value, numbers.Real):  # numpy scalars
        return float(value)
    item = getattr(value, "item", None)  # a one-element tensor or array
    if not callable(item):
        return None
    try:
        value = item()
    except (ValueError, RuntimeError):  # more than one element
        return None
    return None if isinstance(value, bool) or not isinstance(value, numbers.Real) else float(value)


def _to_yaml(config: dict[str, Any]) -> str:
    from omegaconf import OmegaConf

    return OmegaConf.to_yaml(OmegaConf.create(config))

