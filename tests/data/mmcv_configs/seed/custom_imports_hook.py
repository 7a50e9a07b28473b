# Seed tutorial, "Register the new hook": import the module of MyHook from the config.
custom_imports = dict(
    imports=['mmtrack.core.utils.my_hook'],
    allow_failed_imports=False)
