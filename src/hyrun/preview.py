"""``hyrun-schedule [OVERRIDES]``: the lr and momentum of every training iteration of the
composed config, without training: ``schedule.csv`` and ``schedule.png`` in the output dir.

The run is built as for training and its schedule hooks are driven through the same stage
calls as in training, so the values are the ones a run would use.
"""
from __future__ import annotations

import csv
import logging
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from hyrun.cli import config_dir, prepare
from hyrun.hydra_version import main_kwargs
from hyrun.job import validated

SCHEDULE_STAGES = ("before_train_epoch", "before_train_iter")


def schedule_rows(runner) -> list[dict[str, float]]:
    """iter (1-based), epoch (1-based), lr and momentum of param group 0 for every iteration."""
    from hyrun.hooks.param_scheduler import ParamSchedulerHook
    from hyrun.hooks.schedule import LrUpdaterHook, MomentumUpdaterHook

    hooks = [h for h in runner.hooks if isinstance(h, (LrUpdaterHook, MomentumUpdaterHook, ParamSchedulerHook))]
    for hook in hooks:
        hook.before_run(runner)
    epoch_len = len(runner.data_loaders["train"])
    runner.mode, runner.iters_per_epoch = "train", epoch_len
    rows = []
    for i in range(runner.max_iters):
        runner.iter, runner.epoch, runner.inner_iter = i, i // epoch_len, i % epoch_len
        for stage in SCHEDULE_STAGES if runner.inner_iter == 0 else SCHEDULE_STAGES[1:]:
            for hook in hooks:
                if stage in hook.stages():
                    getattr(hook, stage)(runner)
        row = {"iter": i + 1, "epoch": runner.epoch + 1, "lr": runner.current_lr()[0]}
        momentum = runner.current_momentum()
        if momentum is not None:
            row["momentum"] = momentum[0]
        rows.append(row)
    return rows


def write_csv(rows: list[dict[str, float]], path: Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def plot(rows: list[dict[str, float]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    import matplotlib.pyplot as plt

    keys = [k for k in ("lr", "momentum") if k in rows[0]]
    fig, axes = plt.subplots(len(keys), 1, sharex=True, figsize=(8, 2.6 * len(keys)), squeeze=False)
    iters = [r["iter"] for r in rows]
    for ax, key in zip(axes[:, 0], keys):
        ax.plot(iters, [r[key] for r in rows], linewidth=1.5)
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("iteration")
    axes[0, 0].set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


@hydra.main(config_path=config_dir(), config_name="config", **main_kwargs())
def preview(cfg: DictConfig) -> None:
    from hyrun.build import build_runner

    validated(cfg)
    out = Path(HydraConfig.get().runtime.output_dir)
    logger = logging.getLogger("hyrun")
    runner = build_runner(cfg, out, logger)
    rows = schedule_rows(runner)
    write_csv(rows, out / "schedule.csv")
    choices = HydraConfig.get().runtime.choices
    title = f"lr_config={choices.get('lr_config')} momentum_config={choices.get('momentum_config')} " \
            f"optimizer={choices.get('optimizer')}"
    try:
        plot(rows, out / "schedule.png", title)
    except ImportError:
        logger.warning("matplotlib is not installed (pip install 'hyrun[preview]'): no schedule.png")
    step = max(1, len(rows) // 10)
    for row in rows[::step] + ([rows[-1]] if (len(rows) - 1) % step else []):
        logger.info("  ".join(f"{k} {v:.6g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()))
    logger.info("Schedule of %d iterations: %s, %s", len(rows), out / "schedule.csv", out / "schedule.png")


def main() -> None:
    prepare()
    preview()
