"""The typed schema of hyrun's config: one dataclass per node or group option.

Every node that builds an object carries its ``_target_`` so that Hydra's ``instantiate``
builds it and a user may swap in their own class. Fields are what the seed tutorial
(MMCV 1.x) calls them.
"""
from __future__ import annotations

import dataclasses
import multiprocessing
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Dict, List, Optional

from omegaconf import MISSING

from hyrun.config.checks import above, at_least, checked, one_of, within
from hyrun.direction import RULES


class RunnerType(Enum):
    epoch = "epoch"
    iter = "iter"


@dataclass
class RunnerConfig:
    type: RunnerType = RunnerType.epoch
    max_epochs: Optional[int] = checked(10, at_least(1))  # the epoch runner's length (training epochs)
    max_iters: Optional[int] = checked(None, at_least(1))  # the iter runner's length (training iterations)
    # Short epochs for debugging (the debug group), in batches: the loaders are cut, so every
    # count (epoch length, the epoch runner's max_iters, schedules, progress bar) agrees.
    limit_train_batches: Optional[int] = checked(None, at_least(1))  # a training epoch: its first N batches
    limit_val_batches: Optional[int] = checked(None, at_least(1))  # a val pass (workflow phase or evaluation): its first N
    # the first N training batches, replayed every epoch and evaluated on (can the model learn?)
    overfit_batches: Optional[int] = checked(None, at_least(1))


def resolve_by_epoch(given: Optional[bool], runner_by_epoch: bool, own_default: Optional[bool] = True) -> Optional[bool]:
    """What a ``by_epoch`` of a node (checkpoint_config, log_config, evaluation, a schedule)
    means: as given when set; unset, it counts iterations under the iter runner, and under the
    epoch runner takes the owner's own default (epochs for checkpoints, logs and evaluation;
    for a schedule its policy's, ``own_default=None``: MMCV's cyclic and one_cycle count
    iterations)."""
    if given is not None:
        return given
    return own_default if runner_by_epoch else False


@dataclass
class WorkflowConfig:
    # (phase, n) pairs as in MMCV: [[train, 1], [val, 1]]; phases are train and val
    phases: List[Any] = field(default_factory=lambda: [["train", 1]])


# -- data ---------------------------------------------------------------------------------
@dataclass
class LoaderConfig:
    """How the datasets of any data option are batched; the other fields build the datasets.
    Every data option has these fields, one of the user's too (``loader_defaults``)."""

    batch_size: int = checked(32, at_least(1))
    num_workers: int = checked(0, at_least(0))
    drop_last: bool = False
    pin_memory: bool = False
    # with workers: how they start; null: what works in this process (hyrun.data.loaders.worker_context)
    multiprocessing_context: Optional[str] = checked(None, one_of(multiprocessing.get_all_start_methods()))
    persistent_workers: Optional[bool] = None  # null: with workers, kept from one epoch to the next
    prefetch_factor: Optional[int] = checked(None, at_least(1))  # batches a worker loads ahead; null: torch's


def loader_defaults() -> dict[str, Any]:
    """The loader fields with their defaults: the ``data`` node before an option is merged in,
    so a data option of the user's (a YAML file with a ``_target_``) has them as the built-in ones do."""
    return {f.name: f.default for f in dataclasses.fields(LoaderConfig)}


@dataclass
class DigitsDataConfig(LoaderConfig):
    _target_: str = "hyrun.data.digits.digits"
    val_fraction: float = checked(0.2, within(0.0, 1.0))
    split_seed: int = 0


@dataclass
class SyntheticDataConfig(LoaderConfig):
    _target_: str = "hyrun.data.synthetic.synthetic"
    num_samples: int = checked(1024, at_least(1))
    in_features: int = checked(32, at_least(1))
    num_classes: int = checked(10, at_least(2))
    num_val_samples: int = checked(256, at_least(1))
    seed: int = 0


# -- models -------------------------------------------------------------------------------
@dataclass
class DigitsCNNConfig:
    _target_: str = "hyrun.models.digits_cnn.DigitsCNN"
    channels: int = 32
    num_classes: int = 10
    dropout: float = 0.1


@dataclass
class MLPConfig:
    _target_: str = "hyrun.models.mlp.MLP"
    # follow the data when it says (synthetic), else the digits images' 64 pixels
    in_features: int = "${oc.select:data.in_features,64}"  # type: ignore[assignment]
    hidden: List[int] = field(default_factory=lambda: [64])
    num_classes: int = "${oc.select:data.num_classes,10}"  # type: ignore[assignment]


# -- optimization -------------------------------------------------------------------------
@dataclass
class ParamwiseConfig:
    """MMCV's paramwise_cfg (DefaultOptimizerConstructor); unset fields do not apply."""

    bias_lr_mult: Optional[float] = None
    bias_decay_mult: Optional[float] = None
    norm_decay_mult: Optional[float] = None
    dwconv_decay_mult: Optional[float] = None
    flat_decay_mult: Optional[float] = None  # MMEngine's: 1-D parameters
    # a substring of parameter names -> {lr_mult, decay_mult} (each 1 when not given)
    custom_keys: Dict[str, Any] = field(default_factory=dict)
    bypass_duplicate: bool = False


class ClipType(Enum):
    norm = "norm"  # scale all gradients so that their total norm is at most max_norm
    value = "value"  # clamp each gradient element to [-clip_value, clip_value]


@dataclass
class GradClipConfig:
    type: ClipType = ClipType.norm
    max_norm: float = checked(35.0, above(0))
    norm_type: float = 2.0
    clip_value: float = checked(1.0, above(0))


