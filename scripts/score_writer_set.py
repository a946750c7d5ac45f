"""Score a writer set's test images the way a user sees them: ``cnn predict`` (the
not-a-digit gate on), each file named ``<digit>_...``; no answer (rejected, unreadable) is
wrong. Prints one line: the set, correct of total, percent.

Usage::

    python scripts/score_writer_set.py /tmp/writers/pen/test [--weights tuned.npz]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path


def score(folder: str, weights: str | None = None) -> tuple[int, int]:
    """``(correct, total)`` of ``cnn predict --json`` over ``folder``'s class subfolders (or
    the folder itself), run in a subprocess as a user runs it."""
    subfolders = sorted(str(p) for p in Path(folder).iterdir() if p.is_dir())
    cmd = [sys.executable, "-m", "cnn", "predict", "--json", "--quiet", *(subfolders or [folder])]
    if weights:
        cmd += ["--weights", weights]
    out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ, check=True).stdout
    rows = json.loads(out)["predictions"]
    correct = sum(1 for r in rows if not r["error"] and not r["rejected"]
                  and r["label"] is not None and r["digit"] == r["label"])
    return correct, len(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--weights", default=None)
    args = parser.parse_args(argv)
    correct, total = score(args.folder, args.weights)
    print(f"{args.folder}: {correct} of {total} correct, {100 * correct / total:.2f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
