"""``hydra/sweeper=hyrun_optuna`` (plugins/hydra-optuna-sweeper, hyrun.tuning): the search space
from Hydra's grammar, samplers and pruners with Optuna's own arguments, pruning fed by the jobs'
evaluations, a study that a second run continues, trials in parallel on joblib, a failed trial,
two objectives, and the study in MLflow; studies read back from their real storage with
``optuna.load_study`` (README, "Hyperparameter searches with Optuna")."""
from __future__ import annotations

import dataclasses
import inspect
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml

from tests.conftest import hyrun_env, read_metrics, run_hyrun
from tests.test_mlflow import IMPORTTIME, client, imported_modules, ok, runs_of

ROOT = Path(__file__).resolve().parents[1]
# the checkout's plugin, ahead of a copy that the test extra installed (pip may reuse a wheel it
# once built from the folder)
PLUGIN = ROOT / "plugins" / "hydra-optuna-sweeper"
sys.path.insert(0, str(PLUGIN))
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated")  # mlflow's own

SWEEPER = "hydra/sweeper=hyrun_optuna"
# synthetic data, 256 samples: 8 iterations an epoch; the lr over three decades, so that some
# trials learn far slower than others
TRIAL = ("data=synthetic", "model=mlp", "data.num_samples=256", "log_config.progress_bar=false",
         "optimizer.lr=tag(log,interval(0.0003,0.5))")


def sweeper_env() -> dict[str, str]:
    """The checkout's plugin and tests on the path, one thread a process."""
    return hyrun_env(PYTHONPATH=os.pathsep.join([str(PLUGIN), str(ROOT)]), OMP_NUM_THREADS="1")


