# Seed tutorial, "Checkpoint config".
checkpoint_config = dict(interval=1)
