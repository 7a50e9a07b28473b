"""The digits experiment on CUDA in fp32, AMP float16 and AMP bfloat16: throughput and accuracy.

    python benchmarks/gpu_check.py                    # on a machine with a GPU, ~1 minute
    python benchmarks/gpu_check.py --device cpu       # the same arms on the CPU (bf16 autocast)

Each arm is a real ``python -m hyrun`` run (its own process, output dir under --out). Its
throughput is the batch size over the median ``time`` of the train lines of metrics.jsonl
after the first epoch (the first epoch pays CUDA's start-up); the arms' ratios to fp32 are
printed side by side. A run that fails prints its log's tail and the script exits 1.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ARMS = {
    "fp32": [],
    "amp_fp16": ["optimizer_config=amp", "optimizer_config.amp.dtype=float16"],
    "amp_bf16": ["optimizer_config=amp", "optimizer_config.amp.dtype=bfloat16"],
}


def run_arm(name: str, extra: list[str], args: argparse.Namespace) -> dict:
    out = Path(args.out) / name
    command = [sys.executable, "-m", "hyrun", f"device={args.device}", f"runner.max_epochs={args.epochs}",
               f"data.batch_size={args.batch_size}", "log_config.interval=5", "log_config.progress_bar=false",
               "checkpoint_config=null", f"hydra.run.dir={out}", *extra]
    if args.device == "cpu" and name == "amp_fp16":
        return {"arm": name, "skipped": "float16 autocast is a CUDA arm"}
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        print(f"{name} failed ({proc.returncode}):\n{proc.stderr[-3000:]}", file=sys.stderr)
        return {"arm": name, "failed": proc.returncode}
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steady = [r["time"] for r in lines if r["mode"] == "train" and r["epoch"] > 1]
    accuracy = [r["accuracy"] for r in lines if "accuracy" in r][-1]
    step = statistics.median(steady)
    return {"arm": name, "samples_per_s": args.batch_size / step, "ms_per_step": 1000 * step,
            "val_accuracy": accuracy, "wall_s": wall}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--out", default="gpu_check")
    args = parser.parse_args()

    results = [run_arm(name, extra, args) for name, extra in ARMS.items()]
    base = next((r for r in results if r["arm"] == "fp32" and "samples_per_s" in r), None)
    print(f"digits_cnn on {args.device}, batch {args.batch_size}, {args.epochs} epochs")
    print(f"{'arm':<10} {'samples/s':>10} {'ms/step':>8} {'vs fp32':>8} {'val acc':>8} {'wall s':>7}")
    for r in results:
        if "samples_per_s" not in r:
            print(f"{r['arm']:<10} {r.get('skipped') or 'failed: exit %s' % r['failed']}")
            continue
        ratio = r["samples_per_s"] / base["samples_per_s"] if base else float("nan")
        print(f"{r['arm']:<10} {r['samples_per_s']:>10.0f} {r['ms_per_step']:>8.3f} {ratio:>8.2f} "
              f"{r['val_accuracy']:>8.4f} {r['wall_s']:>7.1f}")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "results.json").write_text(json.dumps(results, indent=1))
    return 1 if any("failed" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
