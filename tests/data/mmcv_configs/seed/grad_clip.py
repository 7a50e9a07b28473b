# Seed tutorial, "Use gradient clip to stabilize training".
optimizer_config = dict(
    _delete_=True, grad_clip=dict(max_norm=35, norm_type=2))