def sweep(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run_hyrun("-m", SWEEPER, *args, cwd=cwd, env=sweeper_env())


def load(storage, name: str):
    import optuna

    return optuna.load_study(study_name=name, storage=storage)


def journal(path: Path):
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    return JournalStorage(JournalFileBackend(str(path)))


def val_lines(job_dir: Path) -> list[dict]:
    return [r for r in read_metrics(job_dir) if r["mode"] == "val"]


# -- configs: Optuna's own arguments --------------------------------------------------------------
def sampler_and_pruner_confs():
    from hydra_plugins.hyrun_optuna_sweeper.config import PRUNERS, SAMPLERS

    return [*SAMPLERS.values(), *PRUNERS.values()]


def test_sampler_and_pruner_fields_are_the_arguments_of_the_installed_optuna():
    from hydra.utils import get_class
    from omegaconf import MISSING

    confs = sampler_and_pruner_confs()
    assert len(confs) == 10  # tpe random cmaes grid nsgaii, none median percentile successive_halving hyperband
    for conf in confs:
        fields = {f.name: f.default for f in dataclasses.fields(conf) if not f.name.startswith("_")}
        target = get_class(conf._target_)
        parameters = inspect.signature(target).parameters
        for name, default in fields.items():
            assert name in parameters, f"{conf.__name__}.{name} is not an argument of {target.__name__}"
            expected = parameters[name].default
            assert default == (MISSING if expected is inspect.Parameter.empty else expected), (conf.__name__, name)


def test_every_sampler_and_pruner_builds_with_its_defaults_without_a_deprecation():
    """... and on Hydra 1.4 without its warning: the sweeper allows Optuna's samplers and pruners."""
    from hydra.utils import instantiate
    from hydra_plugins.hyrun_optuna_sweeper._study import OPTUNA_TARGETS
    from omegaconf import OmegaConf

    from hyrun.trusted_targets import trusting

    for conf in sampler_and_pruner_confs():
        node = OmegaConf.structured(conf)
        if conf.__name__ == "PercentilePrunerConf":  # Optuna gives it no default
            node.percentile = 25.0
        with warnings.catch_warnings(), trusting(OPTUNA_TARGETS):
            warnings.simplefilter("error")
            built = instantiate(node)
            if conf.__name__ == "GridSamplerConf":  # a partial that takes the search space
                built = built({"x": [1, 2]})
        assert type(built).__name__ == conf._target_.rsplit(".", 1)[-1]


def test_the_sweeper_sampler_and_pruner_are_hydra_options(tmp_path):
    proc = run_hyrun(SWEEPER, "hydra/sweeper/sampler=cmaes", "hydra/sweeper/pruner=hyperband",
                     "hydra.sweeper.pruner.reduction_factor=2", "--cfg", "hydra", "-p", "hydra.sweeper",
                     cwd=tmp_path, env=sweeper_env())
    assert proc.returncode == 0, proc.stderr
    node = yaml.safe_load(proc.stdout)
    assert node["sampler"]["_target_"] == "optuna.samplers.CmaEsSampler"
    assert node["pruner"] == {"_target_": "optuna.pruners.HyperbandPruner", "min_resource": 1,
                              "max_resource": "auto", "reduction_factor": 2, "bootstrap_count": 0}
    assert node["direction"] is None and node["storage"] is None and node["n_jobs"] == 1


# -- the search space ---------------------------------------------------------------------------
def test_the_search_space_reads_hydras_grammar_as_hydra_optuna_sweeper():
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    from hydra_plugins.hyrun_optuna_sweeper._space import SearchSpace

    params = {"a": "interval(0, 1)", "b": "tag(log, interval(1e-5, 1e-1))", "c": "int(interval(1, 9))",
              "d": "range(2, 10, 4)", "e": "range(0.5, 1.5, 0.5)", "f": "choice(sgd, adam)", "g": "3", "h": "1",
              "j": "tag(log, int(interval(1, 64)))"}
    space = SearchSpace.parse(params, ["h=choice(1,2)", "i=x,y", "g=4"])  # the command line wins
    assert space.distributions == {
        "a": FloatDistribution(0.0, 1.0), "b": FloatDistribution(1e-5, 1e-1, log=True), "c": IntDistribution(1, 9),
        "d": IntDistribution(2, 10, step=4), "e": FloatDistribution(0.5, 1.5, step=0.5),
        "f": CategoricalDistribution(["sgd", "adam"]), "h": CategoricalDistribution([1, 2]),
        "i": CategoricalDistribution(["x", "y"]), "j": IntDistribution(1, 64, log=True)}
    assert space.fixed == {"g": "4"}
    assert space.overrides({"a": 0.25, "f": "adam"}) == ["a=0.25", "f=adam", "g=4"]
    assert SearchSpace.parse({"d": "range(2, 10, 4)", "f": "choice(sgd, adam)"}, []).grid() == {
        "d": [2, 6, 10], "f": ["sgd", "adam"]}


def test_a_bad_search_space_or_sweeper_value_is_a_short_error(tmp_path):
    import hydra

    HYDRA_1_4 = hydra.__version__.startswith("1.4")  # noqa: N806 (1.4 names the full key)
    for args, message in [(["optimizer.lr=glob(*)"], "optimizer.lr=glob(*) is not valid in an Optuna search space"),
                          (["optimizer.lr=interval(0.1,1)", "hydra.sweeper.direction=up"],
                           "hydra.sweeper.direction='up' is not valid: expected maximize, minimize"),
                          (["optimizer.lr=interval(0.1,1)", "hydra/sweeper/pruner=percentile"],
                           f"Missing mandatory value: {'hydra.sweeper.' if HYDRA_1_4 else ''}pruner.percentile"),
                          (["optimizer.lr=interval(0.1,1)", "hydra/sweeper/sampler=grid"],
                           "choice(...) or range(...) with the grid sampler")]:
        proc = sweep(*args, "hydra.sweep.dir=sweep", cwd=tmp_path)
        assert proc.returncode != 0
        assert "Error in config: " in proc.stderr and message in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
    assert not list((tmp_path / "sweep").glob("[0-9]*"))  # no trial started


# -- the protocol between the sweeper and its jobs ----------------------------------------------
def test_what_a_job_returns_becomes_the_trials_state_and_values():
    from hyrun.tuning.trial import trial_result

    outcome = {"metrics": {"accuracy": 0.75, "loss": 0.5, "best_checkpoint": "x.pth"}, "pruned": False}
    assert trial_result(outcome, ["accuracy"]) == ("COMPLETE", [0.75])
    assert trial_result(outcome, ["accuracy", "loss"]) == ("COMPLETE", [0.75, 0.5])
    assert trial_result({**outcome, "pruned": True}, ["accuracy"]) == ("PRUNED", None)
    assert trial_result(0.5, ["accuracy"]) == ("COMPLETE", [0.5])  # another app's plain return values
    assert trial_result([1, 2], ["a", "b"]) == ("COMPLETE", [1.0, 2.0])
    for returned, objectives in [({"metrics": {}, "pruned": False}, ["accuracy"]), (None, ["accuracy"]),
                                 ([1.0], ["a", "b"])]:
        with pytest.raises(ValueError):
            trial_result(returned, objectives)


def test_directions_follow_the_metrics_rules():
    from omegaconf import OmegaConf

    from hyrun.config.errors import ConfigError
    from hyrun.tuning.objectives import objectives

    def config(metric, **evaluation):
        return OmegaConf.create({"evaluation": {"metric": metric, "rule": None, "greater_keys": None,
                                                "less_keys": None, **evaluation}})

    assert objectives(config(["accuracy", "loss"]), None) == (["accuracy"], ["maximize"])
    assert objectives(config("loss"), None) == (["loss"], ["minimize"])
    assert objectives(config("f1", rule="greater"), None) == (["f1"], ["maximize"])
    assert objectives(config(["accuracy", "loss"]), ["maximize", "minimize"]) == (
        ["accuracy", "loss"], ["maximize", "minimize"])
    for bad in ("up", ["maximize", "minimize"]):
        with pytest.raises(ConfigError):
            objectives(config("accuracy"), bad)
    declared = {"_target_": "tests.plugins.custom_parts.macro_f1", "name": "f1", "rule": "less"}
    assert objectives(config([declared]), None) == (["f1"], ["minimize"])  # the metric's own rule
    with pytest.raises(ConfigError, match="not in its name"):
        objectives(config("f1"), None)


def test_storages_are_absolute_so_every_job_opens_the_same(tmp_path):
    from hyrun.tuning.storage import storage_spec

    assert storage_spec(None, tmp_path, "multirun/a") == {"journal": str(tmp_path / "multirun/a/optuna_journal.log")}
    assert storage_spec("sqlite:///s.db", tmp_path, "x") == {"url": f"sqlite:///{tmp_path}/s.db"}
    assert storage_spec("postgresql://host/db", tmp_path, "x") == {"url": "postgresql://host/db"}
    assert storage_spec("shared/study.log", tmp_path, "x") == {"journal": str(tmp_path / "shared/study.log")}


# -- end to end ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_only_a_trial_imports_optuna(tmp_path):
    proc = ok(run_hyrun(*TRIAL[:-1], "runner.max_epochs=1", "hydra.run.dir=run", cwd=tmp_path, env=sweeper_env(),
                        program=IMPORTTIME))
    assert "optuna" not in imported_modules(proc.stderr)
    assert json.loads((tmp_path / "run" / "finished.json").read_text())["stop_reason"] is None


@pytest.mark.slow
def test_a_study_prunes_reports_every_evaluation_and_a_second_run_continues_it(tmp_path):
    """8 trials of 4 epochs with median pruning, MLflow on; then the same command with
    n_trials=10 runs trials 8 and 9 only."""
    study_args = (*TRIAL, "runner.max_epochs=4", "hydra/sweeper/pruner=median", "hydra.sweeper.pruner.n_startup_trials=2",
                  "hydra.sweeper.sampler.seed=0", "hydra.sweeper.storage=sqlite:///study.db",
                  "hydra.sweeper.study_name=tiny", "hydra.sweep.dir=sweep")
    proc = ok(sweep(*study_args, "hydra.sweeper.n_trials=8", "logger=[text,mlflow]", cwd=tmp_path))
    study = load(f"sqlite:///{tmp_path / 'study.db'}", "tiny")
    states = [t.state.name for t in study.trials]
    assert len(states) == 8 and set(states) == {"COMPLETE", "PRUNED"}, states
    for trial in study.trials:
        job_dir = tmp_path / "sweep" / str(trial.number)
        assert trial.user_attrs["job_dir"] == str(job_dir)
        vals = val_lines(job_dir)
        # every evaluation is the trial's intermediate value at its epoch
        assert trial.intermediate_values == {r["epoch"]: r["accuracy"] for r in vals}
        done = json.loads((job_dir / "finished.json").read_text())
        last_epoch = vals[-1]["epoch"]
        assert (job_dir / "checkpoints" / f"epoch_{last_epoch}.pth").is_file()
        if trial.state.name == "PRUNED":  # stopped after the evaluation that was pruned
            assert done["stop_reason"] == f"pruned: trial {trial.number} at epoch {last_epoch}"
            assert "Optuna pruned trial" in (job_dir / "hyrun.log").read_text()
        else:
            assert last_epoch == 4 and done["stop_reason"] is None and trial.value == vals[-1]["accuracy"]
    assert any(t.state.name == "PRUNED" and max(t.intermediate_values) < 4 for t in study.trials)
    results = yaml.safe_load((tmp_path / "sweep" / "optimization_results.yaml").read_text())
    assert results["best_value"] == study.best_value and results["best_params"] == study.best_params
    assert f"Best value: {study.best_value}" in proc.stdout + proc.stderr

    # MLflow: the study is the parent run, each trial a child with its number and state
    runs = runs_of(client(f"sqlite:///{tmp_path / 'mlflow.db'}"))
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r is not parent]
    assert parent.info.run_name == "hyrun study tiny"
    assert parent.data.params["optuna.pruner"].startswith("MedianPruner(n_startup_trials=2")
    assert parent.data.params["optuna.space.optimizer.lr"].startswith("FloatDistribution(")
    assert float(parent.data.tags["optuna.best_value"]) == study.best_value
    assert json.loads(parent.data.tags["optuna.best_params"]) == study.best_params
    assert parent.data.tags["optuna.trials.pruned"] == str(states.count("PRUNED"))
    assert parent.data.metrics["optuna/best_value"] == study.best_value
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parent.info.run_id}
    assert sorted((int(r.data.tags["optuna.trial_number"]), r.data.tags["optuna.trial_state"]) for r in children) == \
        list(enumerate(states))

    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "sweep").glob("[0-7]/metrics.jsonl")}
    ended = [(t.state, t.params, t.values) for t in study.trials]
    again = ok(sweep(*study_args, "hydra.sweeper.n_trials=10", cwd=tmp_path))
    assert "8 trials ended, 0 to run again, 2 to ask for (n_trials=10)" in again.stdout + again.stderr
    continued = load(f"sqlite:///{tmp_path / 'study.db'}", "tiny")
    assert len(continued.trials) == 10
    assert [(t.state, t.params, t.values) for t in continued.trials[:8]] == ended
    assert sorted(p.name for p in (tmp_path / "sweep").glob("[0-9]*")) == [str(n) for n in range(10)]
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "sweep").glob("[0-7]/metrics.jsonl")} == before


