"""What a search tells as it goes: a log line a trial, the study in MLflow (when the MLflow
logger is on, ``hyrun.tuning.mlflow_study``), and at the end the best trial(s), in the log and
in ``<sweep dir>/optimization_results.yaml`` (hydra-optuna-sweeper's file)."""
from __future__ import annotations

import json
import logging
from typing import Any

from omegaconf import OmegaConf
from optuna.trial import TrialState

from hyrun.tuning.mlflow_study import StudyRun
from hyrun.tuning.storage import describe

log = logging.getLogger(__name__)
RESULTS_FILE = "optimization_results.yaml"


def _call(config: dict[str, Any]) -> str:
    """``{_target_: optuna.samplers.TPESampler, seed: 0}`` -> ``TPESampler(seed=0)``."""
    args = ", ".join(f"{k}={v!r}" for k, v in config.items() if not k.startswith("_"))
    return f"{str(config.get('_target_', '?')).rsplit('.', 1)[-1]}({args})"


class Report:
    def __init__(self, driver: Any, n_jobs: int) -> None:
        self.driver = driver
        self.mlflow = StudyRun.of_sweep(driver.sweep_dir, driver.launch_dir)
        spec = describe(driver.spec)
        log.info("Sampler %s, pruner %s; to watch the study: optuna-dashboard %s", _call(driver.sampler_config),
                 _call(driver.pruner_config), spec)
        if self.mlflow is not None:
            self.mlflow.log_study({
                "optuna.study_name": driver.study_name, "optuna.storage": spec,
                "optuna.sampler": _call(driver.sampler_config), "optuna.pruner": _call(driver.pruner_config),
                "optuna.directions": ",".join(driver.directions), "optuna.objectives": ",".join(driver.metrics),
                "optuna.n_trials": driver.n_trials, "optuna.n_jobs": n_jobs,
                **{f"optuna.space.{key}": text for key, text in driver.space.describe().items()},
            }, run_name=f"{driver.job_name} study {driver.study_name}")

    def trial_ended(self, number: int, state: str, values: list[float] | None, reason: str | None) -> None:
        study = self.driver.study
        trials = study.get_trials(deepcopy=False)
        frozen = next((t for t in trials if t.number == number), None)
        if state == "COMPLETE":
            result = ", ".join(f"{m} {v:.4f}" for m, v in zip(self.driver.metrics, values or []))
        elif state == "PRUNED":
            step = frozen.last_step if frozen is not None else None
            result = f"at step {step}" if step is not None else "before its first evaluation"
        else:
            result = reason or ""
        log.info("Trial %d %s: %s%s", number, state, result, self._best_text())
        if self.mlflow is not None:
            self.mlflow.tag_trial(number, {"optuna.trial_state": state})
            counts = {s.name: sum(1 for t in trials if t.state == s) for s in
                      (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)}
            tags = {f"optuna.trials.{name.lower()}": n for name, n in counts.items()}
            best_value = None
            if len(self.driver.directions) == 1:
                best = self._best_trial()
                if best is not None:
                    best_value = best.value
                    tags.update({"optuna.best_value": best.value, "optuna.best_trial": best.number,
                                 "optuna.best_params": json.dumps(best.params, sort_keys=True),
                                 **{f"optuna.best_param.{k}": v for k, v in best.params.items()}})
            else:
                tags["optuna.best_trials"] = ",".join(str(t.number) for t in self._pareto())
            self.mlflow.log_progress(tags, best_value, sum(counts.values()))

    def _best_trial(self) -> Any:
        try:
            return self.driver.study.best_trial
        except ValueError:  # no trial has completed
            return None

    def _pareto(self) -> list[Any]:
        return self.driver.study.best_trials

    def _best_text(self) -> str:
        if len(self.driver.directions) > 1:
            return f" (Pareto front: {len(self._pareto())} trials)"
        best = self._best_trial()
        return f" (best: {best.value:.4f}, trial {best.number})" if best is not None else ""

    def finish(self) -> None:
        """The best trial(s) to the log and the results file; MLflow's queue emptied."""
        driver = self.driver
        if len(driver.directions) == 1:
            best = self._best_trial()
            if best is None:
                log.warning("No trial of study %r has completed", driver.study_name)
                results: dict[str, Any] = {"name": "optuna", "best_params": None, "best_value": None}
            else:
                results = {"name": "optuna", "best_params": best.params, "best_value": best.value,
                           "best_trial": best.number}
                log.info("Best parameters: %s", best.params)
                log.info("Best value: %s", best.value)
        else:
            pareto = self._pareto()
            results = {"name": "optuna", "solutions": [{"trial": t.number, "params": t.params, "values": t.values}
                                                       for t in pareto]}
            log.info("Pareto front: %d trials", len(pareto))
            for t in pareto:
                log.info("    Trial %d: values %s, params %s", t.number, t.values, t.params)
        driver.sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(OmegaConf.create(results), driver.sweep_dir / RESULTS_FILE)
        if self.mlflow is not None:
            self.mlflow.close()
