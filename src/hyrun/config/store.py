"""Registers hyrun's schema and group options in Hydra's ConfigStore.

Options that are plain schemas live here; presets with their own values are YAML files
under ``conf/<group>/`` that extend a schema stored under ``_schema/`` (hidden from --help).
"""
from __future__ import annotations

from typing import Any

from hydra.core.config_store import ConfigNode, ConfigStore
from omegaconf import DictConfig, OmegaConf

from hyrun.config import schema
from hyrun.config.hook_options import builtin_hook_schemas, builtin_logger_schemas
from hyrun.config.optimizers import optimizer_schemas
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
    store(cs, name="_schema_config", node=schema.Config)
    store(cs, name="_schema_workflow", node=schema.WorkflowConfig)

    store(cs, group="model", name="digits_cnn", node=schema.DigitsCNNConfig)
    store(cs, group="model", name="mlp", node=schema.MLPConfig)
    store(cs, group="data", name="digits", node=schema.DigitsDataConfig)
    store(cs, group="data", name="synthetic", node=schema.SyntheticDataConfig)

    for name, optimizer_schema in optimizer_schemas().items():
        store(cs, group="optimizer", name=name, node=optimizer_schema)
    store(cs, group="optimizer_config", name="default", node=schema.OptimizerHookConfig)
    store(cs, group="optimizer_config", name="grad_clip",
             node=schema.OptimizerHookConfig(grad_clip=schema.GradClipConfig()))  # the seed's max_norm=35
    store(cs, group="optimizer_config", name="amp", node=schema.OptimizerHookConfig(amp=schema.AmpConfig()))
    for name, lr_schema in lr_schemas().items():
        store(cs, group="lr_config", name=name, node=lr_schema)
    for name, momentum_schema in momentum_schemas().items():
        store(cs, group="momentum_config", name=name, node=momentum_schema)

    for name, hook_schema in builtin_hook_schemas().items():
        store_multi(cs, "hooks", name, hook_schema)
    for name, logger_schema in builtin_logger_schemas().items():
        store_multi(cs, "logger", name, logger_schema)
    _registered = True


def store_multi(cs: ConfigStore, group: str, name: str, node: object) -> None:
    """An option of a multi-select group: ``group=[name,...]`` yields ``group.name: node``."""
    store(cs, group=group, name=name, node={name: node}, package=group)


def store(cs: ConfigStore, name: str, node: Any, group: str | None = None, package: str | None = None) -> None:
    """``cs.store(...)``, except that the node becomes an OmegaConf config the first time Hydra
    loads it, not now: a run loads ~20 of hyrun's ~70 options, and making one costs ~1 ms
    (the start-up path: README "Start-up")."""
    cs.store(name=name, node={}, group=group, package=package)  # Hydra's own bookkeeping: the group's folders
    folder = cs.repo
    for part in group.split("/") if group else ():
        folder = folder[part]
    stored = folder[name if name.endswith(".yaml") else f"{name}.yaml"]
    folder[stored.name] = _LazyConfigNode(stored.name, node, group, package, stored.provider)


class _LazyConfigNode(ConfigNode):
    """A ConfigStore entry that makes its config when first read, once a process."""

    def __init__(self, name: str, source: Any, group: str | None, package: str | None,
                 provider: str | None) -> None:
        self.name, self.group, self.package, self.provider = name, group, package, provider
        self._source, self._made = source, None

    @property  # type: ignore[override]
    def node(self) -> DictConfig:
        if self._made is None:
            self._made = OmegaConf.structured(self._source)
        return self._made

    def __copy__(self) -> ConfigNode:
        """What ``ConfigStore.load`` copies the entry into (then replacing its node by a deep copy)."""
        return ConfigNode(name=self.name, node=self.node, group=self.group, package=self.package,
                          provider=self.provider)


def _share_config_store_on_copy() -> None:
    """Hydra deep-copies its config repository, and with it the ConfigStore singleton, each
    time it lists a group's options: ``--help`` did that ~95 times (2.8 s instead of 0.6 s).
    The store is only read through such copies, and a singleton copied is no longer one,
    so a copy shares it."""
    ConfigStore.__deepcopy__ = lambda self, memo: self  # type: ignore[attr-defined]
