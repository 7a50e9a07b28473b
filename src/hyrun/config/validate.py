"""Checks the composed config before anything is built (README, "Choosing and overriding").

Hydra and the structured schema already reject unknown keys, wrong types and unknown
group options; this adds the checks the schema's fields carry (``hyrun.config.checks``), the
checks that span fields, the workflow's shape, and that every module named by
``custom_imports`` or a ``_target_`` imports.
"""
from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Iterator
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf, ValidationError

from hyrun.config.checks import check_fields
from hyrun.config.errors import ConfigError
from hyrun.config.schema import LoaderConfig, resolve_by_epoch
from hyrun.direction import RULES
from hyrun.optim.param_groups import BETAS, MOMENTUM
from hyrun.records import RECORD_HEADER
from hyrun.hooks.priority import Priority, get_priority

PHASES = ("train", "val")


def validate(cfg: DictConfig) -> None:
    """Raise ConfigError for the first problem found."""
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise ConfigError(missing[0], "???", "a value: it is required")
    _check_parts(cfg)
    for key, value, allowed in check_fields(cfg):
        raise ConfigError(key, value, allowed)
    _check_loader(cfg.data)
    _check_runner(cfg)
    _check_workflow(cfg.workflow.phases)
    _check_betas(cfg)
    _check_schedules(cfg)
    _check_amp(cfg)
    _check_topk(cfg)
    _check_evaluation(cfg)
    _check_hooks(cfg)
    import_custom_modules(cfg.custom_imports)
    for key, target in targets(cfg):
        _check_target(key, target)
    _check_optimizer(cfg)
    _check_compile(cfg)


def import_custom_modules(modules: list[str] | ListConfig) -> None:
    """Import each module (MMCV's custom_imports): registrations in them take effect."""
    for i, module in enumerate(modules):
        try:
            importlib.import_module(module)
        except Exception as error:
            raise ConfigError(f"custom_imports[{i}]", module,
                              f"an importable module ({type(error).__name__}: {error})") from error


def targets(cfg: DictConfig) -> Iterator[tuple[str, str]]:
    """Every ``_target_`` in the config, with the key of its node."""

    def walk(node: Any, key: str) -> Iterator[tuple[str, str]]:
        if isinstance(node, dict):
            for child, value in node.items():
                child_key = f"{key}.{child}" if key else str(child)
                if child == "_target_":
                    yield child_key, value
                else:
                    yield from walk(value, child_key)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                yield from walk(value, f"{key}[{i}]")

    yield from walk(OmegaConf.to_container(cfg, resolve=True), "")


def _check_target(key: str, target: str) -> None:
    module_name, _, attribute = target.rpartition(".")
    try:
        module = importlib.import_module(module_name) if module_name else None
    except Exception as error:
        raise ConfigError(key, target, f"an importable class or function "
                                       f"({type(error).__name__}: {error})") from error
    if module is None or not hasattr(module, attribute):
        raise ConfigError(key, target, f"an importable class or function (no {attribute!r} "
                                       f"in module {module_name!r})")


# the nodes Hydra's instantiate builds whole, and what their _target_ is expected to be
PARTS = {"model": "the dotted path of the model's class (an nn.Module), e.g. my_pkg.models.ResNet",
         "data": "the dotted path of a function or class returning {phase: dataset}, e.g. my_pkg.data.images"}


def _check_parts(cfg: DictConfig) -> None:
    """The model and the data are built from their ``_target_``: a node without one (a YAML
    option that forgot it) would be built as a plain mapping and fail far from the config."""
    for key, allowed in PARTS.items():
        node = cfg[key]
        if not isinstance(node, DictConfig):
            raise ConfigError(key, _plain(node), f"a mapping with a _target_: {allowed}")
        target = node.get("_target_")
        if not isinstance(target, str) or not target:
            raise ConfigError(f"{key}._target_", target, f"{allowed} ({key} has {', '.join(map(str, node)) or 'no keys'})")


