_base_ = ['../_base_/models/resnet50.py', '../_base_/default_runtime.py']

model = dict(head=dict(num_classes=10))

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, nesterov=True),
    clip_grad=dict(type='value', clip_value=1.0))

# iteration-based: validate every 200 iterations, one-cycle on lr and momentum
train_cfg = dict(type='IterBasedTrainLoop', max_iters=1000, val_interval=200)
val_cfg = None
param_scheduler = [
    dict(type='OneCycleLR', eta_max=0.5, pct_start=0.25, by_epoch=False, total_steps=1000),
    dict(type='CosineRestartLR', periods=[500, 500], restart_weights=[1, 0.5], by_epoch=False),
    dict(type='StepMomentum', step_size=400, gamma=0.9, by_epoch=False),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=-1, save_last=True),
    param_scheduler=None)
log_processor = dict(by_epoch=False)
resume = True
randomness = dict(seed=3407, diff_rank_seed=True)
