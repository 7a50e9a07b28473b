"""The optimizer hook: accumulation, clipping, mixed precision, anomalous parameters."""
from __future__ import annotations

import logging

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from hyrun import EpochBasedRunner, Hook
from hyrun.checkpoint import runner_state
from hyrun.hooks.optimizer import OptimizerHook

generator = torch.Generator().manual_seed(0)
X, Y = torch.randn(48, 6, generator=generator), torch.randint(0, 3, (48,), generator=generator)


class NormRecordingSGD(torch.optim.SGD):
    """SGD that records the gradients' total norm and largest element at each step."""

    def __init__(self, params, **kwargs):
        super().__init__(params, **kwargs)
        self.norms, self.largest = [], []

    def step(self, closure=None):
        grads = [p.grad for g in self.param_groups for p in g["params"] if p.grad is not None]
        self.norms.append(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])).item())
        self.largest.append(max(g.abs().max().item() for g in grads))
        return super().step(closure)


def train(batch_size, hook, max_epochs=1, model=None, optimizer_cls=torch.optim.SGD, samples=48, **runner_kwargs):
    torch.manual_seed(0)
    model = model or nn.Linear(6, 3)
    optimizer = optimizer_cls(model.parameters(), lr=0.1, momentum=0.9)
    loader = DataLoader(TensorDataset(X[:samples], Y[:samples]), batch_size=batch_size)  # fixed order
    runner = EpochBasedRunner(model, optimizer, {"train": loader}, "/tmp/unused", max_epochs=max_epochs,
                              logger=logging.getLogger("hyrun.test"), **runner_kwargs)
    runner.register_hook(hook)
    runner.run([("train", 1)])
    return runner


@pytest.mark.parametrize("batch", [8, 16], ids=["4x8=32", "2x16=32"])
def test_accumulating_small_batches_equals_one_large_batch(batch):
    large = train(32, OptimizerHook(), max_epochs=3, samples=32)  # a step an epoch
    small = train(batch, OptimizerHook(cumulative_iters=32 // batch), max_epochs=3, samples=32)
    for a, b in zip(large.model.parameters(), small.model.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_the_remainder_is_divided_by_its_own_length():
    # 48 samples in batches of 8 with cumulative_iters=4 over one epoch: a step of 4
    # iterations, then a last step of the remaining 2, whose losses are divided by 2
    large = DataLoader(TensorDataset(X, Y), batch_size=32)
    assert [len(b[0]) for b in large] == [32, 16]
    whole = train(32, OptimizerHook())
    accumulated = train(8, OptimizerHook(cumulative_iters=4))
    for a, b in zip(whole.model.parameters(), accumulated.model.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_clipping_by_norm_bounds_the_norm_and_logs_it_before_clipping():
    runner = train(8, OptimizerHook(grad_clip={"max_norm": 0.05, "norm_type": 2}), optimizer_cls=NormRecordingSGD)
    assert max(runner.optimizer.norms) <= 0.05 * (1 + 1e-5)
    logged = [float(v) for v in runner.log_buffer.history["grad_norm"]]
    assert len(logged) == 6 and min(logged) > 0.05  # the norms before clipping
    unclipped = train(8, OptimizerHook(), optimizer_cls=NormRecordingSGD)
    assert unclipped.optimizer.norms[0] == pytest.approx(logged[0], rel=1e-6)


def test_clipping_by_value_bounds_each_element():
    runner = train(8, OptimizerHook(grad_clip={"type": "value", "clip_value": 0.01}), optimizer_cls=NormRecordingSGD)
    assert max(runner.optimizer.largest) <= 0.01
    assert "grad_norm" not in runner.log_buffer.history


class DtypeProbe(nn.Linear):
    """Records the dtype of its output during training steps."""

    def __init__(self):
        super().__init__(6, 3)
        self.dtypes = []

    def forward(self, x):
        out = super().forward(x)
        if self.training:
            self.dtypes.append(out.dtype)
        return out


def test_bf16_autocast_on_cpu_runs_the_forward_in_bf16():
    model = DtypeProbe()
    runner = train(8, OptimizerHook(amp={"dtype": "auto"}), model=model)
    assert set(model.dtypes) == {torch.bfloat16} and len(model.dtypes) == 6
    assert runner.model.weight.dtype == torch.float32  # weights and the step stay in float32
    assert torch.is_autocast_enabled("cpu") is False  # nothing left switched on


def test_fp16_scaler_state_goes_into_checkpoints_and_comes_back(tmp_path):
    hook = OptimizerHook(amp={"dtype": "float16", "loss_scale": 512.0})
    runner = train(8, hook)
    assert hook.scaler.get_scale() == 512.0  # static: never grows or backs off
    state = runner_state(runner, epoch=1, iter=6)
    assert state["hooks"]["OptimizerHook"]["scaler"]["scale"] == 512.0
    torch.save(state, tmp_path / "c.pth")
    restored = OptimizerHook(amp={"dtype": "float16"})  # dynamic, but resumed from the file
    restored.after_load_checkpoint(runner, torch.load(tmp_path / "c.pth", weights_only=True))
    resumed = train(8, restored)
    assert resumed is not None and restored.scaler.get_scale() >= 512.0 / 2


def test_dynamic_loss_scale_grows_after_its_interval():
    hook = OptimizerHook(amp={"dtype": "float16", "loss_scale": {"init_scale": 4.0, "growth_interval": 2}})
    train(8, hook)
    assert hook.scaler.get_scale() == 4.0 * 2 ** 3  # 6 good steps, growth every 2


def test_anomalous_parameters_are_named(caplog):
    class HalfUsed(nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.unused = nn.Linear(6, 3), nn.Linear(6, 3)

        def forward(self, x):
            return self.used(x)

    with caplog.at_level(logging.ERROR, logger="hyrun.test"):
        train(48, OptimizerHook(detect_anomalous_params=True), model=HalfUsed())
    messages = [r.getMessage() for r in caplog.records]
    assert "unused.weight with shape (3, 6) is not in the computational graph" in messages
    assert not any(m.startswith("used.") for m in messages)


def test_the_step_uses_the_lr_that_higher_priority_hooks_set():
    class ZeroLr(Hook):
        priority = 10  # VERY_HIGH, as the lr hook

        def before_train_iter(self, runner):
            for group in runner.optimizer.param_groups:
                group["lr"] = 0.0

    torch.manual_seed(0)
    model = nn.Linear(6, 3)
    before = [p.detach().clone() for p in model.parameters()]
    runner = EpochBasedRunner(model, torch.optim.SGD(model.parameters(), lr=0.1), {"train": DataLoader(
        TensorDataset(X, Y), batch_size=8)}, "/tmp/unused", max_epochs=1, logger=logging.getLogger("hyrun.test"))
    runner.register_hook(OptimizerHook())
    runner.register_hook(ZeroLr())
    runner.run([("train", 1)])
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
