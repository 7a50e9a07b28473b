# Every MMCV hook type and logger that hyrun has built in, with their arguments, and the
# runtime settings that carry over.
custom_hooks = [
    dict(type='EMAHook', momentum=0.001, interval=2, warm_up=10, resume_from=None),
    dict(type='EmptyCacheHook', after_iter=True, priority='LOW'),
    dict(type='SyncBuffersHook', distributed=True),
    dict(type='ProfilerHook', schedule=dict(wait=2, warmup=1, active=2), record_shapes=True),
    dict(type='EarlyStoppingHook', monitor='loss', patience=2, min_delta=0.01),
    dict(type='CheckInvalidLossHook', interval=50, priority='VERY_LOW'),
]
log_config = dict(
    interval=5,
    hooks=[
        dict(type='TextLoggerHook', by_epoch=False, ignore_last=False),
        dict(type='MlflowLoggerHook', exp_name='mot', tags=dict(team='tracking', stage=2), params=dict(a=1)),
    ])
checkpoint_config = dict(interval=2, max_keep_ckpts=3, save_optimizer=False, sync_buffer=True)
evaluation = dict(interval=2, start=1, metric=['accuracy', 'top5_accuracy'], save_best='top5_accuracy',
                  rule='greater', classwise=True)
lr_config = None
momentum_config = dict(policy='OneCycle', base_momentum=0.8, max_momentum=0.9)
auto_resume = True
find_unused_parameters = True
total_epochs = 6
