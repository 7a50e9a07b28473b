"""The TensorBoard logger: scalars, config text and hparams in ``<work_dir>/tensorboard/``,
read back with TensorBoard's own readers (EventAccumulator and the HPARAMS tab's backend)."""
from __future__ import annotations

import json
import logging
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict

from hyrun import EpochBasedRunner
from hyrun.build import build_runner
from hyrun.cli import config_dir
from hyrun.config.store import register_configs
from hyrun.hooks.logger.tensorboard import TensorboardLoggerHook
from tests.helpers import tiny_runner

OVERRIDES = ["data=synthetic", "model=mlp", "data.num_samples=128", "data.num_val_samples=64",
             "runner.max_epochs=2", "logger=[text,tensorboard]", "log_config.interval=2", "workflow=train_val",
             "optimizer_config=grad_clip", "log_config.progress_bar=false", "evaluation.save_best=auto"]


def hydra_job(work_dir, overrides):
    """A run as ``python -m hyrun OVERRIDES`` makes it: composed by Hydra, with Hydra's job
    info (overrides, choices) set while it is built and run."""
    register_configs()
    saved = HydraConfig.instance().cfg
    try:
        with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
            cfg = compose("config", overrides=overrides, return_hydra_config=True)
            cfg.hydra.runtime.output_dir = str(work_dir)
            HydraConfig.instance().set_config(cfg)
            with open_dict(cfg):
                del cfg["hydra"]
            runner = build_runner(cfg, work_dir, logging.getLogger("hyrun.test"))
            runner.run([tuple(p) for p in cfg.workflow.phases])
    finally:
        HydraConfig.instance().cfg = saved
    return runner


def accumulator(path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(path), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


def session_start(acc):
    from tensorboard.plugins.hparams import metadata

    content = acc.SummaryMetadata(metadata.SESSION_START_INFO_TAG).plugin_data.content
    start = metadata.parse_session_start_info_plugin_data(content)
    return {key: getattr(value, value.WhichOneof("kind")) for key, value in start.hparams.items()}


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp("sweep") / "0"
    hydra_job(work_dir, OVERRIDES)
    lines = [json.loads(line) for line in (work_dir / "metrics.jsonl").read_text().splitlines()]
    return work_dir, lines


def test_scalars_are_the_records_at_their_iter(job):
    work_dir, lines = job
    acc = accumulator(work_dir / "tensorboard")
    expected: dict[str, list[tuple[int, float]]] = {}
    for line in lines:
        for key, value in line.items():
            if key not in ("mode", "epoch", "iter") and not isinstance(value, str):
                expected.setdefault(f"{line['mode']}/{key}", []).append((line["iter"], value))
    assert set(acc.Tags()["scalars"]) == set(expected)
    assert set(expected) >= {"train/loss", "train/lr", "train/momentum", "train/grad_norm", "train/time",
                             "train/data_time", "val/loss", "val/accuracy", "val/best_accuracy"}
    assert "val/best_checkpoint" not in expected  # a string in the record
    assert [step for step, _ in expected["train/loss"]] == [2, 4, 6, 8]
    assert [step for step, _ in expected["val/accuracy"]] == [4, 8]
    for tag, points in expected.items():
        events = acc.Scalars(tag)
        assert [e.step for e in events] == [step for step, _ in points], tag
        # TensorBoard stores float32
        assert [e.value for e in events] == pytest.approx([v for _, v in points], rel=1e-6), tag


def test_config_and_overrides_as_text(job):
    work_dir, _ = job
    acc = accumulator(work_dir / "tensorboard")
    assert {"config", "overrides"} <= set(acc.Tags()["tensors"])
    config = acc.Tensors("config")[0].tensor_proto.string_val[0].decode()
    assert config.startswith("```yaml\n") and config.endswith("```\n")
    assert "num_samples: 128" in config and "_target_: hyrun.models.mlp.MLP" in config
    overrides = acc.Tensors("overrides")[0].tensor_proto.string_val[0].decode()
    assert "optimizer_config=grad_clip" in overrides.splitlines()


def test_hparams_session_start_and_end(job):
    from tensorboard.plugins.hparams import api_pb2, metadata

    work_dir, _ = job
    acc = accumulator(work_dir / "tensorboard")
    hparams = session_start(acc)
    # the chosen options, the overrides, the config's scalar leaves by dotted key
    assert hparams["optimizer"] == "sgd" and hparams["model"] == "mlp" and hparams["optimizer_config"] == "grad_clip"
    assert hparams["overrides"] == " ".join(OVERRIDES)
    assert hparams["optimizer.lr"] == pytest.approx(0.02) and hparams["data.num_samples"] == 128
    assert hparams["optimizer.nesterov"] is False and hparams["model.hidden"] == "[64]"
    assert not any(key.endswith("_target_") for key in hparams)
    parameters = sum(t.numel() for t in torch.load(work_dir / "checkpoints" / "latest.pth",
                                                   weights_only=True)["state_dict"].values())
    assert hparams["model_summary.parameters"] == hparams["model_summary.trainable_parameters"] == parameters
    assert hparams["model_summary.size_mb"] == pytest.approx(round(parameters * 4 / 2**20, 3))
    end = metadata.parse_session_end_info_plugin_data(
        acc.SummaryMetadata(metadata.SESSION_END_INFO_TAG).plugin_data.content)
    assert end.status == api_pb2.STATUS_SUCCESS


def hparams_tab(logdir):
    """What TensorBoard's HPARAMS tab gets for ``--logdir logdir``: the experiment and its
    session groups, from the hparams plugin's own request handlers."""
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import api_pb2, backend_context, get_experiment, list_session_groups

    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(logdir))
    multiplexer.Reload()
    provider = data_provider.MultiplexerDataProvider(multiplexer, str(logdir))
    backend = backend_context.Context(base_plugin.TBContext(logdir=str(logdir), multiplexer=multiplexer,
                                                            data_provider=provider))
    ctx = context.RequestContext()
    experiment = get_experiment.Handler(ctx, backend, "", api_pb2.GetExperimentRequest()).run()
    request = api_pb2.ListSessionGroupsRequest(
        start_index=0, slice_size=100, aggregation_type=api_pb2.AGGREGATION_AVG,
        allowed_statuses=[api_pb2.STATUS_UNKNOWN, api_pb2.STATUS_SUCCESS, api_pb2.STATUS_FAILURE,
                          api_pb2.STATUS_RUNNING])
    for metric in experiment.metric_infos:
        request.col_params.add(metric=metric.name)
    for hparam in experiment.hparam_infos:
        request.col_params.add(hparam=hparam.name)
    groups = list_session_groups.Handler(ctx, backend, "", request).run().session_groups
    return experiment, groups


