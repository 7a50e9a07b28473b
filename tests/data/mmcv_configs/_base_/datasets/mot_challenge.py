# A dataset base as MMTracking's (shortened): not converted, reported
dataset_type = 'MOTChallengeDataset'
data_root = 'data/MOT17/'
img_norm_cfg = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
train_pipeline = [
    dict(type='LoadMultiImagesFromFile', to_float32=True),
    dict(type='SeqNormalize', **img_norm_cfg),
    dict(type='SeqPad', size_divisor=32),
]
data = dict(
    samples_per_gpu=2,
    workers_per_gpu=2,
    train=dict(type=dataset_type, ann_file=data_root + 'annotations/half-train_cocoformat.json',
               img_prefix=data_root + 'train', pipeline=train_pipeline))
