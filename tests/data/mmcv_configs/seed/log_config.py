# Seed tutorial, "Log config": the text and TensorBoard loggers every 50 iterations.
log_config = dict(
    interval=50,
    hooks=[
        dict(type='TextLoggerHook'),
        dict(type='TensorboardLoggerHook')
    ])
