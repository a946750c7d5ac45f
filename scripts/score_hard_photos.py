"""Per-condition accuracy of ``cnn predict`` on a folder made by ``make_hard_photos.py``.

Every labelled file counts: a file with no answer ("no digit found") counts as wrong. The
condition is the second ``_``-separated part of the file name (``7_shadow_003.jpg``).

Usage::

    python scripts/score_hard_photos.py FOLDER [FOLDER ...] [--weights FILE] [--markdown]
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

from cnn.commands.predict import collect_images, predict_files


def score(folder: str, weights: str | None = None) -> dict[str, tuple[int, int, int]]:
    """``{condition: (right, total, unanswered)}`` over the labelled files of ``folder``,
    plus ``"all"``."""
    files = collect_images([folder])
    _, predictions, _ = predict_files(files, weights)
    table: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for p in predictions:
        if p.label is None:
            continue
        parts = Path(p.file).stem.split("_")
        for key in (parts[1] if len(parts) > 2 else "other", "all"):
            row = table[key]
            row[0] += int(p.digit == p.label)
            row[1] += 1
            row[2] += int(p.digit is None)
    return {k: tuple(v) for k, v in table.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+")
    parser.add_argument("--weights", default=None)
    args = parser.parse_args(argv)
    results = [score(f, args.weights) for f in args.folders]
    keys = [k for k in results[0] if k != "all"] + ["all"]
    print("| condition | " + " | ".join(Path(f).name for f in args.folders) + " |")
    print("| --- |" + " --- |" * len(args.folders))
    for k in keys:
        cells = []
        for r in results:
            right, total, none = r.get(k, (0, 0, 0))
            cells.append(f"{right}/{total} = {100 * right / max(total, 1):.0f}%"
                         + (f" ({none} no answer)" if none else ""))
        print(f"| {k} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
