# An iteration-based schedule, as MMSegmentation's (which the converter handles the same way).
runner = dict(type='IterBasedRunner', max_iters=200)
optimizer = dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0005)
optimizer_config = dict(type='GradientCumulativeOptimizerHook', cumulative_iters=2)
lr_config = dict(policy='poly', power=0.9, min_lr=1e-4, by_epoch=False)
checkpoint_config = dict(by_epoch=False, interval=-1)
evaluation = dict(interval=50, metric='accuracy')
log_config = dict(interval=5, hooks=[dict(type='TextLoggerHook', by_epoch=False)])
workflow = [('train', 50), ('val', 1)]
