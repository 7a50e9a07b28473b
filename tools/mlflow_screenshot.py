"""Retake docs/mlflow_sweep.png: a 4-job sweep in MLflow's UI, compared side by side.

    python tools/mlflow_screenshot.py [--out docs/mlflow_sweep.png]

Runs `python -m hyrun -m optimizer=sgd,adam optimizer.lr=0.1,0.01 logger=[text,mlflow]` on the
synthetic data in a temp folder, starts `mlflow ui` there on a free local port, and has headless
Chromium (Debian's `chromium` package) photograph the compare-runs page of the sweep's jobs.
"""
from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

SWEEP = ["-m", "optimizer=sgd,adam", "optimizer.lr=0.1,0.01", "logger=[text,mlflow]", "data=synthetic", "model=mlp",
         "data.num_samples=512", "runner.max_epochs=5", "log_config.interval=4"]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--window-size=1600,1000", "--virtual-time-budget=15000"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer in {seconds} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "docs" / "mlflow_sweep.png"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([sys.executable, "-m", "hyrun", *SWEEP], cwd=folder, check=True)
        from mlflow import MlflowClient

        client = MlflowClient(f"sqlite:///{folder}/mlflow.db")
        experiment = client.get_experiment_by_name("hyrun")
        runs = client.search_runs([experiment.experiment_id])
        children = [r.info.run_id for r in runs if "mlflow.parentRunId" in r.data.tags]
        port = free_port()
        ui = subprocess.Popen([sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", f"sqlite:///{folder}/mlflow.db",
                               "--host", "127.0.0.1", "--port", str(port)], cwd=folder)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(base)
            ids = ",".join(f'"{run_id}"' for run_id in children)
            url = f'{base}/#/compare-runs?runs=[{ids}]&experiments=["{experiment.experiment_id}"]'
            subprocess.run(["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={folder}/chrome",
                            f"--screenshot={args.out}", url], check=True, timeout=120)
        finally:
            ui.terminate()
            ui.wait(timeout=30)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
