"""The study's side of a search: asking for trials, telling the study how their jobs ended.

A study is named (``study_name``, default the job name) and lives in a storage
(``hyrun.tuning.storage``); running the same command again opens the same study and goes
on: trials that ended (COMPLETE, PRUNED, FAIL) are kept and count toward ``n_trials``; trials
left RUNNING by a sweeper that is gone (killed, preempted) are run again, as the same trial
number in the same job dir (``<sweep dir>/<trial number>``), so with ``resume=auto`` and the
same ``hydra.sweep.dir`` their jobs continue from their checkpoints. A job's number is its
trial's number: no two trials of a study share a dir, and a sweep dir that holds jobs of
another study is refused.
"""
from __future__ import annotations

import logging
import math
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from hydra.utils import instantiate
from omegaconf import OmegaConf
from optuna.trial import TrialState

from hyrun.preemption import EXIT_PREEMPTED
from hyrun.tracking.state_file import pid_alive
from hyrun.trusted_targets import trusting
from hyrun.tuning.objectives import objectives
from hyrun.tuning.storage import describe, open_storage, storage_spec
from hyrun.tuning.trial import TrialIdentity, trial_result

from ._space import SearchSpace

log = logging.getLogger(__name__)
ENDED_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
OPTUNA_TARGETS = ("optuna.samplers", "optuna.pruners")  # the sweeper's own nodes: Hydra 1.4's whitelist
JOB_DIR, OWNER, FAIL_REASON = "job_dir", "sweeper", "fail_reason"  # the trials' user attributes


@dataclass
class TrialJob:
    number: int
    overrides: list[str]


