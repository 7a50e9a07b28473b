#!/usr/bin/env bash
# hyrun with the newest releases its ranges allow, not constraints.txt's: only torch is pinned
# (the CPU build), and Hydra is its newest pre-release (1.4: the execution whitelist). Builds
# .venv-newest, then runs the fast tests (README, "Development").
#   tools/test_newest.sh [PYTEST ARGS]     (default: -m "not slow")
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-newest
. .venv-newest/bin/activate
python -m pip install -q --upgrade pip
# torch pinned in the same command: an eager upgrade would otherwise take the newest torch too
pip install -q -e ".[test]" "hydra-core>=1.4.0rc3" torch==2.13.0 --upgrade --upgrade-strategy eager
pip list 2>/dev/null | grep -iE "^(hydra-core|omegaconf|mlflow|tensorboard|optuna|torch) " || true
if [ $# -eq 0 ]; then set -- -m "not slow"; fi
python -m pytest -q "$@"
