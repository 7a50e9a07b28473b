"""project_package: a model and a data set of this project, trained by hyrun (configs/, train.py)."""
