"""Continuing an earlier attempt's MLflow run (a resumed run, a resumed sweep's parent run;
README, "Stopping and resuming"), once that attempt's worker is gone:

* the run is set RUNNING again, and ends as any run does (FINISHED, KILLED, FAILED);
* params: only those the run lacks are logged (MLflow refuses to change a param's value);
  a value that changed (``runner.max_epochs`` raised) is the tag ``resumed.changed.<key>``:
  ``"<the run's value> -> <this attempt's>"``, and the param keeps the first value; ``resume``
  itself is not compared (it is how a resumed run differs from its first attempt);
* the tag ``resumed.at_iter`` lists the iterations the attempts resumed at (``"5,10"``);
* metrics: the largest step the store holds for each key (``get_metric_history``) is read,
  and this attempt's points at that step or before are not logged: they are the replay of
  the iterations since the checkpoint, which the earlier attempt logged already with the same
  values (timings aside), so each step has one point. What the earlier attempt's worker never
  got into the store (a lost machine) is logged from the replay;
* tags and artifacts are written again (the latest attempt's overrides and config).

mlflow is imported by the client passed in, never by this module.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from hyrun.tracking.params import clip_tag, safe_key
from hyrun.tracking.store import is_permanent

CHANGED_TAG = "resumed.changed."
RESUMED_AT_TAG = "resumed.at_iter"
NOT_COMPARED = ("resume",)


@dataclass
class ContinuedRun:
    run_id: str
    experiment_id: str
    run_name: str | None
    parent_id: str | None
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metric_keys: list[str] = field(default_factory=list)


def open_run(client, run_id: str) -> tuple[ContinuedRun | None, str | None]:
    """The run to continue, set RUNNING; or (None, why not) when the store has no such active
    run. Errors that retrying may fix are raised."""
    try:
        run = client.get_run(run_id)
    except Exception as error:
        if not is_permanent(error):
            raise
        return None, f"the store has no run {run_id}"
    if run.info.lifecycle_stage != "active":
        return None, f"run {run_id} was deleted"
    client.update_run(run_id, status="RUNNING")
    return ContinuedRun(run_id=run_id, experiment_id=run.info.experiment_id, run_name=run.info.run_name,
                        parent_id=run.data.tags.get("mlflow.parentRunId"), params=dict(run.data.params),
                        tags=dict(run.data.tags), metric_keys=list(run.data.metrics)), None


def split_params(params: list[tuple[str, str]], stored: dict[str, str]
                 ) -> tuple[list[tuple[str, str]], dict[str, tuple[str, str]]]:
    """(the params the run lacks, {key: (the run's value, this attempt's)} for those that changed)."""
    missing = [(k, v) for k, v in params if k not in stored]
    changed = {k: (stored[k], v) for k, v in params if k in stored and stored[k] != v and k not in NOT_COMPARED}
    return missing, changed


def resume_tags(changed: dict[str, tuple[str, str]], stored_tags: dict[str, str],
                at_iter: int | None) -> dict[str, str]:
    """The tags that say what this attempt changed and where it resumed."""
    tags = {safe_key(CHANGED_TAG + key): clip_tag(f"{old} -> {new}") for key, (old, new) in changed.items()}
    if at_iter is not None:
        earlier = stored_tags.get(RESUMED_AT_TAG)
        tags[RESUMED_AT_TAG] = clip_tag(f"{earlier},{at_iter}" if earlier else str(at_iter))
    return tags


def stored_steps(client, run_id: str, keys: list[str]) -> dict[str, int]:
    """The largest step the store holds for each metric key of the run."""
    steps = {}
    for key in keys:
        history = client.get_metric_history(run_id, key)
        if history:
            steps[key] = max(metric.step for metric in history)
    return steps


def in_store(steps: dict[str, int], key: str, step: int) -> bool:
    """Whether the point of ``key`` at ``step`` is one the store holds already."""
    return step <= steps.get(key, -1)

