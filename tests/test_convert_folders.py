"""hyrun-convert on whole folders, MMCV 1.x configs whose data is computed (f-strings,
indexing, {{_base_.key}}, imports), and a converted MMEngine experiment that really trains."""
from __future__ import annotations

from pathlib import Path

import pytest

from hyrun.convert.cli import main as convert_main
from hyrun.convert.mapping import convert
from hyrun.convert.parse import ConfigParseError, load_config
from hyrun.convert.values import Unknown

DATA = Path(__file__).parent / "data"
BYTETRACK = DATA / "mmcv_configs" / "mot" / "bytetrack_yolox_x_crowdhuman_mot17-private-half.py"
MMENGINE = DATA / "mmengine_configs" / "configs"


def test_mmtracking_data_expressions_are_evaluated():
    settings = load_config(BYTETRACK).settings
    data = settings["data"]
    assert data["train"]["dataset"]["ann_file"] == "data/MOT17/annotations/half-val_cocoformat.json"  # f-string
    assert data["test"]["seq"] == "OT17" and data["val"]["img_prefix"] == "data/MOT17/train"  # slicing
    assert data["val"]["pipeline"][0] == {"type": "LoadImageFromFile"}  # {{_base_.test_pipeline}}
    pipeline = settings["train_pipeline"]
    assert pipeline[1]["border"] == (-400, -720)  # img_scale[0] // 2
    assert pipeline[2]["type"] == "Resize" and len(pipeline) == 4  # *{{_base_.train_pipeline}}[1:]
    assert settings["fp16"] == {"loss_scale": {"init_scale": 512.0}}  # a conditional over a constant
    assert settings["evaluation"]["interval"] == 1
    assert isinstance(settings["model"]["init_cfg"]["a"], Unknown)  # math.sqrt(5) of an imported module


def test_mmtracking_config_converts_and_reports_its_model(tmp_path):
    experiment = convert(load_config(BYTETRACK))
    assert experiment.choices["optimizer"] == "sgd" and experiment.get("optimizer.lr") == 0.0005
    assert experiment.get("optimizer.paramwise_cfg.norm_decay_mult") == 0.0
    assert experiment.get("runner.max_epochs") == 80 and experiment.get("optimizer_config.amp.dtype") == "auto"
    assert {"model", "lr_config", "custom_hooks[0]", "evaluation.metric"} <= {i.key for i in experiment.skipped}


@pytest.mark.parametrize("source, expected", [
    ("a = (1, 2)[-1]", 2), ("a = 'abcdef'[1:-1:2]", "bd"), ("a = dict(x=[1, 2])['x'][0]", 1),
    ("a = f'{3.14159:.2f}-{\"x\"!r}'", "3.14-'x'"), ("a = 1 if 2 > 1 and not False else 0", 1),
    ("a = [i * 2 for i in range(3) if i != 1]", [0, 4]), ("a = {k: v for k, v in [('x', 1)]}", {"x": 1}),
    ("a = max([1, 5]) + len('ab')", 7), ("a = 1 < 2 < 3", True), ("a = 'x' in ['x'] or None", True),
])
def test_data_expressions(source, expected, tmp_path):
    (tmp_path / "c.py").write_text(source + "\n")
    assert load_config(tmp_path / "c.py").settings["a"] == expected


def test_a_setting_that_needs_code_is_reported_not_an_error(tmp_path):
    (tmp_path / "c.py").write_text("from my_pkg import schedules\nimport numpy as np\n"
                                   "lr_config = schedules.make(policy='step')\nseed = int(np.pi)\n"
                                   "optimizer = dict(type='SGD', lr=0.1)\n")
    experiment = convert(load_config(tmp_path / "c.py"))
    reasons = {item.key: item.reason for item in experiment.skipped}
    assert "c.py:3: calling schedules.make()" in reasons["lr_config"]
    assert "numpy.pi" in reasons["seed"] and experiment.get("optimizer.lr") == 0.1


@pytest.mark.parametrize("line", [
    "x = [open('{s}', 'w') for _ in unknown]", "x = getattr(dict(), 'keys')", "x = 'a'.join(['b'])",
    "x = __builtins__", "x = lambda: 1", "import os\nos.system('touch {s}')", "x = {{'a'}}",
])
def test_code_is_still_refused_with_its_line(line, tmp_path):
    sentinel = tmp_path / "ran"
    (tmp_path / "c.py").write_text("import unknown\n" + line.format(s=sentinel) + "\n")
    with pytest.raises(ConfigParseError, match=r"c\.py:[23]: "):
        load_config(tmp_path / "c.py")
    assert not sentinel.exists()


def test_folder_converts_every_config_but_bases(tmp_path, capsys):
    out = tmp_path / "conf" / "experiment"
    convert_main([str(MMENGINE), "-o", str(out)])
    table = capsys.readouterr().out
    written = sorted(p.stem for p in out.glob("*.yaml"))
    assert written == ["convnext-tiny_8xb128_in1k", "resnet50_8xb32-amp-ema_in1k", "resnet50_8xb32-coslr_in1k",
                       "resnet50_8xb32_in1k", "vit-base-p16_iter_onecycle"]
    assert "config" in table.splitlines()[0] and "not carried" in table.splitlines()[0]
    assert "resnet/resnet50_8xb32_in1k.py" in table and "MMEngine" in table and "5 of 5 configs converted" in table
    assert "_base_" not in table


def test_folder_of_both_formats_reports_errors_and_exits_1(tmp_path, capsys):
    source = tmp_path / "configs"
    (source / "a").mkdir(parents=True)
    (source / "a" / "good.py").write_text("optimizer = dict(type='SGD', lr=0.1)\n")
    (source / "a" / "new.py").write_text("optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1))\n")
    (source / "a" / "bad.py").write_text("x = open('f')\n")
    with pytest.raises(SystemExit) as stopped:
        convert_main([str(source), "-o", str(tmp_path / "out")])
    table = capsys.readouterr().out
    assert stopped.value.code == 1 and "2 of 3 configs converted" in table
    assert "a/bad.py" in table and "bad.py:1: calling open()" in table
    assert "MMCV 1.x" in table and "MMEngine" in table


@pytest.mark.slow
def test_converted_mmengine_experiment_trains_with_auto_scale_lr(tmp_path, run_hyrun_many, read_metrics):
    conf = tmp_path / "conf"
    convert_main([str(MMENGINE), "-o", str(conf / "experiment")])
    common = ["data=synthetic", "model=mlp", "data.num_samples=128", "data.batch_size=64",
              "runner.max_epochs=2", "log_config.interval=1", "load_from=null", "work_dir=null",
              f"logger.mlflow.tracking_uri=sqlite:///{tmp_path}/mlflow.db", "logger.tensorboard.log_dir=tb"]
    [result] = run_hyrun_many([["--config-dir", conf, "experiment=resnet50_8xb32-amp-ema_in1k", *common,
                                f"hydra.run.dir={tmp_path}/run"]], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "auto_scale_lr: the lr is scaled by 0.25" in result.stderr + result.stdout
    train = [r for r in read_metrics(tmp_path / "run") if r["mode"] == "train"]
    # LinearLR converted to iterations: 5 epochs of 2 iterations from 1e-3 * (64 / 256) * 1e-3
    assert train[0]["lr"] == pytest.approx(1e-3 * 0.25 * 1e-3)
    assert len(train) == 4 and all(r["lr"] > train[0]["lr"] for r in train[1:])