@dataclass
class AmpConfig:
    dtype: str = "auto"  # auto (float16 on CUDA, bfloat16 on CPU) | float16 | bfloat16
    loss_scale: Any = "dynamic"  # float16 only: dynamic | a number (static) | GradScaler arguments


@dataclass
class OptimizerHookConfig:
    _target_: str = "hyrun.hooks.optimizer.OptimizerHook"
    grad_clip: Optional[GradClipConfig] = None
    cumulative_iters: int = checked(1, at_least(1))  # accumulate the gradients of this many iterations per step
    amp: Optional[AmpConfig] = None
    detect_anomalous_params: bool = False


@dataclass
class AutoScaleLrConfig:
    """MMEngine's auto_scale_lr: the lr times (batch_size x processes) / base_batch_size."""

    enable: bool = False
    base_batch_size: Optional[int] = None


# -- hooks --------------------------------------------------------------------------------
@dataclass
class CheckpointConfig:
    _target_: str = "hyrun.hooks.checkpoint.CheckpointHook"
    interval: int = checked(1, at_least(1))
    by_epoch: Optional[bool] = None  # None: as the runner counts (epochs, or iterations for type=iter)
    save_optimizer: bool = True
    max_keep_ckpts: int = -1
    save_last: bool = True
    out_dir: Optional[str] = None
    topk: int = checked(0, at_least(0))  # also keep the best topk evaluated weights: top_<metric>_epoch_N.pth
    topk_metric: str = "accuracy"
    rule: Optional[str] = checked(None, one_of(RULES))  # inferred from topk_metric when unset
    # write periodic checkpoints and latest.pth in the background: training waits only for a
    # host copy of the state (README, "Stopping and resuming")
    async_save: bool = False


@dataclass
class LogConfig:
    """Shared by every logger of the ``logger`` group."""

    interval: int = checked(10, at_least(1))
    by_epoch: Optional[bool] = None  # None: as the runner counts
    ignore_last: bool = True
    progress_bar: Optional[bool] = None  # None: on when the console is a terminal


@dataclass
class EvaluationConfig:
    _target_: str = "hyrun.hooks.evaluation.EvalHook"
    _recursive_: bool = False  # a metric's {_target_: ...} is built by the hook, not by Hydra
    # checked by building the hook (EvalHook), as its save_best and rule are
    interval: int = 1
    start: Optional[int] = None
    by_epoch: Optional[bool] = None  # None: as the runner counts
    # a name (accuracy, top{k}_accuracy, loss) or {_target_: pkg.fn_or_class, name: key, **kwargs},
    # or a list of those; Any (not List[Any]) so that a bare evaluation.metric=loss works too
    metric: Any = field(default_factory=lambda: ["accuracy"])
    save_best: Optional[str] = None  # a metric name, or "auto" for the first metric
    rule: Optional[str] = None  # greater | less; inferred from the metric name when unset
    greater_keys: Optional[List[str]] = None  # None: MMCV's defaults (acc, top, AR@, auc, ...)
    less_keys: Optional[List[str]] = None  # None: MMCV's default (loss)


@dataclass
class DDPConfig:
    """DistributedDataParallel's options, used when a launcher starts several processes
    (``torchrun``, ``hydra/launcher=torchrun``)."""

    find_unused_parameters: bool = False  # True for models whose step leaves some weights unused
    broadcast_buffers: bool = True  # rank 0's buffers (BatchNorm statistics) at every step, as MMCV
    # BatchNorm layers as SyncBatchNorm: statistics over every process's batch (GPUs), so that
    # N processes x B samples normalize as 1 x NB
    sync_batchnorm: bool = False


# -- the whole config -----------------------------------------------------------------------
@dataclass
class Config:
    model: Any = MISSING
    data: Any = field(default_factory=loader_defaults)  # then the option selected: data=NAME
    optimizer: Any = MISSING
    optimizer_config: OptimizerHookConfig = MISSING
    lr_config: Any = MISSING  # one policy's config (hyrun.config.schedules)
    momentum_config: Any = None  # one policy's config, or None (momentum_config=none)
    workflow: WorkflowConfig = MISSING
    hooks: Dict[str, Any] = field(default_factory=dict)
    logger: Dict[str, Any] = field(default_factory=dict)
    # MMEngine-style schedulers, each {type, param_name, begin, end, by_epoch, ...}
    param_scheduler: List[Any] = field(default_factory=list)
    auto_scale_lr: AutoScaleLrConfig = field(default_factory=AutoScaleLrConfig)

    runner: RunnerConfig = field(default_factory=RunnerConfig)
    checkpoint_config: Optional[CheckpointConfig] = field(default_factory=CheckpointConfig)
    log_config: LogConfig = field(default_factory=LogConfig)
    evaluation: Optional[EvaluationConfig] = field(default_factory=EvaluationConfig)
    custom_hooks: Dict[str, Any] = field(default_factory=dict)
    custom_imports: List[str] = field(default_factory=list)
    seed: Optional[int] = 0
    deterministic: bool = False
    resume: Optional[str] = None  # "auto" or a checkpoint path
    # a run dir that holds a run and no resume: refuse, or start a new run after it (hyrun.run_dir)
    existing_run: str = checked("refuse", one_of(("refuse", "append")))
    load_from: Optional[str] = None  # a checkpoint whose weights start the run
    work_dir: Optional[str] = None  # default: the run's output dir
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    print_config: bool = True  # the composed config as a tree at start, and in config_tree.txt
    # torch.compile the model: true, or {mode, backend, fullgraph, dynamic} (hyrun.models.compile)
    compile: Any = False
    ddp: DDPConfig = field(default_factory=DDPConfig)