def _check_loader(data: DictConfig) -> None:
    """The loader fields of any data option (a YAML option of the user's has no schema of its
    own): typed and checked as ``LoaderConfig`` says."""
    fields = {key: data[key] for key in loader_field_types() if key in data}
    try:
        typed = OmegaConf.merge(OmegaConf.structured(LoaderConfig), fields)
    except ValidationError as error:
        key = str(error.key)
        raise ConfigError(f"data.{key}", fields.get(key), _type_text(loader_field_types()[key])) from None
    for key, value, allowed in check_fields(typed):
        raise ConfigError(f"data.{key}", value, allowed)


def loader_field_types() -> dict[str, str]:
    return {f.name: str(f.type) for f in dataclasses.fields(LoaderConfig)}


def _type_text(annotation: str) -> str:
    """``int`` -> "an int", ``Optional[bool]`` -> "true or false or null" (what the schema's field takes)."""
    optional = annotation.startswith("Optional[")
    inner = annotation[len("Optional["):-1] if optional else annotation
    text = {"int": "an int", "bool": "true or false", "str": "a string"}.get(inner, f"a {inner}")
    return f"{text} or null" if optional else text


def _check_optimizer(cfg: DictConfig) -> None:
    """The arguments fit the optimizer class, and paramwise_cfg is MMCV's."""
    from hyrun.optim.builder import CONSTRUCTOR_KEY, PARAMWISE_KEY, set_fields, optimizer_arguments
    from hyrun.optim.paramwise import DefaultOptimizerConstructor

    try:
        arguments = optimizer_arguments(cfg.optimizer)
    except ValueError as error:
        raise ConfigError("optimizer", cfg.optimizer._target_, f"arguments the class takes: {error}") from None
    paramwise = set_fields(arguments.pop(PARAMWISE_KEY, None))
    if arguments.pop(CONSTRUCTOR_KEY, None) is None and paramwise:
        try:
            DefaultOptimizerConstructor(arguments, paramwise)
        except ValueError as error:
            raise ConfigError("optimizer.paramwise_cfg", paramwise, str(error)) from None


def _check_compile(cfg: DictConfig) -> None:
    """The settings' shape, then the backend tried on a one-line function (seconds, only when on)."""
    from hyrun.models.compile import check_backend, compile_settings

    settings = compile_settings(_plain(cfg.compile))
    if settings is not None:
        check_backend(settings)


def _check_runner(cfg: DictConfig) -> None:
    kind = cfg.runner.type.name
    length = "max_epochs" if kind == "epoch" else "max_iters"
    if cfg.runner[length] is None:
        raise ConfigError(f"runner.{length}", None, f"a number >= 1 for runner.type={kind}")
    if cfg.runner.overfit_batches is not None:
        for limit in ("limit_train_batches", "limit_val_batches"):
            if cfg.runner[limit] is not None:  # overfit sets both: two answers, which one?
                raise ConfigError(f"runner.{limit}", cfg.runner[limit],
                                  "null with runner.overfit_batches (it sets the train and val batches)")


def _check_workflow(phases: ListConfig) -> None:
    allowed = "a list of [phase, n] with phase in train|val and n >= 1, at least one train phase"
    pairs = []
    for i, pair in enumerate(phases):
        if not isinstance(pair, (ListConfig, list)) or len(pair) != 2:
            raise ConfigError(f"workflow.phases[{i}]", _plain(pair), allowed)
        phase, n = pair
        if phase not in PHASES or not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ConfigError(f"workflow.phases[{i}]", _plain(pair), allowed)
        pairs.append(phase)
    if "train" not in pairs:
        raise ConfigError("workflow.phases", _plain(phases), allowed)


