"""The ``_target_``s hyrun trusts, for Hydra's execution whitelist (Hydra >= 1.4).

Hydra 1.4 warns when ``instantiate`` resolves a ``_target_`` that no whitelist allows (1.5
refuses it), and refuses one outside the whitelist in force. A hyrun job's config is the user's
own (their config files, their command line), so hyrun allows what it builds: its own modules,
torch's optimizers, Hydra's plugins, the modules named in ``custom_imports``, those of the
classes registered with ``hyrun.register``, and each ``_target_`` the job's config names outside
Python's standard library (``my_pkg.models.ResNet``, ``torchvision.models.resnet18``). A
standard-library target (``os.*``, ``subprocess.*``) is allowed only through ``custom_imports``,
so that Hydra's refusal of such targets stays. Hydra's own nodes (``hydra.callbacks``, a
launcher's) are built before the job: there hyrun allows its patterns and the command line's
``custom_imports``. On Hydra 1.3, which has no whitelist, this is a no-op.
"""
from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable, Iterator
from typing import Any

HYRUN_TARGETS = ("hyrun.*", "torch.optim.*", "hydra_plugins.*")


def trusted_targets(custom_imports: Iterable[str] = (), config: Any = None) -> list[str]:
    """hyrun's patterns, then each custom import and registered class's module, as ``module.*``,
    then the targets ``config`` (a job's) names outside the standard library, as they are."""
    from hyrun.registry import REGISTRY

    modules = [*custom_imports, *(cls.__module__ for kind in REGISTRY.values() for cls in kind.values())]
    patterns = list(HYRUN_TARGETS)
    for pattern in [f"{module}.*" for module in modules] + config_targets(config):
        if pattern not in patterns:
            patterns.append(pattern)
    return patterns


def config_targets(config: Any) -> list[str]:
    """Every ``_target_`` string in ``config`` (a DictConfig or plain containers, interpolations
    left alone) whose top-level module is not one of Python's standard library's."""
    from omegaconf import DictConfig, ListConfig, OmegaConf

    if isinstance(config, (DictConfig, ListConfig)):
        config = OmegaConf.to_container(config, resolve=False)
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            target = node.get("_target_")
            if isinstance(target, str) and "${" not in target and target.split(".")[0] not in sys.stdlib_module_names:
                found.append(target)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(config)
    return found


@contextlib.contextmanager
def trusting(modules: Iterable[str] = (), config: Any = None) -> Iterator[None]:
    """Hydra's execution whitelist of ``trusted_targets`` around the block, where Hydra has one:
    ``modules`` (a config's ``custom_imports``; Optuna's samplers for hyrun's sweeper) allowed
    whole, ``config``'s targets as they are."""
    try:
        from hydra.utils import execution_whitelist
    except ImportError:  # Hydra 1.3: instantiate resolves any target, silently
        execution_whitelist = None
    if execution_whitelist is None:  # outside the except: the block's errors chain to nothing
        yield
        return
    with execution_whitelist(trusted_targets(modules, config)):
        yield
