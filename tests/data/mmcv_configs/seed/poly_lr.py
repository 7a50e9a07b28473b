# Seed tutorial, "Customize training schedules": the Poly schedule.
lr_config = dict(policy='poly', power=0.9, min_lr=1e-4, by_epoch=False)
