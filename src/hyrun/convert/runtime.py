"""MMCV's run settings: ``runner`` (or the older ``total_epochs``), ``workflow``,
``custom_imports``, and the plain top-level values (``seed``, ``resume_from``, ``load_from``, ...)."""
from __future__ import annotations

from typing import Any

from hyrun.convert.experiment import Experiment

RUNNERS = {"EpochBasedRunner": ("epoch", "max_epochs"), "IterBasedRunner": ("iter", "max_iters")}
# workflows that are an option of hyrun's workflow group; any other is written as phases
WORKFLOW_OPTIONS = {(("train", 1),): "train", (("train", 1), ("val", 1)): "train_val"}
PHASES = ("train", "val")
# MMCV's name -> hyrun's, for the values that carry over as they are
PLAIN_KEYS = {"seed": "seed", "deterministic": "deterministic", "resume_from": "resume",
              "load_from": "load_from", "work_dir": "work_dir",
              "find_unused_parameters": "ddp.find_unused_parameters"}  # MMDetection's, for its DDP wrapper


def convert_runner(cfg: dict[str, Any], out: Experiment) -> None:
    """``runner = dict(type=..., max_epochs | max_iters)``; without it MMDetection builds an
    EpochBasedRunner of ``total_epochs``."""
    runner, total_epochs = cfg.get("runner"), cfg.get("total_epochs")
    if runner is None:
        if total_epochs is not None:
            out.set("runner", {"type": "epoch", "max_epochs": total_epochs})
        return
    if not isinstance(runner, dict) or runner.get("type", "EpochBasedRunner") not in RUNNERS:
        kind = runner.get("type") if isinstance(runner, dict) else runner
        out.skip("runner", runner, f"{kind!r} is not a runner hyrun has ({', '.join(RUNNERS)})")
        return
    spec = dict(runner)
    kind, length = RUNNERS[spec.pop("type", "EpochBasedRunner")]
    out.set("runner.type", kind)
    if kind == "iter":
        out.set("runner.max_epochs", None)
    if length in spec:
        out.set(f"runner.{length}", spec.pop(length))
    for name, value in spec.items():
        out.skip(f"runner.{name}", value, f"hyrun's {kind} runner takes {length} only")
    if total_epochs is not None and (kind != "epoch" or out.get("runner.max_epochs") != total_epochs):
        out.skip("total_epochs", total_epochs, "the runner's own length wins (as MMDetection requires)")


def convert_workflow(cfg: dict[str, Any], out: Experiment) -> None:
    workflow = cfg["workflow"]
    shape_ok = isinstance(workflow, (list, tuple)) and all(
        isinstance(p, (list, tuple)) and len(p) == 2 and p[0] in PHASES and isinstance(p[1], int)
        and not isinstance(p[1], bool) and p[1] >= 1 for p in workflow)
    if not shape_ok or not any(p[0] == "train" for p in workflow):
        out.skip("workflow", workflow, "hyrun's workflow is [(phase, n), ...] with phases train and val, n >= 1, "
                                       "and a train phase")
        return
    pairs = tuple((phase, n) for phase, n in workflow)
    out.choose("workflow", WORKFLOW_OPTIONS.get(pairs, "train"))
    if pairs not in WORKFLOW_OPTIONS:
        out.set("workflow.phases", [list(pair) for pair in pairs])


def convert_custom_imports(cfg: dict[str, Any], out: Experiment) -> None:
    """``custom_imports = dict(imports=[...], allow_failed_imports=False)``."""
    spec = cfg["custom_imports"]
    if not isinstance(spec, dict):
        out.skip("custom_imports", spec, "not dict(imports=[...])")
        return
    spec = dict(spec)
    imports = spec.pop("imports", [])
    imports = [imports] if isinstance(imports, str) else imports
    if not isinstance(imports, (list, tuple)) or not all(isinstance(m, str) for m in imports):
        out.skip("custom_imports.imports", imports, "not a list of module names")
        return
    modules = []
    for i, module in enumerate(imports):
        if module.endswith(".py"):  # the seed tutorial's own example names the file
            module = module[:-len(".py")]
            out.note(f"custom_imports.imports[{i}]", f"{imports[i]!r} is a file name: imports the module {module!r}")
        modules.append(module)
    out.set("custom_imports", modules)
    if spec.pop("allow_failed_imports", False):
        out.skip("custom_imports.allow_failed_imports", True, "hyrun stops when a custom import fails")
    for name, value in spec.items():
        out.skip(f"custom_imports.{name}", value, "custom_imports takes imports and allow_failed_imports")


def convert_plain(cfg: dict[str, Any], out: Experiment) -> None:
    for mmcv_key, hyrun_key in PLAIN_KEYS.items():
        value = cfg.get(mmcv_key)
        if value is None:
            continue  # MMCV's None is hyrun's default too (no resume, no weights, the output dir)
        if isinstance(value, (str, int, float, bool)):
            out.set(hyrun_key, value)
        else:
            out.skip(mmcv_key, value, f"{hyrun_key} takes a single value")
    if cfg.get("auto_resume"):  # MMDetection's: resume from the latest checkpoint of the work dir
        if cfg.get("resume_from"):
            out.skip("auto_resume", True, "resume_from is set and wins")
        else:
            out.set("resume", "auto")
