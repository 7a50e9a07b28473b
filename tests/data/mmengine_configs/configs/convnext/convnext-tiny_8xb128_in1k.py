# An MMEngine pure-Python config: the bases are imported, classes are named by their module.
from mmengine.config import read_base

with read_base():
    from .._base_.datasets.imagenet_bs32 import *
    from .._base_.default_runtime import *
    from .._base_.models.resnet50 import *

from mmengine.hooks import EMAHook
from mmengine.optim import CosineAnnealingLR, LinearLR, OptimWrapper
from torch.optim import AdamW

model.update(dict(backbone=dict(depth=101)))
train_dataloader.batch_size = 128

optim_wrapper = dict(
    type=OptimWrapper,
    optimizer=dict(type=AdamW, lr=4e-3, weight_decay=0.05),
    clip_grad=None)

param_scheduler = [
    dict(type=LinearLR, start_factor=1e-3, by_epoch=True, end=20, convert_to_iter_based=True),
    dict(type=CosineAnnealingLR, eta_min=1e-5, by_epoch=True, begin=20),
]

train_cfg = dict(by_epoch=True, max_epochs=300, val_interval=1)
val_cfg = dict()
default_hooks.checkpoint.max_keep_ckpts = 2
custom_hooks = [dict(type=EMAHook, momentum=1e-4, priority='ABOVE_NORMAL')]
auto_scale_lr = dict(base_batch_size=4096)
