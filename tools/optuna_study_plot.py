"""Pictures of an Optuna study, from Optuna's own matplotlib visualizations (README's walk-through:
docs/optuna_digits_history.png and docs/optuna_digits_intermediate.png).

    python tools/optuna_study_plot.py sqlite:///digits.db digits_lr_wd --out docs/optuna_digits --ylim 0.95 1

writes ``<out>_history.png`` (each completed trial's value and the best so far) and
``<out>_intermediate.png`` (every trial's value after each epoch: where the pruned ones
stopped). STORAGE is what ``hydra.sweeper.storage`` was: an RDB URL or a journal file;
``--ylim LOW HIGH`` frames the values (a trial that diverged would flatten the rest).
Needs matplotlib (the ``test`` and ``preview`` extras).
"""
from __future__ import annotations

import argparse
import warnings
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("storage", help="the study's storage: sqlite:///study.db, or a journal file")
    parser.add_argument("study", help="the study's name (hydra.sweeper.study_name)")
    parser.add_argument("--out", default="docs/optuna_study", help="the PNGs' path, without _history.png")
    parser.add_argument("--ylim", type=float, nargs=2, metavar=("LOW", "HIGH"), help="the values shown")
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import optuna
    from optuna.visualization import matplotlib as plots

    from hyrun.tuning.storage import open_storage, storage_spec

    spec = storage_spec(args.storage, Path.cwd(), ".")
    study = optuna.load_study(study_name=args.study, storage=open_storage(spec))
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    for name, plot in (("history", plots.plot_optimization_history), ("intermediate", plots.plot_intermediate_values)):
        axes = plot(study)
        axes.set_title(f"{axes.get_title()}: study {study.study_name}, {len(study.trials)} trials")
        axes.figure.set_size_inches(8, 4.5)
        if args.ylim:
            axes.set_ylim(*args.ylim)
        out = Path(f"{args.out}_{name}.png")
        out.parent.mkdir(parents=True, exist_ok=True)
        axes.figure.savefig(out, dpi=100, bbox_inches="tight")
        print(out)


if __name__ == "__main__":
    main()
