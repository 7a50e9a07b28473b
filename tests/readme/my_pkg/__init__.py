"""The user's package README's examples name (``my_pkg.parts``, ``my_pkg.models.ResNet``, ...),
for ``tests/test_readme.py``, which runs README's commands as written."""