def _check_betas(cfg: DictConfig) -> None:
    betas = OmegaConf.select(cfg, "optimizer.betas", default=None)
    if betas is not None:
        if len(betas) != 2:
            raise ConfigError("optimizer.betas", _plain(betas), "two numbers in [0, 1)")
        for i, beta in enumerate(betas):
            if not 0 <= beta < 1:
                raise ConfigError(f"optimizer.betas[{i}]", beta, "a number in [0, 1)")


def _check_topk(cfg: DictConfig) -> None:
    checkpoint = cfg.checkpoint_config
    if checkpoint is None or not checkpoint.topk:
        return
    from hyrun.metrics import metric_names, metric_rule, undeclared_rule

    evaluated = metric_names(cfg.evaluation.metric) if cfg.evaluation is not None else []
    if checkpoint.topk_metric not in evaluated:
        raise ConfigError("checkpoint_config.topk_metric", checkpoint.topk_metric,
                          "one of the evaluated metrics: " + (", ".join(map(str, evaluated)) or "none (evaluation=null)"))
    if checkpoint.rule is None:
        try:
            metric_rule(checkpoint.topk_metric, cfg.evaluation.metric)
        except ValueError:
            raise ConfigError("checkpoint_config.rule", None,
                              undeclared_rule(checkpoint.topk_metric, "checkpoint_config.rule")) from None


def _check_amp(cfg: DictConfig) -> None:
    amp = cfg.optimizer_config.amp
    if amp is None:
        return
    if amp.dtype not in ("auto", "float16", "bfloat16"):
        raise ConfigError("optimizer_config.amp.dtype", amp.dtype, "auto, float16 or bfloat16")
    scale = amp.loss_scale
    if not (scale == "dynamic" or isinstance(scale, DictConfig)
            or (isinstance(scale, (int, float)) and not isinstance(scale, bool) and scale > 0)):
        raise ConfigError("optimizer_config.amp.loss_scale", _plain(scale),
                          "dynamic, a number > 0 (a static scale) or GradScaler's arguments")


def _check_schedules(cfg: DictConfig) -> None:
    """Build each schedule's policy (pure, cheap): its own checks name what is wrong."""
    from hyrun.optim.lr_policies import build_lr_schedule
    from hyrun.optim.momentum_policies import build_momentum_schedule

    iter_runner = cfg.runner.type.name == "iter"
    for key, build in (("lr_config", build_lr_schedule), ("momentum_config", build_momentum_schedule)):
        node = cfg[key]
        if node is None:
            continue
        params = {k: v for k, v in OmegaConf.to_container(node, resolve=True).items() if k != "_target_"}
        if iter_runner and params.get("by_epoch"):
            raise ConfigError(f"{key}.by_epoch", True, "false with runner.type=iter (it counts iterations)")
        params["by_epoch"] = resolve_by_epoch(params.get("by_epoch"), not iter_runner, own_default=None)
        if params["by_epoch"] is None:
            del params["by_epoch"]  # the policy's own default
        try:
            build(params)
        except (ValueError, TypeError) as error:
            raise ConfigError(key, params.get("policy"), f"valid {key} settings: {error}") from None
    _check_param_schedulers(cfg)
    if cfg.momentum_config is not None and not {MOMENTUM, BETAS} & set(cfg.optimizer):
        raise ConfigError("momentum_config", cfg.momentum_config.policy,
                          f"momentum_config=none for an optimizer without momentum or betas "
                          f"({cfg.optimizer._target_})")


def _check_param_schedulers(cfg: DictConfig) -> None:
    from hyrun.optim.param_schedulers import build_param_scheduler

    lr_scheduled = cfg.lr_config.policy != "fixed" or cfg.lr_config.warmup is not None
    for i, entry in enumerate(cfg.param_scheduler):
        key = f"param_scheduler[{i}]"
        if not isinstance(entry, DictConfig):
            raise ConfigError(key, _plain(entry), "a mapping with type, param_name and the scheduler's fields")
        try:
            build_param_scheduler(OmegaConf.to_container(entry, resolve=True))
        except (ValueError, TypeError) as error:
            raise ConfigError(key, _plain(entry), f"a valid scheduler: {error}") from None
        taken = {"lr": lr_scheduled and "lr_config", "momentum": cfg.momentum_config is not None and "momentum_config"}
        if taken.get(entry.get("param_name")):
            raise ConfigError(f"{key}.param_name", entry.param_name,
                              f"a value {taken[entry.param_name]} does not schedule too "
                              f"(set {taken[entry.param_name]}={'fixed' if entry.param_name == 'lr' else 'none'})")


