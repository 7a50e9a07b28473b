"""The ``_target_``s hyrun trusts, for Hydra's execution whitelist (Hydra >= 1.4).

Hydra 1.4 warns when ``instantiate`` resolves a ``_target_`` that no whitelist allows (1.5
refuses it). A hyrun config is the user's own, so hyrun allows what it builds: its own modules,
torch's optimizers, Hydra's plugins, the modules named in ``custom_imports`` and those of the
classes registered with ``hyrun.register``. A ``_target_`` elsewhere (a model of yours not named
in ``custom_imports``) gets Hydra's warning: name its module in ``custom_imports``.
On Hydra 1.3, which has no whitelist, this is a no-op.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

HYRUN_TARGETS = ("hyrun.*", "torch.optim.*", "hydra_plugins.*")


def trusted_targets(custom_imports: Iterable[str] = ()) -> list[str]:
    """hyrun's patterns, then each custom import and registered class's module, as ``module.*``."""
    from hyrun.registry import REGISTRY

    modules = [*custom_imports, *(cls.__module__ for kind in REGISTRY.values() for cls in kind.values())]
    patterns = list(HYRUN_TARGETS)
    for module in modules:
        pattern = f"{module}.*"
        if pattern not in patterns:
            patterns.append(pattern)
    return patterns


@contextlib.contextmanager
def trusting(custom_imports: Iterable[str] = ()) -> Iterator[None]:
    """Hydra's execution whitelist of ``trusted_targets`` around the block, where Hydra has one."""
    try:
        from hydra.utils import execution_whitelist
    except ImportError:  # Hydra 1.3: instantiate resolves any target, silently
        execution_whitelist = None
    if execution_whitelist is None:  # outside the except: the block's errors chain to nothing
        yield
        return
    with execution_whitelist(trusted_targets(custom_imports)):
        yield
