"""``hyrun-convert PATH/TO/config.py [-o conf/experiment/NAME.yaml]``: an MMCV 1.x config as
a hyrun experiment, run with ``python -m hyrun experiment=NAME``.

The experiment goes to ``-o`` (or stdout); the report of what was carried with a change or
not carried at all goes to stderr, and also to the end of the file as comments.
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
        description="Convert an MMCV 1.x / MMTracking Python config (read as data, never run) into a hyrun "
                    "experiment: python -m hyrun experiment=NAME runs it.")
    parser.add_argument("config", help="the MMCV config (.py); its _base_ files are read too")
    parser.add_argument("-o", "--output", help="the experiment file to write, e.g. conf/experiment/NAME.yaml "
                                               "(default: stdout)")
    args = parser.parse_args(argv)
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