def _check_evaluation(cfg: DictConfig) -> None:
    evaluation = cfg.evaluation
    if evaluation is None:
        return
    from hyrun.metrics import NAME_KEY, RULE_KEY, TARGET_KEY, VALID, is_builtin, locate, metric_name

    spec = _plain(evaluation.metric)
    shape = "a metric name, a mapping {_target_: ..., name: ...}, or a list of those"
    if isinstance(spec, (str, dict)):
        entries, keys = [spec], ["evaluation.metric"]
    elif isinstance(spec, list) and spec:
        entries, keys = spec, [f"evaluation.metric[{i}]" for i in range(len(spec))]
    else:
        raise ConfigError("evaluation.metric", spec, shape)
    names: dict[str, str] = {}
    for key, entry in zip(keys, entries):
        if isinstance(entry, str):
            if not is_builtin(entry):
                raise ConfigError(key, entry, f"one of {VALID}")
        elif isinstance(entry, dict):
            target = entry.get(TARGET_KEY)
            if not isinstance(target, str) or not target:
                raise ConfigError(key, entry, f"{shape}: the mapping needs a {TARGET_KEY}")
            _check_target(f"{key}.{TARGET_KEY}", target)
            if not callable(locate(target)):
                raise ConfigError(f"{key}.{TARGET_KEY}", target,
                                  "a function fn(outputs, targets, **kwargs) -> float or a class whose "
                                  "instances are called as metric(outputs, targets)")
            if NAME_KEY in entry and (not isinstance(entry[NAME_KEY], str) or not entry[NAME_KEY]):
                raise ConfigError(f"{key}.{NAME_KEY}", entry[NAME_KEY], "a non-empty string (the record key)")
            if entry.get(RULE_KEY) is not None and entry[RULE_KEY] not in RULES:
                raise ConfigError(f"{key}.{RULE_KEY}", entry[RULE_KEY], "greater or less (which way it improves)")
        else:
            raise ConfigError(key, entry, shape)
        name = metric_name(entry)
        if name in names:
            raise ConfigError(key, entry, f"a metric named other than {name!r} (as {names[name]} is)")
        if name in RECORD_HEADER or name == "best_checkpoint" or name.startswith("best_"):
            raise ConfigError(key, entry, f"a name other than {name!r}: the val record uses it")
        names[name] = key
    # the hook's own checks, by building it: interval, start, rule, save_best and the rule it infers
    arguments = {k: v for k, v in OmegaConf.to_container(evaluation, resolve=True).items()
                 if k not in ("_target_", "_recursive_")}
    arguments["by_epoch"] = resolve_by_epoch(evaluation.by_epoch, cfg.runner.type.name == "epoch")
    locate(evaluation._target_)(**arguments)


def _check_hooks(cfg: DictConfig) -> None:
    for section in ("hooks", "custom_hooks"):
        for name, hook in cfg[section].items():
            if not isinstance(hook, DictConfig) or "_target_" not in hook:
                raise ConfigError(f"{section}.{name}", _plain(hook), "a hook config with a _target_")
            priority = hook.get("priority", None)
            if priority is not None:
                try:
                    get_priority(priority)
                except (ValueError, TypeError):
                    names = "|".join(p.name for p in Priority)
                    raise ConfigError(f"{section}.{name}.priority", priority, f"{names} or an int") from None


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node) if isinstance(node, (DictConfig, ListConfig)) else node
