"""Hyperparameter search with Optuna: what hyrun's jobs and hyrun's sweeper share.

The sweeper itself is a Hydra plugin, ``plugins/hydra-optuna-sweeper``
(``hydra/sweeper=hyrun_optuna``): it asks the study for trials, launches each as a job and
tells the study how the job ended. The parts here are those the jobs need too, or that know
hyrun's config:

* ``hyrun.tuning.storage``: where a study lives (an RDB URL or a journal file) and how to open it;
* ``hyrun.tuning.trial``: a job's trial (passed in its environment) and the outcome it returns;
* ``hyrun.tuning.objectives``: the metrics a study optimizes and their directions;
* ``hyrun.tuning.mlflow_study``: the study and its trials in the search's MLflow parent run;
* ``hyrun.hooks.trial_pruning``: the hook that reports a trial's evaluations and prunes it.

Nothing here imports optuna or mlflow when imported: a job loads optuna only when it runs as
a trial, the sweeper only when it sweeps.
"""