class StudyDriver:
    def __init__(self, sweeper: Any, arguments: list[str]) -> None:
        config = sweeper.config
        self.launch_dir = Path(os.getcwd())  # hyrun runs with hydra.job.chdir=false
        self.sweep_dir = (self.launch_dir / str(config.hydra.sweep.dir)).resolve()
        self.space = SearchSpace.parse(sweeper.params, arguments)
        if not self.space.distributions:
            raise ValueError("the Optuna search space is empty: give hydra.sweeper.params or key=interval(...) "
                             "overrides")
        self.metrics, self.directions = objectives(config, sweeper.direction)
        self.sampler_config = OmegaConf.to_container(sweeper.sampler, resolve=True)
        self.pruner_config = OmegaConf.to_container(sweeper.pruner, resolve=True)
        with trusting(OPTUNA_TARGETS):
            sampler, pruner = instantiate(sweeper.sampler), instantiate(sweeper.pruner)
        self.n_trials = sweeper.n_trials
        if getattr(sampler, "func", None) is optuna.samplers.GridSampler:  # a partial: it takes the space
            grid = self.space.grid()
            sampler = sampler(grid)
            self.n_trials = min(self.n_trials, math.prod(len(values) for values in grid.values()))
        self.spec = storage_spec(sweeper.storage, self.launch_dir, str(config.hydra.sweep.dir))
        self.job_name = str(config.hydra.job.name)
        self.study_name = sweeper.study_name or self.job_name
        self._identity(0).env_override()  # a study name or path that cannot reach the jobs fails here
        self.storage = open_storage(self.spec)
        self.study = optuna.create_study(study_name=self.study_name, storage=self.storage, sampler=sampler,
                                         pruner=pruner, directions=self.directions, load_if_exists=True)
        given = [d.name.lower() for d in self.study.directions]
        if given != self.directions:
            raise ValueError(f"study {self.study_name!r} in {describe(self.spec)} has directions {given}, not "
                             f"{self.directions}: give this search another study_name")
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.stopping = False
        self.exit_code = 0
        self.reruns = self._interrupted_trials()
        ended = len(self.study.get_trials(deepcopy=False, states=ENDED_STATES))
        self.to_ask = max(0, self.n_trials - ended - len(self.reruns))
        self._check_sweep_dir()
        self.report: Any = None  # _report.Report, set by the sweeper
        log.info("Study %r in %s: %d trials ended, %d to run again, %d to ask for (n_trials=%d); %s",
                 self.study_name, describe(self.spec), ended, len(self.reruns), self.to_ask, self.n_trials,
                 ", ".join(f"{d} {m}" for m, d in zip(self.metrics, self.directions)))

    # -- which trials ---------------------------------------------------------------------------
    def _interrupted_trials(self) -> list[Any]:
        """RUNNING trials whose sweeper is gone: each is run again."""
        gone = []
        for trial in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            host, _, pid = str(trial.user_attrs.get(OWNER, "")).rpartition(":")
            if host == socket.gethostname() and pid_alive(pid):
                log.warning("Trial %d is running under another sweeper (pid %s): left to it", trial.number, pid)
                continue
            gone.append(trial)
        return gone

    def _check_sweep_dir(self) -> None:
        jobs = {int(p.name) for p in self.sweep_dir.glob("*") if p.name.isdigit() and (p / ".hydra").is_dir()}
        ours = {t.number for t in self.study.get_trials(deepcopy=False)
                if t.user_attrs.get(JOB_DIR) == str(self.sweep_dir / str(t.number))}
        others = sorted(jobs - ours)
        if others:
            raise ValueError(f"{self.sweep_dir} holds jobs {others[:5]} that are not trials of study "
                             f"{self.study_name!r}: give this search a hydra.sweep.dir of its own")

    def next_job(self) -> TrialJob | None:
        if self.stopping:
            return None
        if self.reruns:
            frozen = self.reruns.pop(0)
            log.info("Trial %d was interrupted: running it again (resume=auto continues its checkpoint)",
                     frozen.number)
            trial = self._trial(frozen.number)
            params = frozen.params
        elif self.to_ask > 0:
            self.to_ask -= 1
            trial = self.study.ask(fixed_distributions=self.space.distributions)
            params = trial.params
            for key, value in self.space.fixed.items():
                trial.set_user_attr(key, value)
        else:
            return None
        trial.set_user_attr(JOB_DIR, str(self.sweep_dir / str(trial.number)))
        trial.set_user_attr(OWNER, self.owner)
        return TrialJob(trial.number, self.space.overrides(params) + [self._identity(trial.number).env_override()])

    def _result(self, job_return: Any, error: BaseException | None) -> tuple[str, list[float] | None, str | None]:
        """(state, values, why it failed) of a job that ended, or whose launch raised ``error``."""
        if error is not None:  # the launcher (or a job in this process) raised: the trial failed, not the study
            return "FAIL", None, f"{type(error).__name__}: {error}"
        try:
            returned = job_return.return_value  # raises what the job raised
        except Exception as failure:  # noqa: BLE001
            return "FAIL", None, f"{type(failure).__name__}: {failure}"
        try:
            state, values = trial_result(returned, self.metrics)
        except ValueError as problem:
            return "FAIL", None, str(problem)
        return state, values, None

    def _trial(self, number: int) -> optuna.trial.Trial:
        study_id = self.storage.get_study_id_from_name(self.study_name)
        return optuna.trial.Trial(self.study, self.storage.get_trial_id_from_study_id_trial_number(study_id, number))

    def _identity(self, number: int) -> TrialIdentity:
        metric = self.metrics[0] if len(self.metrics) == 1 else None  # Optuna prunes one objective only
        return TrialIdentity(study_name=self.study_name, storage=self.spec, number=number, metric=metric,
                             pruner=self.pruner_config)

    # -- how it ended -----------------------------------------------------------------------------
    def ended(self, job: TrialJob, job_return: Any, error: BaseException | None) -> None:
        if isinstance(error, KeyboardInterrupt) or (isinstance(error, SystemExit) and error.code == EXIT_PREEMPTED):
            self.stopping, self.exit_code = True, EXIT_PREEMPTED
            log.warning("Trial %d's job was stopped (preempted); it stays RUNNING and the next run of this "
                        "search (with resume=auto) continues it", job.number)
            return
        state, values, reason = self._result(job_return, error)
        if reason is not None:
            self._trial(job.number).set_user_attr(FAIL_REASON, reason[:1000])
        try:
            self.study.tell(job.number, values=values, state=TrialState[state])
        except RuntimeError as stop:  # GridSampler asks the study to stop when its grid is done
            if "Study.stop" not in str(stop):
                raise
        if self.report is not None:
            self.report.trial_ended(job.number, state, values, reason)
