# Seed tutorial, "Add the optimizer to registry": import the module of MyOptimizer.
# (The tutorial names the file, .py included; the converter imports the module.)
custom_imports = dict(imports=['mmtrack.core.optimizer.my_optimizer.py'], allow_failed_imports=False)
