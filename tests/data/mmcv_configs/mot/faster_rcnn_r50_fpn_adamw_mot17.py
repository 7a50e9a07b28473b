# A detector config inheriting a model, a dataset, the runtime and the 1x schedule, as
# MMTracking's do, and replacing the optimizer with _delete_=True.
_base_ = [
    '../_base_/models/faster_rcnn_r50_fpn.py',
    '../_base_/datasets/mot_challenge.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_1x.py',
]
base_lr = 1e-4 * 2
# AdamW takes no momentum: without _delete_ the base's momentum=0.9 would be inherited
optimizer = dict(
    _delete_=True,
    type='AdamW',
    lr=base_lr,
    betas=(0.9, 0.999),
    weight_decay=0.05,
    paramwise_cfg=dict(norm_decay_mult=0., custom_keys={'backbone': dict(lr_mult=0.1)}))
optimizer_config = dict(_delete_=True, grad_clip=dict(max_norm=35, norm_type=2))
# merged into the base's: the linear warmup stays, the steps change
lr_config = dict(step=[3])
runner = dict(max_epochs=4)
workflow = [('train', 1), ('val', 1)]
custom_hooks = [
    dict(type='EMAHook', momentum=0.0002, priority=49),
    dict(type='YOLOXModeSwitchHook', num_last_epochs=1, priority=48),
]
log_config = dict(
    interval=10,
    hooks=[
        dict(type='TextLoggerHook', by_epoch=True),
        dict(type='TensorboardLoggerHook'),
        dict(type='WandbLoggerHook', init_kwargs=dict(project='mot')),
    ])
evaluation = dict(metric=['bbox', 'track'], interval=1, save_best='auto')
fp16 = dict(loss_scale=dict(init_scale=512.))
search_metrics = ['MOTA', 'IDF1']
seed = 42
