"""Time ``cnn visualize --layer 1 --channel all`` on the largest shipped model.

Each run is a fresh ``cnn`` process (so the time includes Python start-up, imports, loading the
weights and writing the PNGs, as a user sees it), writing into a temporary folder; the median
of ``--repeats`` runs is reported with the optimization time the command itself prints.

    python benchmarks/bench_visualize.py                 # 5 runs, default settings
    python benchmarks/bench_visualize.py --threads 1     # OPENBLAS/OMP threads for the runs

Prints one Markdown table row (paste it into BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LARGE = "C(16,3)-P2-C(32,3)-P2-C(64,3)-P2-FC512-FC10"
CANDIDATES = [ROOT / "weight_output" / f"weight_details{LARGE}.npz",
              ROOT.parent / "shared" / "reference_weights" / f"weight_details{LARGE}.npz"]


def find_weights(path: str | None) -> Path:
    """``--weights``, else the shipped large model, else the reference project's file."""
    for candidate in ([Path(path)] if path else CANDIDATES):
        if candidate.is_file():
            return candidate
    sys.exit(f"no weights for {LARGE}: pass --weights PATH")


def run_once(weights: Path, steps: int, env: dict) -> tuple[float, float]:
    """Wall-clock seconds of one ``cnn visualize`` process, and the optimization seconds it
    reports ("visualized 16 channel(s) in X s")."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "cnn", "visualize", "--weights", str(weights),
               "--layer", "1", "--channel", "all", "--steps", str(steps), "--out", out, "-q"]
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
        wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"cnn visualize failed ({done.returncode}):\n{done.stderr}")
    match = re.search(r"visualized (\d+) channel\(s\) in ([\d.]+) s", done.stdout)
    return wall, float(match.group(2)) if match else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None, help=f"weights file of {LARGE}")
    parser.add_argument("--repeats", type=int, default=5, help="runs; the median is shown (5)")
    parser.add_argument("--steps", type=int, default=256, help="Adam steps (256, the default)")
    parser.add_argument("--threads", type=int, default=None,
                        help="OPENBLAS_NUM_THREADS / OMP_NUM_THREADS for the runs "
                             "(default: inherit the environment)")
    args = parser.parse_args()
    weights = find_weights(args.weights)
    env = dict(os.environ)
    if args.threads:
        env.update(OPENBLAS_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads))
    runs = [run_once(weights, args.steps, env) for _ in range(args.repeats)]
    wall = statistics.median(r[0] for r in runs)
    opt = statistics.median(r[1] for r in runs)
    threads = env.get("OPENBLAS_NUM_THREADS", "default")
    print(f"| `cnn visualize --layer 1 --channel all`, {LARGE} (16 channels, {args.steps} steps) "
          f"| {wall:.1f} s (optimization {opt:.1f} s) | median of {args.repeats}, "
          f"min {min(r[0] for r in runs):.1f} s, max {max(r[0] for r in runs):.1f} s "
          f"| {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"BLAS threads {threads}, Python {platform.python_version()} |")


if __name__ == "__main__":
    main()
