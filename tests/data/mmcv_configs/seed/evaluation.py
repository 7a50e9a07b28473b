# Seed tutorial, "Evaluation config": MMTracking's bbox metric, every epoch.
evaluation = dict(interval=1, metric='bbox')
