"""What hyrun reads off the command line before Hydra composes: the options named for
multi-select groups (``hooks=[a,b]``; Hydra's own error for those names the bad option but
not the valid ones, README "Choosing and overriding"), ``custom_imports``, whose registrations
must be in place before composing, and the ``+`` of ``+experiment=NAME``."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException

from hyrun.config.errors import ConfigError
from hyrun.config.store import MULTI_SELECT_GROUPS


# Global patches, listed after _self_ in the primary config (conf/config.yaml for the command
# line) with a null default, so that an experiment patches the defaults and the primary
# config's values, a search space the experiment, a debug option all of them.
PATCH_GROUPS = ("experiment", "hparams_search", "debug")


def select_patches(args: Sequence[str]) -> list[str]:
    """``args`` with ``+experiment=NAME`` as ``experiment=NAME`` (and ``+debug=``): Hydra's
    docs add an experiment with ``+`` where the group has no default; here it has one (null),
    and Hydra would refuse the ``+`` ("Multiple values for experiment")."""
    prefixes = tuple(f"+{group}=" for group in PATCH_GROUPS)
    return [arg[1:] if arg.startswith(prefixes) else arg for arg in args]


def group_options(group: str, config_dirs: Sequence[str | Path]) -> list[str]:
    """The options of ``group``: structured configs in the ConfigStore and YAML files."""
    stored = ConfigStore.instance().list(group) if _has_group(group) else []
    names = {Path(name).stem for name in stored}
    for config_dir in config_dirs:
        names.update(path.stem for path in (Path(config_dir) / group).glob("*.yaml"))
    return sorted(names)


def unknown_choice(args: Sequence[str], config_dirs: Sequence[str | Path]) -> ConfigError | None:
    """The error for the first unknown option of a multi-select group in ``args``, or None;
    the options are those of ``config_dirs`` and of a ``--config-dir`` in ``args``."""
    overrides = [a for a in args if "=" in a and not a.startswith("-")]
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except HydraException:
        return None  # Hydra reports syntax errors itself
    for override in parsed:
        group = override.key_or_group
        if group not in MULTI_SELECT_GROUPS or override.is_delete():
            continue
        options = group_options(group, config_folders(args, config_dirs))
        for value in override.sweep_iterator() if override.is_sweep_override() else [override.value()]:
            for name in value if isinstance(value, list) else [value]:
                if name not in options:
                    return ConfigError(group, override.input_line.split("=", 1)[1],
                                       f"options of group '{group}' (no {name!r}): {', '.join(options)}")
    return None


def custom_imports_in(args: Sequence[str]) -> list[str]:
    """The modules a ``custom_imports=[...]`` override on the command line names."""
    overrides = [a for a in args if "=" in a and not a.startswith("-")]
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except HydraException:
        return []
    modules: list[str] = []
    for override in parsed:
        if override.key_or_group == "custom_imports" and not override.is_delete():
            value = override.value()
            modules += [str(v) for v in value] if isinstance(value, list) else [str(value)]
    return modules


def custom_imports_of_patches(args: Sequence[str], config_dirs: Sequence[str | Path]) -> list[str]:
    """The ``custom_imports`` that the experiment (or other patch) files selected in ``args``
    name, in ``config_dirs`` or a ``--config-dir``: their registrations decide whether the
    options such a file selects exist (an experiment that ``hyrun-convert`` made of a config
    with ``custom_imports`` and ``type='MyOptimizer'``)."""
    import yaml

    folders = config_folders(args, config_dirs)
    modules: list[str] = []
    for arg in args:
        group, _, option = arg.partition("=")
        if group not in PATCH_GROUPS or not option:
            continue
        for folder in folders:
            path = folder / group / f"{option}.yaml"
            if path.is_file():
                content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
                modules += [str(m) for m in content.get("custom_imports") or []]
                break
    return modules


def config_folders(args: Sequence[str], config_dirs: Sequence[str | Path]) -> list[Path]:
    """``config_dirs``, then the folder of a ``--config-dir`` (``-cd``) in ``args``."""
    folders = [Path(d) for d in config_dirs]
    for i, arg in enumerate(args):
        if arg in ("--config-dir", "-cd") and i + 1 < len(args):
            folders.append(Path(args[i + 1]))
        elif arg.startswith("--config-dir="):
            folders.append(Path(arg.split("=", 1)[1]))
    return folders


def _has_group(group: str) -> bool:
    try:
        ConfigStore.instance().list(group)
        return True
    except OSError:
        return False
