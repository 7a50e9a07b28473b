"""README's commands run as written: every ``python -m hyrun`` (and ``torchrun ... -m hyrun``) line
of its bash blocks, through bash, in a folder with the files README shows (its
``# my_conf/...`` YAML blocks) and the package its examples name (``tests/readme/my_pkg``).

Fast: a command gets ``debug=fast_dev_run`` (one batch of training and of evaluation) unless
it chooses a debug option itself or only prints (``--help``, ``--cfg``), or sets
``checkpoint_config`` fields (which fast_dev_run turns off: one epoch of one batch, then), and an
Optuna search ``hydra.sweeper.n_trials=2``. A block's commands run in order in one folder (the second of a
block may continue the first: ``resume=auto``). A ``$ python -m hyrun ...`` line of a console
block is followed by what it prints: that is what it must print.

Left out, each with its reason in ``SKIPPED``: what needs a SLURM cluster or eight GPUs, and
the experiments ``hyrun-convert`` writes from OpenMMLab configs (tests/test_convert*.py run those).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import TIMEOUT_S, hyrun_env

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PACKAGE = Path(__file__).parent / "readme"  # my_pkg
HYRUN = re.compile(r"(python -m hyrun|torchrun\b.* -m hyrun)( |$)")
SKIPPED = {  # a part of the command -> why it does not run here
    "hydra/launcher=slurm": "submits to a SLURM cluster",
    "--nproc_per_node=8": "eight processes for eight GPUs",
    "experiment=my_tracker": "an experiment hyrun-convert writes from an OpenMMLab config",
    "experiment=t": "an experiment hyrun-convert writes from an OpenMMLab config",
    "experiment=resnet50": "an experiment hyrun-convert writes from an OpenMMLab config",
}
ONLY_PRINTS = ("--help", "--cfg")


@dataclass
class Command:
    line: str  # as README writes it, continuation lines joined
    expected: list[str] = field(default_factory=list)  # what a console block says it prints


@dataclass
class Block:
    number: int  # its place among README's blocks
    commands: list[Command]


def fenced_blocks(text: str) -> list[tuple[str, list[str]]]:
    """(language, lines) of every fenced block."""
    blocks, language, lines = [], None, []
    for line in text.splitlines():
        if line.startswith("```"):
            if language is None:
                language, lines = line[3:].strip(), []
            else:
                blocks.append((language, lines))
                language = None
        elif language is not None:
            lines.append(line)
    return blocks


def joined(lines: list[str]) -> list[str]:
    """Shell lines with their backslash continuations joined."""
    out: list[str] = []
    for line in lines:
        if out and out[-1].endswith("\\"):
            out[-1] = out[-1][:-1].rstrip() + " " + line.strip()
        else:
            out.append(line)
    return out


def readme_blocks() -> list[Block]:
    blocks = []
    for number, (language, lines) in enumerate(fenced_blocks(README.read_text(encoding="utf-8"))):
        commands = []
        if language == "bash":
            commands = [Command(line.strip()) for line in joined(lines) if HYRUN.search(line)]
        elif language == "":  # a console: "$ command", then what it prints
            for line in lines:
                if line.startswith("$ "):
                    commands.append(Command(line[2:].strip()))
                elif commands:
                    commands[-1].expected.append(line)
            commands = [c for c in commands if HYRUN.search(c.line)]
        if commands:
            blocks.append(Block(number, commands))
    return blocks


def readme_files() -> dict[str, str]:
    """The files README's YAML blocks show by their first line, ``# my_conf/...yaml``."""
    files = {}
    for language, lines in fenced_blocks(README.read_text(encoding="utf-8")):
        if language == "yaml" and lines and (match := re.fullmatch(r"# (my_conf/\S+\.yaml)", lines[0])):
            files[match.group(1)] = "\n".join(lines[1:]) + "\n"
    return files


def skipped(command: Command) -> str | None:
    return next((why for part, why in SKIPPED.items() if part in command.line.split() or any(
        word.startswith(part) for word in command.line.split())), None)


def fast(line: str) -> str:
    """The hyrun part of the line (after an install's ``&&``), without its comment, sped up."""
    line = re.sub(r"\s+#\s.*$", "", line)
    line = next(part.strip() for part in line.split("&&") if HYRUN.search(part))
    words = line.split()
    if any(word in ONLY_PRINTS for word in words):
        return line
    if any(word.startswith("debug=") for word in words):
        extra = []
    elif any(word.startswith("checkpoint_config.") for word in words):  # fast_dev_run sets it to null
        extra = ["runner.max_epochs=1", "runner.limit_train_batches=1", "runner.limit_val_batches=1"]
    else:
        extra = ["debug=fast_dev_run"]
    if "hparams_search=digits_optuna" in words or "hydra/sweeper=hyrun_optuna" in words:
        extra.append("hydra.sweeper.n_trials=2")
    return " ".join([line, *extra])


BLOCKS = readme_blocks()


def test_readme_has_the_commands_this_test_runs():
    lines = [command.line for block in BLOCKS for command in block.commands]
    assert len(lines) > 40 and any("evaluation.save_best=f1" in line for line in lines)
    assert {"my_conf/model/resnet.yaml", "my_conf/data/mine.yaml"} <= set(readme_files())


@pytest.mark.slow
@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{b.number}" for b in BLOCKS])
def test_readme_commands_run_as_written(block, tmp_path):
    for name, text in readme_files().items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    env = hyrun_env(PYTHONPATH=os.pathsep.join([str(PACKAGE), str(ROOT)]), OMP_NUM_THREADS="1",
                    PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    ran = 0
    for command in block.commands:
        if skipped(command):
            continue
        line = fast(command.line)
        done = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=TIMEOUT_S)
        output = done.stdout + done.stderr
        ran += 1
        assert "Traceback" not in output, f"{line}\n{output[-4000:]}"
        if command.expected:  # what README shows it prints: an error, here
            assert done.returncode == 2 and all(text in done.stderr for text in command.expected), f"{line}\n{output}"
        else:
            assert done.returncode == 0, f"{line}: exit {done.returncode}\n{output[-4000:]}"
    if not ran:
        pytest.skip("; ".join(sorted({skipped(command) for command in block.commands})))
