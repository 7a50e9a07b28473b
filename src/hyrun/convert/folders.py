"""``hyrun-convert DIR -o OUT_DIR``: every config under DIR, one experiment file each, and a
summary table. Files under a ``_base_`` folder are bases, read by the configs that name
them and not converted on their own."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hyrun.convert.mapping import convert
from hyrun.convert.parse import ConfigParseError, load_config
from hyrun.convert.write import render

BASE_FOLDER = "_base_"


@dataclass(frozen=True)
class FolderRow:
    config: str  # relative to DIR
    format: str
    carried: int  # top-level settings written to the experiment
    not_carried: int
    error: str | None


def configs_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py")
                  if BASE_FOLDER not in p.relative_to(folder).parts and p.name != "__init__.py")


def convert_folder(folder: Path, out_dir: Path) -> list[FolderRow]:
    rows: list[FolderRow] = []
    configs = configs_under(folder)
    stems = [c.stem for c in configs]
    for config in configs:
        relative = config.relative_to(folder)
        # the file's own name, unless two configs share it: then its path under DIR
        name = config.stem if stems.count(config.stem) == 1 else "_".join(relative.with_suffix("").parts)
        try:
            experiment = convert(load_config(config))
            output = out_dir / f"{name}.yaml"  # one folder: experiment=NAME finds each
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(render(experiment, str(config), name), encoding="utf-8")
        except ConfigParseError as error:
            rows.append(FolderRow(str(relative), "-", 0, 0, str(error)))
            continue
        except Exception as error:  # a shape of config the converter did not foresee: one row, not a crash
            rows.append(FolderRow(str(relative), "-", 0, 0, f"{type(error).__name__}: {error}"))
            continue
        carried = len(experiment.values) + len(experiment.choices)
        rows.append(FolderRow(str(relative), experiment.format, carried, len(experiment.skipped), None))
    return rows


def summary_table(rows: list[FolderRow]) -> str:
    header = ("config", "format", "carried", "not carried", "error")
    cells = [header] + [(r.config, r.format, str(r.carried), str(r.not_carried), r.error or "") for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header) - 1)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths)) + "  " + row[-1]
             for row in cells]
    converted = sum(r.error is None for r in rows)
    lines.append(f"hyrun-convert: {converted} of {len(rows)} configs converted")
    return "\n".join(line.rstrip() for line in lines)
