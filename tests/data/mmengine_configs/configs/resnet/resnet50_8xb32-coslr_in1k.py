_base_ = ['./resnet50_8xb32_in1k.py']

# schedule settings: the base's MultiStepLR replaced by a warmup and a cosine
param_scheduler = [
    dict(type='LinearLR', start_factor=0.25, by_epoch=False, begin=0, end=500),
    dict(type='CosineAnnealingLR', T_max=100, by_epoch=True, begin=0, end=100)
]

randomness = dict(seed=0, deterministic=True)
