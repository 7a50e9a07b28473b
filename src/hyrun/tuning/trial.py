"""A job that runs as a trial of an Optuna study: who it is, and what it hands back.

The sweeper (``hydra/sweeper=hyrun_optuna``) gives each job its trial through one environment
variable, ``HYRUN_OPTUNA_TRIAL``, set with Hydra's ``hydra.job.env_set`` (an override of the
job's Hydra config, so it reaches the job in whatever process or host the launcher runs it:
joblib's worker processes, submitit's jobs, torchrun's ranks; the task's own overrides stay
the search's). Its value is JSON: the study's name and storage (see ``hyrun.tuning.storage``),
the trial's number, the metric reported after each evaluation (None in a study of several
objectives, which Optuna cannot prune) and the pruner's config.

Back, the job returns its *outcome* (a plain dict, so that it pickles through any launcher):
``{"metrics": {name: value} of its last evaluation, "pruned": bool}``; ``trial_result`` turns
it, or the float or list another app returns, into what the sweeper tells the study.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

ENV = "HYRUN_OPTUNA_TRIAL"
COMPLETE, PRUNED = "COMPLETE", "PRUNED"


@dataclass(frozen=True)
class TrialIdentity:
    study_name: str
    storage: dict[str, str]
    number: int
    metric: str | None = None
    pruner: dict[str, Any] | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    def env_override(self) -> str:
        """The job override that sets ``HYRUN_OPTUNA_TRIAL`` in the job's environment."""
        text = self.to_json()
        if "'" in text or "\\" in text or "${" in text:
            # Hydra's quoted strings would need escapes, OmegaConf would read ${...}: not worth it
            raise ValueError(f"the study's name and storage must not hold ', \\ or ${{: {text}")
        return f"++hydra.job.env_set.{ENV}='{text}'"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> TrialIdentity | None:
        text = environ.get(ENV)
        return cls(**json.loads(text)) if text else None

    def mlflow_tags(self) -> dict[str, str]:
        return {"optuna.study_name": self.study_name, "optuna.trial_number": str(self.number)}

    def connect(self) -> Any:
        """This trial as an ``optuna.trial.Trial`` of its study, with the study's pruner (imports
        optuna)."""
        import optuna
        from hydra.utils import instantiate

        from hyrun.tuning.storage import open_storage

        storage = open_storage(self.storage)
        pruner = instantiate(self.pruner) if self.pruner else None
        study = optuna.load_study(study_name=self.study_name, storage=storage, pruner=pruner)
        study_id = storage.get_study_id_from_name(self.study_name)
        return optuna.trial.Trial(study, storage.get_trial_id_from_study_id_trial_number(study_id, self.number))


def current_trial() -> TrialIdentity | None:
    """The trial this job runs as, or None (not an Optuna trial)."""
    return TrialIdentity.from_env()


def add_mlflow_tags(cfg: Any, trial: TrialIdentity) -> None:
    """Tag the job's MLflow run (when the MLflow logger is on) with its study and trial number."""
    from omegaconf import open_dict

    mlflow = cfg.logger.get("mlflow") if cfg.get("logger") else None
    if mlflow is None:
        return
    with open_dict(mlflow):
        if mlflow.get("tags") is None:
            mlflow.tags = {}
        for key, value in trial.mlflow_tags().items():
            mlflow.tags[key] = value


def outcome_of(done: Any) -> dict[str, Any] | None:
    """What a trial's job returns, from its ``hyrun.finished.Finished`` (None on the ranks other
    than 0, which write none): its last evaluation's metrics, and whether it was pruned."""
    if done is None:
        return None
    metrics = done.metrics if done.metrics is not None else {done.metric: done.value} if done.metric else {}
    return {"metrics": dict(metrics), "pruned": bool(done.pruned)}


def trial_result(returned: Any, objectives: Sequence[str]) -> tuple[str, list[float] | None]:
    """(state, values) to tell the study, from what a job returned: an outcome (the values of
    ``objectives`` among its metrics), a number (one objective) or a list of numbers.
    ValueError when a value is missing or not a number (the trial has failed)."""
    if isinstance(returned, Mapping) and "metrics" in returned:
        if returned.get("pruned"):
            return PRUNED, None
        metrics = returned["metrics"]
        missing = [name for name in objectives if name not in metrics]
        if missing:
            have = ", ".join(metrics) or "none"
            raise ValueError(f"the job's last evaluation has no {', '.join(missing)} (it has {have})")
        values = [metrics[name] for name in objectives]
    elif isinstance(returned, Sequence) and not isinstance(returned, str):
        values = list(returned)
    else:
        values = [returned]
    if len(values) != len(objectives):
        raise ValueError(f"the job returned {len(values)} values for {len(objectives)} objectives: {returned!r}")
    try:
        return COMPLETE, [float(v) for v in values]
    except (TypeError, ValueError):
        raise ValueError(f"the job returned {returned!r}, not numbers") from None
