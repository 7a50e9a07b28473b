# Inherits a config that itself inherits (the chain is followed), merges a new lr into its
# AdamW, and replaces its step schedule by a cosine one with _delete_=True.
_base_ = './faster_rcnn_r50_fpn_adamw_mot17.py'
optimizer = dict(lr=1e-4)
lr_config = dict(_delete_=True, policy='CosineAnnealing', min_lr=0, warmup='linear', warmup_iters=10)
momentum_config = None
custom_hooks = []
total_epochs = 4
data = dict(train=dict(ann_file='data/MOT17/annotations/half-val_cocoformat.json'))
