# Seed tutorial, "Modify the config" and "Use hooks implemented in MMCV": a hook with its priority.
a_value = 1
b_value = 2
custom_hooks = [
    dict(type='MyHook', a=a_value, b=b_value, priority='NORMAL')
]