@pytest.mark.slow
def test_an_interrupted_trial_runs_again_and_resumes_from_its_checkpoint(tmp_path):
    """The sweep is preempted (SIGTERM) in trial 0's second epoch; the same command with
    resume=auto continues trial 0 where it stopped, then asks for the rest."""
    study_args = (*TRIAL, "runner.max_epochs=3", "hydra.sweeper.n_trials=2", "hydra.sweep.dir=sweep")
    first = sweep(*study_args, "+custom_hooks.preempt._target_=tests.plugins.custom_parts.SignalAt",
                  "+custom_hooks.preempt.iter=12", cwd=tmp_path)
    assert first.returncode == 75, first.stderr[-3000:]
    storage = journal(tmp_path / "sweep" / "optuna_journal.log")  # the default storage: in the sweep dir
    assert [t.state.name for t in load(storage, "hyrun").trials] == ["RUNNING"]
    again = ok(sweep(*study_args, "resume=auto", cwd=tmp_path))
    assert "0 trials ended, 1 to run again, 1 to ask for" in again.stdout + again.stderr
    assert "Resumed from" in again.stdout and "(iter 12)" in again.stdout
    study = load(journal(tmp_path / "sweep" / "optuna_journal.log"), "hyrun")
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    vals = val_lines(tmp_path / "sweep" / "0")
    assert [r["epoch"] for r in vals] == [1, 2, 3]  # each evaluation once
    assert study.trials[0].intermediate_values == {r["epoch"]: r["accuracy"] for r in vals}


