"""Measure the number reader on generated number photos (``scripts/make_numbers.py``).

Prints, per condition: photos, whole numbers read exactly, per-digit accuracy
(1 - edit distance / length, at least 0), and the median time per photo (decode + reading,
one process), all through ``cnn predict``'s path (:func:`cnn.tasks.predict.predict_files`
with ``max_digits=12`` and the shipped gate). Usage::

    flock /tmp/cnn-bench.lock python benchmarks/read_numbers.py /tmp/numbers [--limit N]
        [--weights FILE] [--no-reject] [--threads 2] [--json out.json]

The folder's ``index.csv`` gives each file's condition and label. Held-out conditions (held
back while tuning) are marked: those the folder's ``held_out.txt`` lists (one a line, written
by ``scripts/make_numbers_b.py``), else those of ``scripts/make_numbers.HELD_OUT``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two strings (insertions, deletions, substitutions)."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def digit_accuracy(read: str, label: str) -> float:
    """1 - edit distance / length of the label, at least 0."""
    return max(0.0, 1.0 - edit_distance(read, label) / len(label))


def held_out_conditions(folder: Path) -> set[str]:
    """The held-out conditions of a generated set: ``held_out.txt`` in the folder if present,
    else ``scripts/make_numbers.HELD_OUT``."""
    listed = folder / "held_out.txt"
    if listed.is_file():
        return {line.strip() for line in listed.read_text(encoding="utf-8").splitlines()
                if line.strip()}
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from make_numbers import HELD_OUT

    return set(HELD_OUT)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder")
    parser.add_argument("--limit", type=int, default=0, help="photos per condition (all)")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--no-reject", action="store_true")
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--show-wrong", action="store_true")
    args = parser.parse_args(argv)

    from cnn.tasks.predict import predict_files
    from cnn.tasks.predictor import load_predictor
    from cnn.tasks.reject import Rejector

    folder = Path(args.folder)
    held_out = held_out_conditions(folder)
    with open(folder / "index.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    _, model = load_predictor([args.weights] if args.weights else None)
    rejector = None if args.no_reject else Rejector.default()
    per: dict[str, list] = {}
    for row in rows:
        cond = row["condition"]
        if args.limit and len(per.get(cond, [])) >= args.limit:
            continue
        start = time.perf_counter()
        _, (pred,), _ = predict_files([folder / row["file"]], model=model, rejector=rejector,
                                      max_digits=12)
        read = pred.number or ""
        elapsed = time.perf_counter() - start
        per.setdefault(cond, []).append((read == row["label"],
                                         digit_accuracy(read, row["label"]), elapsed))
        if args.show_wrong and read != row["label"]:
            print(f"  {row['file']}: read {read!r}")
    results = {}
    print(f"{'condition':12s} {'photos':>6s} {'whole':>7s} {'digits':>7s} {'s/photo':>8s}")
    everything = []
    for cond, items in per.items():
        everything += items
        results[cond] = _summary(items)
        r = results[cond]
        mark = " (held out)" if cond in held_out else ""
        print(f"{cond:12s} {r['photos']:6d} {r['whole']:7.1%} {r['digits']:7.1%} "
              f"{r['median_s']:8.3f}{mark}")
    results["all"] = _summary(everything)
    r = results["all"]
    print(f"{'all':12s} {r['photos']:6d} {r['whole']:7.1%} {r['digits']:7.1%} {r['median_s']:8.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


def _summary(items) -> dict:
    import numpy as np

    return {"photos": len(items), "whole": float(np.mean([i[0] for i in items])),
            "digits": float(np.mean([i[1] for i in items])),
            "median_s": float(np.median([i[2] for i in items]))}


if __name__ == "__main__":
    raise SystemExit(main())
