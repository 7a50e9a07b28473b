"""The config system: groups compose into typed nodes that build what they say."""
from __future__ import annotations

import pytest
import torch
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from hyrun.build import build_data
from hyrun.config.optimizers import optimizer_fields
from hyrun.config.validate import validate
from hyrun.optim.builder import build_optimizer
from tests.helpers import composed, published


def test_default_experiment_composes_and_validates():
    cfg = composed()
    validate(cfg)
    assert cfg.model._target_.endswith("DigitsCNN") and cfg.data._target_.endswith("digits")
    assert cfg.optimizer._target_ == "torch.optim.SGD" and cfg.optimizer.lr == 0.02
    assert OmegaConf.to_container(cfg.workflow.phases) == [["train", 1]]
    assert list(cfg.logger) == ["text"]


@pytest.mark.parametrize("name", sorted(n.lower() for n in optimizer_fields()))
def test_every_torch_optimizer_is_an_option_that_builds(name):
    cfg = composed(f"optimizer={name}", "model=mlp", "data=synthetic")
    model = torch.nn.Linear(4, 2, bias=False)  # Muon takes 2-D parameters only
    optimizer = build_optimizer(model, cfg.optimizer)
    assert type(optimizer).__name__.lower() == name
    assert optimizer.param_groups[0]["lr"] == cfg.optimizer.lr


def test_optimizer_fields_are_typed_and_overridable():
    cfg = composed("optimizer=adam", "optimizer.lr=0.001", "optimizer.betas=[0.8,0.9]", "optimizer.amsgrad=true")
    optimizer = build_optimizer(torch.nn.Linear(2, 2), cfg.optimizer)
    group = optimizer.param_groups[0]
    assert (group["lr"], tuple(group["betas"]), group["amsgrad"], group["weight_decay"]) == (0.001, (0.8, 0.9), True, 0.0001)
    with pytest.raises(ConfigCompositionException):
        composed("optimizer=adam", "optimizer.momentum=0.9")  # Adam has no momentum


def test_sgd_momentum_is_a_float_field_though_torch_defaults_it_to_int_zero():
    cfg = composed("optimizer=rmsprop", "optimizer.momentum=0.5")
    assert isinstance(cfg.optimizer.momentum, float)
    with pytest.raises(ConfigCompositionException):
        composed("optimizer=lbfgs", "optimizer.max_iter=2.5")  # an int field


def test_yaml_presets_are_checked_against_their_schema():
    cfg = composed("workflow=train_val")
    assert OmegaConf.to_container(cfg.workflow.phases) == [["train", 1], ["val", 1]]
    assert OmegaConf.get_type(cfg.workflow).__name__ == "WorkflowConfig"
    with pytest.raises(ConfigCompositionException, match="phase"):
        composed("workflow=train_val", "workflow.phase=[]")


def test_several_hooks_and_loggers_compose_side_by_side():
    cfg = composed("hooks=[empty_cache]", "+custom_hooks.mine._target_=hyrun.hooks.empty_cache.EmptyCacheHook")
    assert list(cfg.hooks) == ["empty_cache"] and cfg.hooks.empty_cache.priority == "NORMAL"
    assert cfg.custom_hooks.mine._target_.endswith("EmptyCacheHook")


def test_mlp_follows_the_data_it_is_given():
    cfg = composed("model=mlp", "data=synthetic", "data.in_features=7", "data.num_classes=3")
    assert (cfg.model.in_features, cfg.model.num_classes) == (7, 3)
    assert composed("model=mlp").model.in_features == 64  # the digits images


def test_synthetic_epoch_length_is_ceil_of_samples_over_batch():
    cfg = composed("data=synthetic", "data.num_samples=100", "data.batch_size=32")
    loaders = build_data(cfg.data, seed=0)
    assert len(loaders["train"]) == 4 and len(loaders["val"]) == 8
    cfg = composed("data=synthetic", "data.num_samples=100", "data.batch_size=32", "data.drop_last=true")
    assert len(build_data(cfg.data, seed=0)["train"]) == 3


def test_data_order_depends_on_seed_and_epoch_only():
    cfg = composed("data=synthetic", "data.num_samples=64", "data.batch_size=64")
    first = build_data(cfg.data, seed=1)["train"]
    again = build_data(cfg.data, seed=1)["train"]
    other = build_data(cfg.data, seed=2)["train"]

    def order(loader, epoch):
        loader.sampler.set_epoch(epoch)
        return next(iter(loader))[0]

    assert torch.equal(order(first, 3), order(again, 3))
    assert not torch.equal(order(first, 3), order(first, 4))
    assert not torch.equal(order(first, 3), order(other, 3))