@pytest.mark.slow
def test_joblib_runs_two_trials_at_a_time_and_starts_the_next_when_one_ends(tmp_path):
    """Trial 0 sleeps 20 s: with batches, trial 2 would wait for it; here trials 2 and 3 run
    (the next asked for as each ends) while it sleeps. A failed trial does not stop the study."""
    proc = ok(sweep(*TRIAL[:-1], "runner.max_epochs=1", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                    "hydra.sweeper.n_jobs=2", "hydra.sweeper.n_trials=4", "hydra/sweeper/sampler=random",
                    "optimizer.lr=choice(0.1,0.05,0.01)", "+custom_hooks.slow._target_=tests.plugins.optuna_parts.SlowTrial",
                    "+custom_hooks.slow.number=0", "+custom_hooks.slow.seconds=20", "hydra.sweep.dir=sweep", cwd=tmp_path))
    assert "JoblibLauncher runs 2 trials at a time" in proc.stdout + proc.stderr
    trials = load(journal(tmp_path / "sweep" / "optuna_journal.log"), "hyrun").trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 4
    slow = trials[0]
    assert all(t.datetime_start < slow.datetime_complete for t in trials[1:])
    assert all(t.datetime_complete < slow.datetime_complete for t in trials[1:3])
    for t in trials:  # never more than 2 at a time
        assert sum(1 for u in trials if u.datetime_start <= t.datetime_start < u.datetime_complete) <= 2


