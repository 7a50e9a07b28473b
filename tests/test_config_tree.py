"""The composed config as a tree at the start of a run, each group with the option it selected."""
from __future__ import annotations

import io

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import open_dict
from rich.console import Console

from hyrun.cli import config_dir
from hyrun.config.store import register_configs
from hyrun.config.tree import TREE_FILE, config_tree


def rendered(*overrides: str) -> str:
    """The tree of the config these overrides compose, as plain text."""
    register_configs()
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose("config", overrides=list(overrides), return_hydra_config=True)
    choices = cfg.hydra.runtime.choices
    with open_dict(cfg):
        del cfg["hydra"]
    console = Console(record=True, soft_wrap=True, file=io.StringIO())
    console.print(config_tree(cfg, choices))
    return console.export_text(styles=False)


def test_every_group_is_a_branch_labelled_with_its_option():
    text = rendered("experiment=digits_cyclic", "optimizer_config=grad_clip", "workflow=train_val",
                    "hooks=[ema,empty_cache]", "logger=[text,tensorboard]")
    lines = text.splitlines()
    assert lines[0] == "config (experiment: digits_cyclic, hparams_search: null, debug: null)"
    for label in ("model (digits_cnn)", "data (digits)", "optimizer (sgd)", "optimizer_config (grad_clip)",
                  "lr_config (cyclic)", "momentum_config (cyclic)", "workflow (train_val)",
                  "hooks ([ema, empty_cache])", "logger ([text, tensorboard])"):
        assert f"── {label}" in text, label
    # under a branch: the node's values
    assert "max_norm: 35.0" in text and "target_ratio:" in text


def test_values_are_resolved_and_plain_nodes_have_no_option():
    text = rendered("model=mlp", "data=synthetic", "data.in_features=7", "momentum_config=none")
    assert "in_features: 7" in text and "${" not in text
    assert "── momentum_config (none): null" in text
    assert "── runner\n" in text and "── seed: 0" in text


def test_a_debug_option_shows_in_the_root_label():
    assert rendered("debug=fast_dev_run").splitlines()[0] == "config (experiment: null, hparams_search: null, debug: fast_dev_run)"


@pytest.mark.slow
def test_a_run_prints_the_tree_and_saves_it_unless_told_not_to(tmp_path, run_hyrun_many):
    runs = {"shown": [], "hidden": ["print_config=false"]}
    procs = run_hyrun_many([["debug=fast_dev_run", *extra, f"hydra.run.dir={tmp_path / name}"]
                            for name, extra in runs.items()], cwd=tmp_path)
    for proc in procs:
        assert proc.returncode == 0, proc.stderr[-3000:]
    shown, hidden = procs
    saved = (tmp_path / "shown" / TREE_FILE).read_text(encoding="utf-8")
    assert saved.startswith("config (experiment: null, hparams_search: null, debug: fast_dev_run)\n")
    assert "── optimizer (sgd)" in saved and "\x1b" not in saved  # plain text, no terminal codes
    assert saved in shown.stdout
    assert not (tmp_path / "hidden" / TREE_FILE).exists()
    assert "── optimizer (sgd)" not in hidden.stdout + hidden.stderr
