_base_ = ['./resnet50_8xb32-coslr_in1k.py']

# mixed precision with a dynamic loss scale, two steps of gradients a step
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    accumulative_counts=2,
    clip_grad=dict(max_norm=5.0),
    optimizer=dict(_delete_=True, type='AdamW', lr=1e-3, weight_decay=0.05))

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min_ratio=1e-2, by_epoch=True, begin=5, end=100,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingParamScheduler', param_name='weight_decay', eta_min=0.01, begin=0, end=100),
]

train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=5, val_begin=10)
val_evaluator = [dict(type='Accuracy', topk=(1, 5)), dict(type='SingleLabelMetric', items=['f1-score'])]

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=5, max_keep_ckpts=3, save_best='accuracy/top1',
                    rule='greater', save_last=True, save_optimizer=False, out_dir='s3://bucket/ckpts'))
log_processor = dict(window_size=50, by_epoch=True)

custom_hooks = [
    dict(type='EMAHook', momentum=4e-5, priority='ABOVE_NORMAL'),
    dict(type='EarlyStoppingHook', monitor='accuracy/top1', patience=10, min_delta=0.01),
    dict(type='EmptyCacheHook', after_epoch=True),
    dict(type='SyncBuffersHook'),
    dict(type='SetEpochInfoHook'),
]

visualizer = dict(
    type='UniversalVisualizer',
    vis_backends=[
        dict(type='LocalVisBackend'),
        dict(type='TensorboardVisBackend'),
        dict(type='MLflowVisBackend', exp_name='resnet50', run_name='amp-ema',
             tracking_uri='file:///tmp/mlruns', tags=dict(team='cls', epochs=100)),
        dict(type='WandbVisBackend', init_kwargs=dict(project='cls')),
    ])

env_cfg = dict(cudnn_benchmark=True)
auto_scale_lr = dict(enable=True, base_batch_size=256)
model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=True)
work_dir = './work_dirs/resnet50_amp_ema'
load_from = 'checkpoints/resnet50_pretrained.pth'