@pytest.mark.slow
def test_a_failed_job_is_a_failed_trial_and_the_study_goes_on(tmp_path):
    proc = ok(sweep(*TRIAL[:-1], "runner.max_epochs=1", "hydra/sweeper/sampler=grid", "optimizer.lr=choice(0.1,-1)",
                    "hydra.sweep.dir=sweep", cwd=tmp_path))
    study = load(journal(tmp_path / "sweep" / "optuna_journal.log"), "hyrun")
    by_lr = {t.params["optimizer.lr"]: t for t in study.trials}
    assert by_lr[-1].state.name == "FAIL" and by_lr[0.1].state.name == "COMPLETE"
    assert "optimizer.lr=-1.0 is not valid" in by_lr[-1].user_attrs["fail_reason"]
    assert f"Trial {by_lr[-1].number} FAIL: ConfigError: optimizer.lr=-1.0 is not valid" in proc.stdout + proc.stderr
    assert study.best_trial.number == by_lr[0.1].number


@pytest.mark.slow
def test_two_objectives_with_nsgaii(tmp_path):
    ok(sweep(*TRIAL, "runner.max_epochs=1", "hydra/sweeper/sampler=nsgaii", "hydra.sweeper.sampler.population_size=2",
             "evaluation.metric=[accuracy,loss]", "hydra.sweeper.direction=[maximize,minimize]",
             "hydra.sweeper.n_trials=4", "hydra.sweep.dir=sweep", cwd=tmp_path))
    study = load(journal(tmp_path / "sweep" / "optuna_journal.log"), "hyrun")
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    assert len(study.trials) == 4
    for trial in study.trials:
        (last,) = val_lines(tmp_path / "sweep" / str(trial.number))
        assert trial.state.name == "COMPLETE" and trial.values == [last["accuracy"], last["loss"]]
        assert trial.intermediate_values == {}  # Optuna prunes single objectives only
    results = yaml.safe_load((tmp_path / "sweep" / "optimization_results.yaml").read_text())
    assert sorted(s["trial"] for s in results["solutions"]) == sorted(t.number for t in study.best_trials)
