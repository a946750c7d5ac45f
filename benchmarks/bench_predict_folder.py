"""Whole-process time of `cnn predict FOLDER --json` against the OpenCV decode floor (issue 30).

For each folder: the median wall time of ``--repeats`` fresh ``python -m cnn predict FOLDER
--json`` processes, and the floor the issue compares with: decoding the same files with
``cv2.imdecode(..., cv2.IMREAD_UNCHANGED)`` in one process (median of the repeats). With
``--base SRC`` (a source tree of an older commit, e.g. from ``git archive``) the old code
runs too, alternating with the new one, so both see the same machine load. Run it under the
benchmark lock, with nothing else running:

    flock /tmp/cnn-bench.lock python benchmarks/bench_predict_folder.py /tmp/speed_sets/big \\
        --repeats 3 --base /tmp/speed_sets/base_src
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def decode_floor(folder: Path) -> float:
    """Seconds to read and decode every image of ``folder`` with OpenCV, in this process."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    start = time.perf_counter()
    for f in files:
        cv2.imdecode(np.fromfile(f, np.uint8), cv2.IMREAD_UNCHANGED)
    return time.perf_counter() - start


def run_predict(src: Path, folder: Path, extra: list[str]) -> float:
    """Seconds of one ``cnn predict`` process from source tree ``src``."""
    env = dict(os.environ, PYTHONPATH=str(src))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cnn", "predict", str(folder), "--json", *extra],
                   cwd=src, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="folders of images")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each (3)")
    parser.add_argument("--base", default=None, help="source tree of the code to compare with")
    parser.add_argument("--extra", default="", help="more options for the new code's runs")
    args = parser.parse_args(argv)
    print(f"{'folder':<28}{'code':<6}{'median s':>9}{'floor s':>9}{'ratio':>7}  runs")
    for name in args.folders:
        folder = Path(name).resolve()
        floors = [decode_floor(folder) for _ in range(args.repeats)]
        floor = statistics.median(floors)
        codes = [("new", ROOT, args.extra.split())]
        if args.base:
            codes.insert(0, ("base", Path(args.base).resolve(), []))
        times: dict[str, list[float]] = {c[0]: [] for c in codes}
        for _ in range(args.repeats):
            for label, src, extra in codes:
                times[label].append(run_predict(src, folder, extra))
        for label, _, _ in codes:
            t = statistics.median(times[label])
            runs = ", ".join(f"{v:.2f}" for v in times[label])
            print(f"{folder.name:<28}{label:<6}{t:>9.2f}{floor:>9.2f}{t / floor:>6.1f}x  {runs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
