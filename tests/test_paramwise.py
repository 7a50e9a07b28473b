"""hyrun.optim.paramwise: MMCV 1.x DefaultOptimizerConstructor semantics.

Every expected lr / weight decay below is written by hand from MMCV's rules (see the module
docstring), with base lr 0.1 and base weight decay 0.01.
"""
from __future__ import annotations

import math

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from hyrun.optim.paramwise import (
    VALID_KEYS,
    DefaultOptimizerConstructor,
    is_depthwise_conv,
    is_norm,
    paramwise_groups,
)

LR, WD = 0.1, 0.01


class Backbone(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.dw = nn.Conv2d(4, 4, 3, padding=1, groups=4)  # depthwise
        self.gn = nn.GroupNorm(2, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gn(self.dw(self.bn1(self.conv1(x))))


class Head(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.ln = nn.LayerNorm(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ln(self.fc(x))


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = Backbone()
        self.head = Head()
        self.scale = nn.Parameter(torch.ones(3))  # a 1-D parameter of the root, in no category

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x).mean((2, 3))) * self.scale


# The walk order: the root's own parameters, then the children depth-first.
NAMES = ["scale",
         "backbone.conv1.weight", "backbone.conv1.bias", "backbone.bn1.weight", "backbone.bn1.bias",
         "backbone.dw.weight", "backbone.dw.bias", "backbone.gn.weight", "backbone.gn.bias",
         "head.fc.weight", "head.fc.bias", "head.ln.weight", "head.ln.bias"]
BACKBONE = [n for n in NAMES if n.startswith("backbone.")]
NORMS = ["backbone.bn1.weight", "backbone.bn1.bias", "backbone.gn.weight", "backbone.gn.bias",
         "head.ln.weight", "head.ln.bias"]
ONE_D = ["scale", "backbone.conv1.bias", "backbone.dw.bias", "head.fc.bias", *NORMS]


def make_net() -> Net:
    torch.manual_seed(0)
    return Net()


def names_of(model: nn.Module, groups: list[dict]) -> list[str]:
    by_id = {id(p): n for n, p in model.named_parameters()}
    return [by_id[id(p)] for g in groups for p in g["params"]]


def settings(model: nn.Module, groups: list[dict], base_lr=LR, base_wd=WD) -> tuple[dict, dict]:
    """{name: lr}, {name: weight_decay} of one-parameter groups; unset keys take the optimizer's."""
    assert all(len(g["params"]) == 1 for g in groups)
    names = names_of(model, groups)
    assert len(set(names)) == len(names)
    lrs = {n: g.get("lr", base_lr) for n, g in zip(names, groups)}
    wds = {n: g.get("weight_decay", base_wd) for n, g in zip(names, groups)}
    return lrs, wds


def expected(changes: dict[str, float], default: float | None, names=NAMES) -> dict:
    out = {n: default for n in names}
    out.update(changes)
    return out


def check(model, groups, lr_changes, wd_changes, base_wd=WD):
    lrs, wds = settings(model, groups, base_wd=base_wd)
    assert names_of(model, groups) == NAMES
    assert lrs == pytest.approx(expected(lr_changes, LR))
    if base_wd is None:
        assert all(v is None for v in wds.values())
    else:
        assert wds == pytest.approx(expected(wd_changes, base_wd))


# ----------------------------------------------------------------------------------------- groups

@pytest.mark.parametrize("cfg", [None, {}])
def test_without_paramwise_cfg_one_group_of_all_parameters(cfg):
    model = make_net()
    groups = paramwise_groups(model, LR, WD, cfg)
    assert len(groups) == 1 and set(groups[0]) == {"params"}
    assert [id(p) for p in groups[0]["params"]] == [id(p) for p in model.parameters()]


def test_one_group_per_parameter_with_keys_only_where_a_rule_applies():
    # Any non-empty paramwise_cfg gives per-parameter groups; MMCV's defaults of 1 still set
    # lr on non-norm biases and weight_decay on norm, depthwise-conv and bias parameters.
    model = make_net()
    groups = paramwise_groups(model, LR, WD, {"bypass_duplicate": False})
    keys = {n: set(g) - {"params"} for n, g in zip(names_of(model, groups), groups)}
    both, wd = {"lr", "weight_decay"}, {"weight_decay"}
    assert keys == {
        "scale": set(), "backbone.conv1.weight": set(), "backbone.conv1.bias": both,
        "backbone.bn1.weight": wd, "backbone.bn1.bias": wd,
        "backbone.dw.weight": wd, "backbone.dw.bias": both,
        "backbone.gn.weight": wd, "backbone.gn.bias": wd,
        "head.fc.weight": set(), "head.fc.bias": both, "head.ln.weight": wd, "head.ln.bias": wd,
    }
    check(model, groups, {}, {})


@pytest.mark.parametrize(("cfg", "lr_changes", "wd_changes"), [
    pytest.param({"bias_lr_mult": 2.0},
                 {"backbone.conv1.bias": 0.2, "backbone.dw.bias": 0.2, "head.fc.bias": 0.2}, {},
                 id="bias_lr_mult: all non-norm biases, depthwise included"),
    pytest.param({"bias_decay_mult": 0.5}, {},
                 {"backbone.conv1.bias": 0.005, "head.fc.bias": 0.005},
                 id="bias_decay_mult: not norm or depthwise-conv biases"),
    pytest.param({"norm_decay_mult": 0.0}, {}, dict.fromkeys(NORMS, 0.0),
                 id="norm_decay_mult: weights and biases of BN, GN, LN"),
    pytest.param({"dwconv_decay_mult": 0.1}, {},
                 {"backbone.dw.weight": 0.001, "backbone.dw.bias": 0.001},
                 id="dwconv_decay_mult: weight and bias"),
    pytest.param({"flat_decay_mult": 0.0}, {}, dict.fromkeys(ONE_D, 0.0),
                 id="flat_decay_mult: every 1-D parameter"),
])
def test_each_option_alone(cfg, lr_changes, wd_changes):
    model = make_net()
    check(model, paramwise_groups(model, LR, WD, cfg), lr_changes, wd_changes)


def test_precedence_norm_then_dwconv_then_bias():
    model = make_net()
    cfg = {"bias_lr_mult": 2.0, "bias_decay_mult": 0.0, "norm_decay_mult": 0.5, "dwconv_decay_mult": 0.1}
    check(model, paramwise_groups(model, LR, WD, cfg),
          {"backbone.conv1.bias": 0.2, "backbone.dw.bias": 0.2, "head.fc.bias": 0.2},
          {"backbone.conv1.bias": 0.0, "head.fc.bias": 0.0,
           "backbone.dw.weight": 0.001, "backbone.dw.bias": 0.001,  # dwconv beats bias
           **dict.fromkeys(NORMS, 0.005)})


def test_flat_decay_mult_yields_to_options_that_are_set():
    model = make_net()
    check(model, paramwise_groups(model, LR, WD, {"flat_decay_mult": 0.0, "norm_decay_mult": 0.5}), {},
          {**dict.fromkeys(ONE_D, 0.0), **dict.fromkeys(NORMS, 0.005)})
    cfg = {"flat_decay_mult": 0.0, "bias_decay_mult": 0.5, "dwconv_decay_mult": 0.2}
    check(model, paramwise_groups(model, LR, WD, cfg), {},
          {"scale": 0.0, **dict.fromkeys(NORMS, 0.0),
           "backbone.conv1.bias": 0.005, "head.fc.bias": 0.005,
           "backbone.dw.weight": 0.002, "backbone.dw.bias": 0.002})


def test_weight_decay_zero_is_a_weight_decay():
    model = make_net()
    groups = paramwise_groups(model, LR, 0, {"norm_decay_mult": 0.5, "flat_decay_mult": 0.0})
    assert all(g["weight_decay"] == 0 for g, n in zip(groups, names_of(model, groups)) if n in ONE_D)


# ------------------------------------------------------------------------------------ custom_keys

def test_custom_keys_override_every_other_rule():
    model = make_net()
    cfg = {"bias_lr_mult": 2.0, "norm_decay_mult": 0.0, "flat_decay_mult": 0.5,
           "custom_keys": {"backbone": {"lr_mult": 0.5, "decay_mult": 0.0}, "head.fc": {"lr_mult": 3}}}
    check(model, paramwise_groups(model, LR, WD, cfg),
          {**dict.fromkeys(BACKBONE, 0.05), "head.fc.weight": 0.3, "head.fc.bias": 0.3},
          {**dict.fromkeys(BACKBONE, 0.0), "head.fc.weight": 0.01, "head.fc.bias": 0.01,  # not bias/flat
           "head.ln.weight": 0.0, "head.ln.bias": 0.0, "scale": 0.005})


def test_custom_keys_longest_key_first():
    model = make_net()
    cfg = {"custom_keys": {"backbone": {"lr_mult": 0.5}, "backbone.dw": {"lr_mult": 0.25},
                           "backbone.nothing.here": {"lr_mult": 9}}}
    check(model, paramwise_groups(model, LR, WD, cfg),
          {**dict.fromkeys(BACKBONE, 0.05), "backbone.dw.weight": 0.025, "backbone.dw.bias": 0.025}, {})


@pytest.mark.parametrize("keys", [{"conv1": {"lr_mult": 3}, "bone.": {"lr_mult": 0.5}},
                                  {"bone.": {"lr_mult": 0.5}, "conv1": {"lr_mult": 3}}],
                         ids=["later-inserted", "first-inserted"])
def test_custom_keys_equal_length_alphabetical_first_wins(keys):
    # "bone." and "conv1" (5 characters) are both in "backbone.conv1.weight"; "bone." < "conv1".
    model = make_net()
    check(model, paramwise_groups(model, LR, WD, {"custom_keys": keys}), dict.fromkeys(BACKBONE, 0.05), {})


def test_custom_key_matches_root_parameters_with_a_leading_dot():
    # MMCV matches against f"{prefix}.{name}", which is ".scale" for a parameter of the root module.
    model = make_net()
    check(model, paramwise_groups(model, LR, WD, {"custom_keys": {".scale": {"decay_mult": 0.0}}}),
          {}, {"scale": 0.0})
    check(model, paramwise_groups(model, LR, WD, {"custom_keys": {".conv1.": {"lr_mult": 2}}}),
          {"backbone.conv1.weight": 0.2, "backbone.conv1.bias": 0.2}, {})


def test_custom_key_with_only_lr_mult_keeps_the_base_decay():
    model = make_net()
    groups = paramwise_groups(model, LR, WD, {"norm_decay_mult": 0.0, "custom_keys": {"bn1": {"lr_mult": 2}}})
    bn = {n: g for n, g in zip(names_of(model, groups), groups) if ".bn1." in n}
    assert [(g["lr"], g["weight_decay"]) for g in bn.values()] == [(pytest.approx(0.2), WD)] * 2
    groups = paramwise_groups(model, LR, None, {"custom_keys": {"bn1": {"lr_mult": 2}}})
    bn = [g for n, g in zip(names_of(model, groups), groups) if ".bn1." in n]
    assert [set(g) for g in bn] == [{"params", "lr"}] * 2  # no optimizer decay: no key at all


# ---------------------------------------------------------------------------------- weight decay

@pytest.mark.parametrize("cfg", [{"bias_decay_mult": 1.0}, {"norm_decay_mult": 0.0}, {"dwconv_decay_mult": 0.5},
                                 {"flat_decay_mult": 0.0}, {"custom_keys": {"head": {"decay_mult": 0.0}}}])
def test_decay_multiplier_without_weight_decay_is_an_error(cfg):
    with pytest.raises(ValueError, match="no weight_decay"):
        paramwise_groups(make_net(), LR, None, cfg)
    for opt in ({"_target_": "torch.optim.SGD", "lr": LR},
                {"_target_": "torch.optim.SGD", "lr": LR, "weight_decay": None}):
        with pytest.raises(ValueError, match="no weight_decay"):
            DefaultOptimizerConstructor(opt, cfg)


def test_lr_options_without_weight_decay_leave_decay_unset():
    model = make_net()
    groups = paramwise_groups(model, LR, None, {"bias_lr_mult": 2.0, "norm_decay_mult": None})
    check(model, groups, {"backbone.conv1.bias": 0.2, "backbone.dw.bias": 0.2, "head.fc.bias": 0.2}, {},
          base_wd=None)


# ------------------------------------------------------------------------------------- duplicates

class Tied(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(3, 3)
        self.b = nn.Linear(3, 3)
        self.b.weight = self.a.weight


def test_shared_parameter_without_bypass_duplicate_is_an_error():
    # MMCV puts it in two groups, which torch refuses with a ValueError; we refuse it first, by name.
    with pytest.raises(ValueError, match=r"'b\.weight' is the same tensor as 'a\.weight'.*bypass_duplicate"):
        paramwise_groups(Tied(), LR, WD, {"bias_lr_mult": 2.0})
    p = nn.Parameter(torch.zeros(1))
    with pytest.raises(ValueError):
        torch.optim.SGD([{"params": [p]}, {"params": [p]}], lr=LR)


def test_bypass_duplicate_keeps_the_first_name_with_a_warning():
    model = Tied()
    with pytest.warns(UserWarning, match=r"b\.weight is the same parameter as a\.weight"):
        groups = paramwise_groups(model, LR, WD, {"bypass_duplicate": True, "custom_keys": {"b.": {"lr_mult": 2}}})
    assert names_of(model, groups) == ["a.weight", "a.bias", "b.bias"]
    lrs, _ = settings(model, groups)
    assert lrs == pytest.approx({"a.weight": LR, "a.bias": LR, "b.bias": 0.2})


def test_module_under_two_parents_is_a_duplicate():
    model = nn.Module()
    model.enc = nn.Linear(2, 2)
    model.dec = nn.Sequential(model.enc)
    with pytest.raises(ValueError, match=r"dec\.0\.weight"):
        paramwise_groups(model, LR, WD, {"bias_lr_mult": 1.0})
    with pytest.warns(UserWarning):
        groups = paramwise_groups(model, LR, WD, {"bias_lr_mult": 1.0, "bypass_duplicate": True})
    assert names_of(model, groups) == ["enc.weight", "enc.bias"]


def test_module_twice_under_one_parent_is_seen_once():
    # nn.Module.named_children() skips a child instance it already yielded: no duplicate, and the
    # second name never exists for custom_keys.
    model = nn.Module()
    model.a = model.b = nn.Linear(2, 2)
    groups = paramwise_groups(model, LR, WD, {"custom_keys": {"b.": {"lr_mult": 2}}})
    assert names_of(model, groups) == ["a.weight", "a.bias"]
    assert settings(model, groups)[0] == {"a.weight": LR, "a.bias": LR}


# ---------------------------------------------------------------------------------------- frozen

def test_frozen_parameters_get_bare_groups():
    model = make_net()
    for p in (model.backbone.conv1.weight, *model.backbone.bn1.parameters()):
        p.requires_grad_(False)
    cfg = {"bias_lr_mult": 2.0, "norm_decay_mult": 0.0, "custom_keys": {"conv1": {"lr_mult": 3}}}
    groups = paramwise_groups(model, LR, WD, cfg)
    assert names_of(model, groups) == NAMES
    frozen = {"backbone.conv1.weight", "backbone.bn1.weight", "backbone.bn1.bias"}
    assert all(set(g) == {"params"} for n, g in zip(NAMES, groups) if n in frozen)
    check(model, groups, {"backbone.conv1.bias": 0.3, "backbone.dw.bias": 0.2, "head.fc.bias": 0.2},
          {"backbone.gn.weight": 0.0, "backbone.gn.bias": 0.0, "head.ln.weight": 0.0, "head.ln.bias": 0.0})


def test_frozen_shared_parameter_is_bypassed_too():
    model = Tied()
    model.a.weight.requires_grad_(False)
    with pytest.warns(UserWarning):
        groups = paramwise_groups(model, LR, WD, {"bypass_duplicate": True})
    assert names_of(model, groups) == ["a.weight", "a.bias", "b.bias"]


# ----------------------------------------------------------------------------------- constructor

SGD = {"_target_": "torch.optim.SGD", "lr": LR, "momentum": 0.9, "weight_decay": WD}


def test_constructor_without_paramwise_cfg_one_group_frozen_included():
    model = make_net()
    model.scale.requires_grad_(False)
    for cfg in (None, {}):
        opt = DefaultOptimizerConstructor(SGD, cfg)(model)
        assert isinstance(opt, torch.optim.SGD) and len(opt.param_groups) == 1
        group = opt.param_groups[0]
        assert (group["lr"], group["weight_decay"], group["momentum"]) == (LR, WD, 0.9)
        assert [id(p) for p in group["params"]] == [id(p) for p in model.parameters()]


def test_constructor_groups_and_step():
    model = make_net()
    model.backbone.conv1.weight.requires_grad_(False)
    cfg = {"bias_lr_mult": 2.0, "norm_decay_mult": 0.0, "custom_keys": {"head.fc": {"lr_mult": 3, "decay_mult": 0.5}}}
    opt = DefaultOptimizerConstructor(SGD, cfg)(model)
    assert isinstance(opt, torch.optim.SGD) and len(opt.param_groups) == len(NAMES)
    check(model, opt.param_groups,
          {"backbone.conv1.bias": 0.2, "backbone.dw.bias": 0.2, "head.fc.weight": 0.3, "head.fc.bias": 0.3},
          {**dict.fromkeys(NORMS, 0.0), "head.fc.weight": 0.005, "head.fc.bias": 0.005})
    assert all(g["momentum"] == 0.9 for g in opt.param_groups)

    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    model(torch.randn(2, 3, 5, 5)).sum().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    opt.step()
    params = dict(model.named_parameters())
    # First SGD step with momentum: buf = grad + wd * p; p -= lr * buf.
    for name, lr, wd in [("head.fc.weight", 0.3, 0.005), ("backbone.bn1.weight", LR, 0.0),
                         ("backbone.dw.bias", 0.2, WD), ("scale", LR, WD)]:
        want = before[name] - lr * (grads[name] + wd * before[name])
        torch.testing.assert_close(params[name].detach(), want)
    assert torch.equal(params["backbone.conv1.weight"], before["backbone.conv1.weight"])


def test_constructor_takes_omegaconf_nodes():
    model = make_net()
    opt_cfg = OmegaConf.create({"_target_": "torch.optim.AdamW", "lr": LR, "weight_decay": WD,
                                "betas": [0.9, 0.99], "_convert_": "all"})
    pw_cfg = OmegaConf.create({"flat_decay_mult": 0.0, "custom_keys": {"head": {"lr_mult": 0.5}}})
    opt = DefaultOptimizerConstructor(opt_cfg, pw_cfg)(model)
    assert isinstance(opt, torch.optim.AdamW)
    check(model, opt.param_groups,
          {"head.fc.weight": 0.05, "head.fc.bias": 0.05, "head.ln.weight": 0.05, "head.ln.bias": 0.05},
          {n: 0.0 for n in ONE_D if not n.startswith("head.")})
    assert list(opt.param_groups[0]["betas"]) == [0.9, 0.99]


def test_constructor_config_errors():
    with pytest.raises(ValueError, match="_target_"):
        DefaultOptimizerConstructor({"lr": LR})
    with pytest.raises(ValueError, match="lr"):
        DefaultOptimizerConstructor({"_target_": "torch.optim.SGD", "weight_decay": WD}, {"bias_lr_mult": 2.0})
    with pytest.raises(ValueError, match="unknown key 'norm_decay_mul'"):
        DefaultOptimizerConstructor(SGD, {"norm_decay_mul": 0.0})  # at construction, as MMCV


def test_data_parallel_is_unwrapped_but_a_child_named_module_is_not():
    model = make_net()
    groups = paramwise_groups(nn.DataParallel(model), LR, WD, {"custom_keys": {"backbone.": {"lr_mult": 2}}})
    check(model, groups, dict.fromkeys(BACKBONE, 0.2), {})
    outer = nn.Module()
    outer.module = nn.Linear(2, 2)
    outer.other = nn.Linear(2, 2)
    assert len(paramwise_groups(outer, LR, WD, {"bias_lr_mult": 1.0})) == 4


# ------------------------------------------------------------------------------------ validation

@pytest.mark.parametrize(("cfg", "message"), [
    ({"norm_decay": 0.0}, r"unknown key 'norm_decay'.*valid keys: bias_lr_mult, .*custom_keys, bypass_duplicate"),
    ({"dcn_offset_lr_mult": 0.1}, r"unknown key 'dcn_offset_lr_mult' \(it only acts on mmcv\.ops"),
    ({"bias_lr_mult": -1}, r"bias_lr_mult must be a finite number >= 0"),
    ({"norm_decay_mult": True}, r"norm_decay_mult must be"),
    ({"dwconv_decay_mult": "0.1"}, r"dwconv_decay_mult must be"),
    ({"flat_decay_mult": math.nan}, r"flat_decay_mult must be"),
    ({"custom_keys": ["backbone"]}, r"custom_keys must be a mapping"),
    ({"custom_keys": {"backbone": 0.1}}, r"custom_keys\['backbone'\] must be a mapping"),
    ({"custom_keys": {"backbone": {"momentum": 0.5}}}, r"unknown field 'momentum'; valid fields: lr_mult, decay_mult"),
    ({"custom_keys": {"backbone": {"lr_mult": -0.1}}}, r"custom_keys\['backbone'\]\.lr_mult must be"),
    ({"bypass_duplicate": "yes"}, r"bypass_duplicate must be true or false"),
])
def test_invalid_paramwise_cfg(cfg, message):
    with pytest.raises(ValueError, match=message):
        paramwise_groups(make_net(), LR, WD, cfg)


def test_valid_keys():
    assert VALID_KEYS == ("bias_lr_mult", "bias_decay_mult", "norm_decay_mult", "dwconv_decay_mult",
                          "flat_decay_mult", "custom_keys", "bypass_duplicate")


# ---------------------------------------------------------------------------- module categories

def test_module_categories_follow_mmcv():
    assert all(is_norm(m) for m in (nn.BatchNorm1d(2), nn.BatchNorm3d(2), nn.SyncBatchNorm(2),
                                     nn.InstanceNorm2d(2, affine=True), nn.GroupNorm(1, 2), nn.LayerNorm(2)))
    assert not is_norm(nn.Linear(2, 2))
    if hasattr(nn, "RMSNorm"):
        assert not is_norm(nn.RMSNorm(2))  # not in MMCV's list
    assert is_depthwise_conv(nn.Conv2d(4, 4, 3, groups=4))
    assert is_depthwise_conv(nn.Conv2d(4, 8, 3, groups=4))  # channel multiplier 2
    assert is_depthwise_conv(nn.Conv2d(1, 8, 3))  # quirk: one input channel, groups 1
    assert not is_depthwise_conv(nn.Conv2d(4, 4, 3, groups=2))
    assert not is_depthwise_conv(nn.Conv1d(4, 4, 3, groups=4))  # only Conv2d
    assert not is_depthwise_conv(nn.ConvTranspose2d(4, 4, 3, groups=4))
