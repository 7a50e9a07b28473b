"""What hyrun allows through Hydra 1.4's execution whitelist (``hyrun.trusted_targets``): its own
parts, custom_imports, and the targets a job's config names outside the standard library
(tools/test_newest.sh runs the end-to-end tests on 1.4: a model of one's own in ``-cd my_conf``)."""
from __future__ import annotations

from omegaconf import OmegaConf

from hyrun.trusted_targets import HYRUN_TARGETS, config_targets, trusted_targets


def test_a_jobs_own_targets_are_allowed_as_they_are_but_not_the_standard_librarys():
    cfg = OmegaConf.create({
        "model": {"_target_": "my_pkg.models.ResNet", "depth": 18},
        "data": {"_target_": "torchvision.datasets.CIFAR10", "root": "${oc.env:HOME}"},
        "custom_hooks": {"bad": {"_target_": "os.system", "command": "true"},
                         "later": {"_target_": "${model._target_}"}},
        "evaluation": {"metric": [{"_target_": "my_pkg.metrics.f1", "rule": "greater"}, "accuracy"]},
    })
    assert config_targets(cfg) == ["my_pkg.models.ResNet", "torchvision.datasets.CIFAR10", "my_pkg.metrics.f1"]
    patterns = trusted_targets(["my_pkg.parts"], cfg)
    assert patterns[:len(HYRUN_TARGETS)] == list(HYRUN_TARGETS)
    assert "my_pkg.parts.*" in patterns and "my_pkg.models.ResNet" in patterns
    assert not any(pattern.startswith("os.") for pattern in patterns)
    assert trusted_targets(["os"], cfg).count("os.*") == 1  # named in custom_imports: the user's choice
