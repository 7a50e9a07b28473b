"""The composed config as a tree, at the start of a run: one branch per top-level node,
labelled with the option its group selected (``optimizer (sgd)``), so what ran is readable
at a glance. Printed on stdout and saved as plain text to ``<output dir>/config_tree.txt``;
``print_config=false`` turns both off.

rich is imported only here, when the tree is printed: ``--help`` and ``--cfg`` never pay for it.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from hyrun.config.choices import PATCH_GROUPS
from hyrun.config.store import MULTI_SELECT_GROUPS

if TYPE_CHECKING:
    from rich.tree import Tree

TREE_FILE = "config_tree.txt"


def print_config_tree(cfg: DictConfig, output_dir: str | Path) -> Path | None:
    """The tree on stdout and in ``output_dir`` (the job's, Hydra's; returned), unless
    ``cfg.print_config`` is false; the options named as Hydra chose them, when a Hydra job
    runs. Under torch.distributed the caller asks rank 0 only (each rank would repeat it)."""
    if not cfg.print_config:
        return None
    from hydra.core.hydra_config import HydraConfig
    from rich.console import Console

    choices = HydraConfig.get().runtime.choices if HydraConfig.initialized() else {}
    console = Console(record=True, soft_wrap=True)
    console.print(config_tree(cfg, choices))
    path = Path(output_dir) / TREE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(console.export_text(styles=False), encoding="utf-8")
    return path


def config_tree(cfg: DictConfig, choices: Mapping[str, Any]) -> Tree:
    """A ``rich.tree.Tree`` of ``cfg`` (interpolations resolved), branches labelled with
    ``choices`` (Hydra's ``runtime.choices``; a multi-select group's are its node's keys)."""
    from rich.text import Text
    from rich.tree import Tree

    # the groups that patch the whole config have no node of their own: in the root label
    patches = ", ".join(f"{group}: {_option(choices.get(group))}" for group in PATCH_GROUPS)
    tree = Tree(Text.assemble(("config", "bold"), f" ({patches})"))
    for key in cfg:
        value = cfg[key]
        label = Text(str(key), style="bold cyan")
        choice = group_choice(cfg, str(key), choices)
        if choice is not None:
            label.append(f" ({choice})", style="green")
        if isinstance(value, (DictConfig, ListConfig)) and len(value) > 0:
            branch = tree.add(label)
            branch.add(Text(OmegaConf.to_yaml(value, resolve=True).rstrip("\n")))
        else:
            label.append(": " + _scalar(value), style="default")
            tree.add(label)
    return tree


def group_choice(cfg: DictConfig, key: str, choices: Mapping[str, Any]) -> str | None:
    """The option shown beside ``key``: Hydra's choice; for a multi-select group, the names
    its node holds (``[ema, profiler]``); None for a plain node."""
    if key in MULTI_SELECT_GROUPS:
        return "[" + ", ".join(map(str, cfg[key])) + "]"
    if key in choices:
        return _option(choices[key])
    return None


def _option(choice: Any) -> str:
    return "null" if choice is None else str(choice)  # as on the command line: debug=null


def _scalar(value: Any) -> str:
    """A leaf as YAML writes it."""
    if isinstance(value, (DictConfig, ListConfig)):
        return "{}" if isinstance(value, DictConfig) else "[]"
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    return str(value)
