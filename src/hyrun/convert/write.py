"""An ``Experiment`` as the text of a Hydra experiment file (``conf/experiment/NAME.yaml``),
and its report.

The file follows Hydra's experiment pattern: ``# @package _global_`` so that its keys are
the config's own, and a defaults list of ``override /group: option`` for the groups the
primary config already selects, then ``_self_`` so that its values win over the options'.
"""
from __future__ import annotations

from typing import Any

from omegaconf import OmegaConf

from hyrun.convert.experiment import Experiment, Interpolation, ReportItem, mmcv_repr

# the groups of hyrun's primary defaults list, in its order
GROUPS = ("optimizer", "optimizer_config", "lr_config", "momentum_config", "workflow", "hooks", "logger")
# the order of the settings in the file: the primary config's, then anything else
KEY_ORDER = ("optimizer", "optimizer_config", "lr_config", "momentum_config", "param_scheduler", "auto_scale_lr",
             "workflow", "runner", "hooks",
             "custom_hooks", "logger", "log_config", "checkpoint_config", "evaluation", "custom_imports", "seed",
             "deterministic", "resume", "load_from", "work_dir")


def render(experiment: Experiment, source: str, name: str) -> str:
    """The experiment file: header, defaults list, values, and the report as comments."""
    lines = ["# @package _global_",
             f"# Converted by hyrun-convert from {source} (an {experiment.format} config).",
             f"# Run: python -m hyrun experiment={name}",
             "defaults:"]
    for group in GROUPS:
        if group in experiment.choices:
            option = experiment.choices[group]
            shown = f"[{', '.join(option)}]" if isinstance(option, list) else option
            lines.append(f"  - override /{group}: {shown}")
    lines.append("  - _self_")
    values = {key: experiment.values[key] for key in KEY_ORDER if key in experiment.values}
    values.update({k: v for k, v in experiment.values.items() if k not in values})
    if values:
        lines.append("")
        lines.append(OmegaConf.to_yaml(OmegaConf.create(_escaped(values)), sort_keys=False).rstrip("\n"))
    report = report_lines(experiment)
    if report:
        lines.append("")
        lines += [f"# {line}" if line else "#" for line in report]
    return "\n".join(lines) + "\n"


def report_lines(experiment: Experiment) -> list[str]:
    """What was carried with a change and what was not carried, one item per line pair."""
    lines: list[str] = []
    if experiment.notes:
        lines.append(f"hyrun-convert: notes ({len(experiment.notes)}):")
        lines += [f"  {item.key}: {item.reason}" for item in experiment.notes]
    if experiment.skipped:
        lines.append(f"hyrun-convert: NOT carried over ({len(experiment.skipped)}), set by hand if needed:")
        for item in experiment.skipped:
            lines += _skipped_lines(item)
    return lines


def _skipped_lines(item: ReportItem) -> list[str]:
    return [f"  {item.key} = {mmcv_repr(item.value)}", f"      {item.reason}"]


def _escaped(value: Any) -> Any:
    """Strings from the MMCV config kept literal: OmegaConf would read ``${...}`` in them."""
    if isinstance(value, dict):
        return {k: _escaped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escaped(v) for v in value]
    if isinstance(value, Interpolation):
        return str(value)
    if isinstance(value, str):
        return value.replace("${", "\\${")
    return value
