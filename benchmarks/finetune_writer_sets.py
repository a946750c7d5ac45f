"""The issue-26 measurement: the exact command on each writer set, then its other digits.

For each writer set (``scripts/make_writer_sets.py``: ``SET/train`` 20 per digit, ``SET/test``
the rest): runs ``cnn train --data SET/train --init <default weights> --epochs 5`` (no other
flag, wall time measured), scores ``SET/test`` through ``cnn predict`` before (the default
model) and after (gate on, no answer = wrong), and takes MNIST test top-1 before/after from
the command's own lines. Prints a markdown table and the mean.

Usage::

    python scripts/make_writer_sets.py --out /tmp/writers --seed 1
    CNN_MNIST_DATA=... flock /tmp/cnn-bench.lock python benchmarks/finetune_writer_sets.py \\
        /tmp/writers/pen /tmp/writers/hershey /tmp/writers/euro
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="+")
    parser.add_argument("--epochs", default="5")
    args = parser.parse_args(argv)
    from score_writer_set import score

    from cnn.io.catalog import default_weights

    init = str(default_weights())
    rows = []
    print("| set | other digits before | after | MNIST test before | after | command wall time |")
    print("| --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for ws in map(Path, args.sets):
            out = Path(tmp) / f"{ws.name}.npz"
            cmd = [sys.executable, "-m", "cnn", "train", "--data", str(ws / "train"), "--init",
                   init, "--epochs", args.epochs, "--out", str(out), "--quiet"]
            t0 = time.perf_counter()
            run = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
            seconds = time.perf_counter() - t0
            if run.returncode:
                print(run.stderr, file=sys.stderr)
                return 1
            line = next(l for l in run.stdout.splitlines() if l.startswith("MNIST test"))
            mb, ma = (float(v) for v in re.findall(r"([\d.]+)%", line))
            b_ok, n = score(str(ws / "test"))
            a_ok, _ = score(str(ws / "test"), str(out))
            rows.append((100 * b_ok / n, 100 * a_ok / n, mb, ma, seconds))
            print(f"| {ws.name} | {100 * b_ok / n:.2f} % | {100 * a_ok / n:.2f} % ({a_ok} of {n})"
                  f" | {mb:.2f} % | {ma:.2f} % | {seconds:.0f} s |", flush=True)
    mean = [sum(r[i] for r in rows) / len(rows) for i in range(5)]
    print(f"| mean | {mean[0]:.2f} % | {mean[1]:.2f} % | {mean[2]:.2f} % | {mean[3]:.2f} % | "
          f"{mean[4]:.0f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
