"""``hyrun-init DIR [--package NAME]``: write a project of one's own on hyrun into DIR."""
from __future__ import annotations

import argparse
import sys

from hyrun.project import package_name, write_project


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="hyrun-init", description="Write a project that trains with hyrun: train.py, configs/ built on "
                                       "hyrun's config, a package with a small model and data set, a test.")
    parser.add_argument("dir", help="the project's folder (new, or empty)")
    parser.add_argument("--package", help="its Python package (default: the folder's name in snake case)")
    args = parser.parse_args(argv)
    package = args.package or package_name(args.dir)
    try:
        written = write_project(args.dir, package)
    except (ValueError, FileExistsError) as error:
        print(f"hyrun-init: {error}", file=sys.stderr)
        return 2
    print(f"Wrote {len(written)} files to {args.dir} (package {package}). In that folder:\n"
          f"  python train.py        # trains the default run and prints its val accuracy\n"
          f"  python -m pytest       # runs one fast job")
    return 0


if __name__ == "__main__":
    sys.exit(main())
