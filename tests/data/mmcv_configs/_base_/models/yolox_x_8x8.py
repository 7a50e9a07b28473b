# A model base with an import (as some MMDetection model files have): the names it binds
# are unknown to the converter, so the model is reported, never imported or run.
import math

img_scale = (640, 640)
model = dict(
    type='YOLOX',
    input_size=img_scale,
    random_size_range=(15, 25),
    backbone=dict(type='CSPDarknet', deepen_factor=1.33, widen_factor=1.25),
    bbox_head=dict(type='YOLOXHead', num_classes=80, in_channels=320, feat_channels=320),
    init_cfg=dict(type='Kaiming', layer='Conv2d', a=math.sqrt(5), distribution='uniform'),
    test_cfg=dict(score_thr=0.01, nms=dict(type='nms', iou_threshold=0.65)))
