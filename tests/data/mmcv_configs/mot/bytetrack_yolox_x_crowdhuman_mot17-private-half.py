# MMTracking's ByteTrack config style: names of the file inside f-strings, indexing and
# slicing, {{_base_.key}} substitution and conditionals over constants.
_base_ = [
    '../_base_/models/yolox_x_8x8.py',
    '../_base_/datasets/mot_challenge_det.py', '../_base_/default_runtime.py'
]

test_set = 'half-val'
data_root = 'data/MOT17/'
img_scale = (800, 1440)
samples_per_gpu = 4
use_fp16 = True

model = dict(
    type='ByteTrack',
    detector=dict(input_size=img_scale, random_size_range=(18, 32)),
    tracker=dict(type='ByteTracker', obj_score_thrs=dict(high=0.6, low=0.1)))

train_pipeline = [
    dict(type='Mosaic', img_scale=img_scale, pad_val=114.0, bbox_clip_border=False),
    dict(type='RandomAffine', scaling_ratio_range=(0.1, 2), border=(-img_scale[0] // 2, -img_scale[1] // 2)),
    *{{_base_.train_pipeline}}[1:],
]
data = dict(
    samples_per_gpu=samples_per_gpu,
    workers_per_gpu=4,
    train=dict(
        type='MultiImageMixDataset',
        dataset=dict(ann_file=f'{data_root}annotations/{test_set}_cocoformat.json'),
        pipeline=train_pipeline),
    val=dict(ann_file=f'{data_root}annotations/{test_set}_cocoformat.json', img_prefix=data_root[:-1] + '/train',
             pipeline={{_base_.test_pipeline}}),
    test=dict(ann_file=f'data/MOT17/annotations/{test_set}_cocoformat.json', seq=data_root[-5:-1]))

# optimizer
# default 8 gpu
optimizer = dict(type='SGD', lr=0.001 / 8 * samples_per_gpu, momentum=0.9, weight_decay=5e-4, nesterov=True,
                 paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))
optimizer_config = dict(grad_clip=None)

# some hyper parameters
total_epochs = 80
num_last_epochs = 10
resume_from = None
interval = 5

# learning policy
lr_config = dict(
    policy='YOLOX',
    warmup='exp',
    by_epoch=False,
    warmup_by_epoch=True,
    warmup_ratio=1,
    warmup_iters=1,
    num_last_epochs=num_last_epochs,
    min_lr_ratio=0.05)

custom_hooks = [
    dict(type='YOLOXModeSwitchHook', num_last_epochs=num_last_epochs, priority=48),
    dict(type='SyncNormHook', num_last_epochs=num_last_epochs, interval=interval, priority=48),
    dict(type='ExpMomentumEMAHook', resume_from=None, momentum=0.0001, priority=49)
]

checkpoint_config = dict(interval=1)
evaluation = dict(metric=['bbox', 'track'], interval=1 if total_epochs < 100 else interval)
search_metrics = ['MOTA', 'IDF1', 'FN', 'FP', 'IDs', 'MT', 'ML']

fp16 = dict(loss_scale=dict(init_scale=512.)) if use_fp16 else None
