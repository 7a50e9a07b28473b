"""``hydra/sweeper=hyrun_optuna`` and its groups ``hydra/sweeper/sampler`` and
``hydra/sweeper/pruner``: typed fields with Optuna's own names and defaults (imported by
Hydra's plugin scan, so it imports nothing heavy; ``tests/test_optuna_sweeper.py`` checks the
fields against the installed Optuna's signatures).

Left out: arguments that take Python objects (callables, samplers, trials) and the ones Optuna
deprecates."""
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


# -- samplers -----------------------------------------------------------------------------------
@dataclass
class TPESamplerConf:
    _target_: str = "optuna.samplers.TPESampler"
    seed: Optional[int] = None
    n_startup_trials: int = 10
    n_ei_candidates: int = 24
    group: bool = False
    constant_liar: bool = True  # trials running at once are taken as bad until they end


@dataclass
class RandomSamplerConf:
    _target_: str = "optuna.samplers.RandomSampler"
    seed: Optional[int] = None


@dataclass
class CmaEsSamplerConf:
    _target_: str = "optuna.samplers.CmaEsSampler"
    seed: Optional[int] = None
    x0: Optional[Dict[str, Any]] = None
    n_startup_trials: int = 1
    warn_independent_sampling: bool = True
    consider_pruned_trials: bool = False
    popsize: Optional[int] = None
    use_separable_cma: bool = False
    with_margin: bool = False
    lr_adapt: bool = False


@dataclass
class GridSamplerConf:
    _target_: str = "optuna.samplers.GridSampler"
    _partial_: bool = True  # its search space: the choices of hydra.sweeper.params, filled in by the sweeper
    seed: Optional[int] = None


@dataclass
class NSGAIISamplerConf:
    _target_: str = "optuna.samplers.NSGAIISampler"
    seed: Optional[int] = None
    population_size: int = 50
    mutation_prob: Optional[float] = None
    crossover_prob: float = 0.9
    swapping_prob: float = 0.5


# -- pruners ------------------------------------------------------------------------------------
@dataclass
class NopPrunerConf:
    _target_: str = "optuna.pruners.NopPruner"


@dataclass
class MedianPrunerConf:
    _target_: str = "optuna.pruners.MedianPruner"
    n_startup_trials: int = 5  # trials that are never pruned, the first ones
    n_warmup_steps: int = 0  # steps (epochs or iterations) of each trial before it may be pruned
    interval_steps: int = 1
    n_min_trials: int = 1  # trials that must have reported a step before another is pruned at it


@dataclass
class PercentilePrunerConf(MedianPrunerConf):  # the median is the 50th percentile
    _target_: str = "optuna.pruners.PercentilePruner"
    percentile: float = MISSING  # 0-100: pruned when worse than this percentile of the trials at the step


@dataclass
class SuccessiveHalvingPrunerConf:
    _target_: str = "optuna.pruners.SuccessiveHalvingPruner"
    min_resource: Any = "auto"  # an int, or auto
    reduction_factor: int = 4
    min_early_stopping_rate: int = 0
    bootstrap_count: int = 0


@dataclass
class HyperbandPrunerConf:
    _target_: str = "optuna.pruners.HyperbandPruner"
    min_resource: int = 1
    max_resource: Any = "auto"  # an int (the steps of a whole run), or auto
    reduction_factor: int = 3
    bootstrap_count: int = 0


# -- the sweeper --------------------------------------------------------------------------------
@dataclass
class HyrunOptunaSweeperConf:
    _target_: str = "hydra_plugins.hyrun_optuna_sweeper.optuna_sweeper.HyrunOptunaSweeper"
    _recursive_: bool = False  # the sweeper builds its sampler and pruner, and reports their errors
    defaults: List[Any] = field(default_factory=lambda: [{"sampler": "tpe"}, {"pruner": "none"}])
    sampler: Any = MISSING
    pruner: Any = MISSING
    # maximize | minimize, or a list of them (one per objective: the first metrics of
    # evaluation.metric); None: one objective, the first metric, as its rule says
    direction: Any = None
    study_name: Optional[str] = None  # None: the job name (hyrun)
    # an RDB URL (sqlite:///study.db) or a journal file's path; None: <sweep dir>/optuna_journal.log
    storage: Optional[str] = None
    n_trials: int = 20  # trials of the study in all, those of earlier runs of the same study included
    n_jobs: int = 1  # trials at a time
    params: Optional[Dict[str, str]] = None  # key -> interval(...), choice(...), range(...) or a fixed value


SAMPLERS = {"tpe": TPESamplerConf, "random": RandomSamplerConf, "cmaes": CmaEsSamplerConf, "grid": GridSamplerConf,
            "nsgaii": NSGAIISamplerConf}
PRUNERS = {"none": NopPrunerConf, "median": MedianPrunerConf, "percentile": PercentilePrunerConf,
           "successive_halving": SuccessiveHalvingPrunerConf, "hyperband": HyperbandPrunerConf}


def _register() -> None:
    store = ConfigStore.instance()
    store.store(group="hydra/sweeper", name="hyrun_optuna", node=HyrunOptunaSweeperConf,
                provider="hyrun_optuna_sweeper")
    for group, options in (("hydra/sweeper/sampler", SAMPLERS), ("hydra/sweeper/pruner", PRUNERS)):
        for name, node in options.items():
            store.store(group=group, name=name, node=node, provider="hyrun_optuna_sweeper")


_register()
