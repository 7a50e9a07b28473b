# The seed's own-optimizer story with the optimizer hyrun's tests register
# (tests/plugins/custom_parts.py: @register("optimizer") class MyOptimizer(params, lr, a, b)).
custom_imports = dict(imports=['tests.plugins.custom_parts'], allow_failed_imports=False)
optimizer = dict(type='MyOptimizer', lr=0.05, a=2.0, b=1)
