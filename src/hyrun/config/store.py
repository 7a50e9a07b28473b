"""Registers hyrun's schema and group options in Hydra's ConfigStore.

Options that are plain schemas live here; presets with their own values are YAML files
under ``conf/<group>/`` that extend a schema stored under ``_schema/`` (hidden from --help).
"""
from __future__ import annotations

from hydra.core.config_store import ConfigStore

from hyrun.config import schema
from hyrun.config.optimizers import optimizer_schemas
from hyrun.config.hook_options import builtin_hook_schemas, builtin_logger_schemas
from hyrun.config.schedules import lr_schemas, momentum_schemas

# The groups whose options several may be selected at once (hooks=[a,b]); an option's
# node is stored under its own name inside the group's mapping.
MULTI_SELECT_GROUPS = ("hooks", "logger")


_registered = False  # by this process: the generated classes exist here (hyrun.config.generate)


def register_configs() -> None:
    """hyrun's schema and group options, in Hydra's ConfigStore; once a process (~0.3 s):
    the command line registers before Hydra starts, and hyrun's search-path plugin asks
    again when Hydra builds the search path."""
    global _registered
    if _registered:
        return
    _share_config_store_on_copy()
    cs = ConfigStore.instance()
    cs.store(name="_schema_config", node=schema.Config)
    cs.store(name="_schema_workflow", node=schema.WorkflowConfig)

    cs.store(group="model", name="digits_cnn", node=schema.DigitsCNNConfig)
    cs.store(group="model", name="mlp", node=schema.MLPConfig)
    cs.store(group="data", name="digits", node=schema.DigitsDataConfig)
    cs.store(group="data", name="synthetic", node=schema.SyntheticDataConfig)

    for name, optimizer_schema in optimizer_schemas().items():
        cs.store(group="optimizer", name=name, node=optimizer_schema)
    cs.store(group="optimizer_config", name="default", node=schema.OptimizerHookConfig)
    cs.store(group="optimizer_config", name="grad_clip",
             node=schema.OptimizerHookConfig(grad_clip=schema.GradClipConfig()))  # the seed's max_norm=35
    cs.store(group="optimizer_config", name="amp", node=schema.OptimizerHookConfig(amp=schema.AmpConfig()))
    for name, lr_schema in lr_schemas().items():
        cs.store(group="lr_config", name=name, node=lr_schema)
    for name, momentum_schema in momentum_schemas().items():
        cs.store(group="momentum_config", name=name, node=momentum_schema)

    for name, hook_schema in builtin_hook_schemas().items():
        store_multi(cs, "hooks", name, hook_schema)
    for name, logger_schema in builtin_logger_schemas().items():
        store_multi(cs, "logger", name, logger_schema)
    _registered = True


def store_multi(cs: ConfigStore, group: str, name: str, node: object) -> None:
    """An option of a multi-select group: ``group=[name,...]`` yields ``group.name: node``."""
    cs.store(group=group, name=name, node={name: node}, package=group)


def _share_config_store_on_copy() -> None:
    """Hydra deep-copies its config repository, and with it the ConfigStore singleton, each
    time it lists a group's options: ``--help`` did that ~95 times (2.8 s instead of 0.6 s).
    The store is only read through such copies, and a singleton copied is no longer one,
    so a copy shares it."""
    ConfigStore.__deepcopy__ = lambda self, memo: self  # type: ignore[attr-defined]