def test_hparams_tab_shows_each_job_of_a_sweep_with_its_final_val_metrics(job):
    from tensorboard.plugins.hparams import api_pb2

    work_dir, lines = job
    other = work_dir.parent / "1"  # a second job of the sweep, with another optimizer
    hydra_job(other, [*OVERRIDES[:4], "runner.max_epochs=1", *OVERRIDES[5:], "optimizer=adam"])
    other_lines = [json.loads(line) for line in (other / "metrics.jsonl").read_text().splitlines()]

    experiment, groups = hparams_tab(work_dir.parent)
    names = {h.name for h in experiment.hparam_infos}
    # the union of the jobs' hparams: SGD's momentum and Adam's betas both
    assert {"optimizer", "optimizer.lr", "optimizer.momentum", "optimizer.betas", "overrides"} <= names
    assert {"val/accuracy", "val/loss", "train/loss"} <= {m.name.tag for m in experiment.metric_infos}
    by_optimizer = {g.hparams["optimizer"].string_value: g for g in groups}
    assert set(by_optimizer) == {"sgd", "adam"}
    for optimizer, records in (("sgd", lines), ("adam", other_lines)):
        group = by_optimizer[optimizer]
        assert [s.status for s in group.sessions] == [api_pb2.STATUS_SUCCESS]
        metrics = {m.name.tag: (m.value, m.training_step) for m in group.metric_values}
        last_eval = [r for r in records if "accuracy" in r][-1]
        last_val_loss = [r for r in records if r["mode"] == "val" and "loss" in r][-1]
        assert metrics["val/accuracy"] == (pytest.approx(last_eval["accuracy"], rel=1e-6), last_eval["iter"])
        assert metrics["val/loss"] == (pytest.approx(last_val_loss["loss"], rel=1e-6), last_val_loss["iter"])


def test_values_kept_and_left_out_log_dir_and_a_preempted_run(tmp_path):
    runner = tiny_runner(EpochBasedRunner, tmp_path, max_epochs=1)
    hook = TensorboardLoggerHook(log_dir=str(tmp_path / "elsewhere"))
    hook.before_run(runner)
    hook.log(runner, {"mode": "val", "epoch": 1, "iter": 3, "nan": float("nan"), "inf": float("inf"),
                      "np": np.float32(0.5), "tensor": torch.tensor(0.25), "int": 7,
                      "flag": True, "path": "checkpoints/best.pth", "none": None, "vector": torch.ones(2)})
    runner.stop_reason = "SIGTERM"  # preempted: resume continues the session, so it has no end
    hook.after_run(runner)
    assert not (tmp_path / "tensorboard").exists()
    acc = accumulator(tmp_path / "elsewhere")
    assert sorted(acc.Tags()["scalars"]) == ["val/inf", "val/int", "val/nan", "val/np", "val/tensor"]
    value = {tag: acc.Scalars(tag)[0].value for tag in acc.Tags()["scalars"]}
    assert math.isnan(value["val/nan"]) and value["val/inf"] == math.inf
    assert (value["val/np"], value["val/tensor"], value["val/int"]) == (0.5, 0.25, 7.0)
    assert {e.step for tag in acc.Tags()["scalars"] for e in acc.Scalars(tag)} == {3}
    assert "_hparams_/session_start_info" in acc.Tags()["tensors"]
    assert "_hparams_/session_end_info" not in acc.Tags()["tensors"]
    assert "config" not in acc.Tags()["tensors"]  # a runner built by hand has no composed config


def test_a_run_without_the_tensorboard_logger_never_imports_tensorboard(tmp_path):
    script = textwrap.dedent(f"""
        import logging, sys
        from hydra import compose, initialize_config_dir
        from hyrun.build import build_runner
        from hyrun.cli import config_dir
        from hyrun.config.store import register_configs

        register_configs()
        with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
            cfg = compose("config", overrides=["data=synthetic", "model=mlp", "data.num_samples=32",
                                               "data.num_val_samples=32", "runner.max_epochs=1",
                                               "logger=[text]", "workflow=train_val",
                                               "log_config.progress_bar=false"])
        runner = build_runner(cfg, {str(tmp_path)!r}, logging.getLogger("t"))
        runner.run([tuple(p) for p in cfg.workflow.phases])
        # hyrun's own logger module is read for the logger group's option; what it imports
        # when on (tensorboard, ~1.9 s with its protobufs) must stay out
        loaded = sorted(m for m in sys.modules if m == "tensorboard" or m.startswith(("tensorboard.",
                        "torch.utils.tensorboard")))
        assert not loaded, loaded
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "ok"
    assert (tmp_path / "metrics.jsonl").exists() and not (tmp_path / "tensorboard").exists()
