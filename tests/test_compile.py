"""``compile``: torch.compile on a switch (README, "`torch.compile` (`compile=true`)").

Most tests compile with ``aot_eager`` (torch's autograd tracing without code generation): the
same graphs as inductor up to code generation, bit-identical to eager here and seconds faster
to compile; one slow test runs inductor end to end.
"""
from __future__ import annotations

import logging

import pytest
import torch

from hyrun.config.errors import ConfigError
from hyrun.config.validate import validate
from hyrun.models.compile import CompileSettings, compile_settings
from tests.helpers import composed, train

BASE = ("data=synthetic", "model=mlp", "data.num_samples=64", "data.batch_size=16", "evaluation=null",
        "log_config.progress_bar=false", "log_config.interval=1")
AOT = "compile={backend:aot_eager}"


def weights(runner) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in runner.model.state_dict().items()}


@pytest.mark.parametrize("value, expected", [
    (False, None), (None, None), (True, CompileSettings()),
    ({"mode": "max-autotune", "fullgraph": True}, CompileSettings(mode="max-autotune", fullgraph=True)),
])
def test_the_settings_read_as_given(value, expected):
    assert compile_settings(value) == expected


@pytest.mark.parametrize("override, key, words", [
    ("compile={mode:fastest}", "compile.mode", ["fastest", "max-autotune"]),
    ("compile={speed:1}", "compile.speed", ["mode, backend, fullgraph, dynamic"]),
    ("compile={backend:no_such_backend}", "compile.backend", ["no_such_backend", "inductor", "aot_eager"]),
    ("compile=fast", "compile", ["fast", "true, false or a mapping"]),
])
def test_bad_settings_stop_before_anything_is_built(override, key, words):
    with pytest.raises(ConfigError) as error:
        validate(composed(*BASE, override))
    assert error.value.key == key
    for word in words:
        assert word in str(error.value)


def test_a_compiled_run_trains_as_the_eager_one_and_its_checkpoints_keep_plain_keys(tmp_path, caplog):
    eager = train(tmp_path / "eager", *BASE, "runner.max_epochs=2")
    with caplog.at_level(logging.INFO, logger="hyrun.test"):
        compiled = train(tmp_path / "compiled", *BASE, "runner.max_epochs=2", AOT)
    assert compiled.model._compiled_call_impl is not None  # the runner trained the compiled model
    for key, value in weights(eager).items():
        assert torch.equal(weights(compiled)[key], value), key
    saved = torch.load(tmp_path / "compiled" / "checkpoints" / "latest.pth", weights_only=False)["state_dict"]
    assert list(saved) == list(eager.model.state_dict()) and not any("_orig_mod" in k for k in saved)
    assert any("torch.compile warm-up: the first train iteration took" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("first, then", [(AOT, "compile=false"), ("compile=false", AOT)])
def test_a_compiled_run_resumes_in_an_eager_one_and_back(tmp_path, first, then):
    whole = train(tmp_path / "whole", *BASE, "runner.max_epochs=2")
    train(tmp_path / "split", *BASE, "runner.max_epochs=1", first)
    resumed = train(tmp_path / "split", *BASE, "runner.max_epochs=2", "resume=auto", then)
    assert resumed.iter == whole.iter
    for key, value in weights(whole).items():
        assert torch.equal(weights(resumed)[key], value), key


def test_ema_and_bf16_autocast_work_on_a_compiled_model(tmp_path):
    runs = {name: train(tmp_path / name, *BASE, "runner.max_epochs=1", "hooks=[ema]", "hooks.ema.warm_up=1",
                        "optimizer_config=amp", "optimizer_config.amp.dtype=bfloat16", *extra)
            for name, extra in (("eager", ()), ("compiled", (AOT,)))}
    eager, compiled = (weights(runs[name]) for name in ("eager", "compiled"))
    assert any(k.startswith("ema_") for k in compiled)
    for key, value in eager.items():
        assert torch.allclose(compiled[key], value, atol=1e-2), key  # bf16 kernels may round apart


@pytest.mark.slow
def test_inductor_compiles_and_trains_end_to_end(tmp_path, run_hyrun):
    run_dir = tmp_path / "run"
    proc = run_hyrun(*BASE, "runner.max_epochs=1", "compile=true", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = (run_dir / "hyrun.log").read_text()
    assert "backend='inductor'" in log and "torch.compile warm-up" in log


@pytest.mark.slow
def test_a_backend_that_cannot_run_here_stops_before_training(tmp_path, run_hyrun):
    """inductor without a C++ compiler (CXX names one that does not exist): a short error."""
    from tests.conftest import hyrun_env

    run_dir = tmp_path / "run"
    proc = run_hyrun(*BASE, "runner.max_epochs=1", "compile=true", f"hydra.run.dir={run_dir}", cwd=tmp_path,
                     env=hyrun_env(CXX="/nonexistent/c++", TORCHINDUCTOR_CACHE_DIR=str(tmp_path / "cache")))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "compile.backend='inductor' is not valid: expected a backend that runs on this machine" in proc.stderr
    assert not (run_dir / "metrics.jsonl").exists()
