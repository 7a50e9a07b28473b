# dataset settings, MMTracking's detection base (shortened)
dataset_type = 'CocoDataset'
data_root = 'data/MOT17/'
img_norm_cfg = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
img_scale = (800, 1440)
train_pipeline = [
    dict(type='LoadImageFromFile', to_float32=True),
    dict(type='Resize', img_scale=img_scale, keep_ratio=True, bbox_clip_border=False),
    dict(type='Normalize', **img_norm_cfg),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiScaleFlipAug', img_scale=img_scale, flip=False,
         transforms=[dict(type='Resize', keep_ratio=True), dict(type='Normalize', **img_norm_cfg)]),
]
