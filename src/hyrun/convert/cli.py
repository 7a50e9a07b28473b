"""``hyrun-convert PATH/TO/config.py [-o conf/experiment/NAME.yaml]``: an MMCV 1.x or MMEngine
config as a hyrun experiment, run with ``python -m hyrun experiment=NAME``.

The experiment goes to ``-o`` (or stdout); the report of what was carried with a change or
not carried at all goes to stderr, and also to the end of the file as comments.
``hyrun-convert DIR -o OUT_DIR`` converts every config under DIR (``folders``).
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from hyrun.convert.mapping import convert
from hyrun.convert.parse import ConfigParseError, load_config
from hyrun.convert.write import render, report_lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="hyrun-convert",
        description="Convert an MMCV 1.x or MMEngine Python config (read as data, never run), or every config "
                    "under a folder, into hyrun experiments: python -m hyrun experiment=NAME runs one.")
    parser.add_argument("config", help="the config (.py; its _base_ files are read too), or a folder of them")
    parser.add_argument("-o", "--output", help="the experiment file to write, e.g. conf/experiment/NAME.yaml "
                                               "(default: stdout); for a folder, the folder to write them to")
    args = parser.parse_args(argv)
    if Path(args.config).is_dir():
        _convert_folder(Path(args.config), args.output)
        return
    output = Path(args.output) if args.output else None
    name = output.stem if output else Path(args.config).stem
    try:
        experiment = convert(load_config(args.config))
        text = render(experiment, args.config, name)
    except ConfigParseError as error:
        _exit_with(str(error))
    except Exception as error:  # a shape of config the converter did not foresee: say so, briefly
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        _exit_with(f"{args.config}: cannot be converted ({type(error).__name__}: {error})")
    if output is None:
        sys.stdout.write(text)
    else:
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(text, encoding="utf-8")
        except OSError as error:
            _exit_with(f"cannot write {output}: {error}")
        print(f"hyrun-convert: wrote {output}; {run_hint(output)}", file=sys.stderr)
    report = report_lines(experiment)
    print("\n".join(report) if report else "hyrun-convert: everything was carried over", file=sys.stderr)


def _convert_folder(folder: Path, output: str | None) -> None:
    from hyrun.convert.folders import convert_folder, summary_table

    if output is None:
        _exit_with(f"{folder} is a folder: give -o OUT_DIR for its experiment files")
    rows = convert_folder(folder, Path(output))
    print(summary_table(rows))
    if any(row.error for row in rows):
        sys.exit(1)


def run_hint(output: Path) -> str:
    """How to run the written experiment: hyrun's own conf/ needs no --config-dir."""
    from hyrun.cli import config_dir

    name = output.stem
    if output.parent.name != "experiment":
        return f"move it to conf/experiment/{name}.yaml (or DIR/experiment/ with --config-dir DIR) to run it"
    conf = output.parent.parent
    if conf.resolve() == Path(config_dir()).resolve():
        return f"run: python -m hyrun experiment={name}"
    return f"run: python -m hyrun --config-dir {conf} experiment={name}"


def _exit_with(problem: str) -> None:
    print(f"hyrun-convert: error: {problem}", file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
    main()
