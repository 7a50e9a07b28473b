# Seed tutorial, "Modify the config": use your own hook.
# The tutorial leaves a_value and b_value to the reader; here they are numbers.
a_value = 1
b_value = 2
custom_hooks = [
    dict(type='MyHook', a=a_value, b=b_value)
]