def test_digits_data_is_the_scikit_learn_set():
    from sklearn.datasets import load_digits

    cfg = composed()
    loaders = build_data(cfg.data, seed=0)
    train, val = loaders["train"].dataset, loaders["val"].dataset
    assert len(train) + len(val) == 1797 and len(val) == round(1797 * 0.2)
    images = torch.cat([train.tensors[0], val.tensors[0]]).reshape(-1, 64) * 16
    reference = torch.tensor(load_digits().data, dtype=torch.float32)
    assert torch.equal(images.sum(0), reference.sum(0))


def test_paramwise_cfg_from_the_config_makes_mmcvs_groups():
    cfg = composed("optimizer.paramwise_cfg.norm_decay_mult=0", "optimizer.paramwise_cfg.bias_lr_mult=2",
                   "+optimizer.paramwise_cfg.custom_keys.9={lr_mult:0.1}")
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(),
                                *[torch.nn.Identity()] * 6, torch.nn.Linear(4, 2))
    optimizer = build_optimizer(model, cfg.optimizer)
    groups = {id(g["params"][0]): g for g in optimizer.param_groups}
    conv, bn, linear = model[0], model[1], model[9]
    lr, wd = 0.02, 0.0001
    assert (groups[id(conv.weight)]["lr"], groups[id(conv.weight)]["weight_decay"]) == (lr, wd)
    assert (groups[id(conv.bias)]["lr"], groups[id(conv.bias)]["weight_decay"]) == (lr * 2, wd)
    assert groups[id(bn.weight)]["weight_decay"] == 0 and groups[id(bn.bias)]["lr"] == lr
    assert groups[id(linear.weight)]["lr"] == pytest.approx(lr * 0.1)  # "9." is in "9.weight"
    assert len(optimizer.param_groups) == 6


def test_no_paramwise_cfg_means_one_group():
    optimizer = build_optimizer(torch.nn.Linear(3, 2), composed().optimizer)
    assert len(optimizer.param_groups) == 1


def test_amp_bf16_on_cpu_end_to_end(tmp_path):
    import logging

    from hyrun.build import build_runner

    cfg = composed("model=mlp", "data=synthetic", "data.num_samples=256", "runner.max_epochs=3", "optimizer_config=amp",
                   "log_config.progress_bar=false", "optimizer.lr=0.1")
    runner = build_runner(cfg, tmp_path, logging.getLogger("hyrun.test"))
    records = published(runner)
    runner.run([("train", 1)])
    hook = next(h for h in runner.hooks if type(h).__name__ == "OptimizerHook")
    assert hook._autocast_args["dtype"] == torch.bfloat16 and hook.scaler is None
    accuracy = [r["accuracy"] for r in records if "accuracy" in r]
    assert accuracy[-1] > accuracy[0]  # it learns


def test_storing_the_options_does_not_import_torch(tmp_path):
    """--help and --cfg compose without torch (~2 s): the hooks' and loggers' options come from
    their classes' signatures, the optimizers' from a cache of torch's (filled by the first run)."""
    import subprocess
    import sys

    code = ("import sys; from hyrun.config.store import register_configs; register_configs(); "
            "print(sorted(m for m in ('torch', 'mlflow', 'tensorboard') if m in sys.modules))")
    env = {**__import__("os").environ, "XDG_CACHE_HOME": str(tmp_path)}
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
            for _ in range(2)]
    assert all(run.returncode == 0 for run in runs), runs[-1].stderr
    assert runs[0].stdout.strip() == "['torch']"  # reads torch's optimizers once, into the cache
    assert runs[1].stdout.strip() == "[]"


def test_an_option_becomes_a_config_only_when_hydra_loads_it_and_each_load_is_its_own_copy():
    """hyrun stores its ~70 options without making their configs (README "Start-up"): a run
    loads ~20 of them; what Hydra loads is the schema's config, a fresh copy each time."""
    from hydra.core.config_store import ConfigStore

    from hyrun.config.schedules import lr_schemas

    cfg = composed("data=synthetic", "model=mlp", "lr_config=step")
    assert cfg.lr_config.policy == "step" and cfg.optimizer.lr == 0.02
    cs = ConfigStore.instance()
    assert cs.repo["lr_config"]["cyclic.yaml"]._made is None  # not selected: never made
    first, second = cs.load("lr_config/cyclic.yaml").node, cs.load("lr_config/cyclic.yaml").node
    assert first == OmegaConf.structured(lr_schemas()["cyclic"])
    first.target_ratio = [99.0, 1.0]
    assert second.target_ratio != first.target_ratio and cs.load("lr_config/cyclic.yaml").node == second
    assert cs.list("lr_config") == sorted(f"{name}.yaml" for name in lr_schemas())
