"""Per-condition accuracy of ``cnn predict`` on a folder made by ``make_hard_photos.py``.

Every labelled file counts: a file with no answer ("no digit found", or "not a digit" from
the gate that ``cnn predict`` applies by default) counts as wrong. The condition is the second
``_``-separated part of the file name (``7_shadow_003.jpg``).

Usage::

    python scripts/score_hard_photos.py FOLDER [FOLDER ...] [--weights FILE] [--sheet PNG]
        [--no-reject]

``--no-reject`` scores without the not-a-digit gate (as ``cnn predict --no-reject``).

``--sheet PNG`` also writes a contact sheet of the first folder: for each condition its first
file, the original beside the 28 x 28 image the network saw, with the answer.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

from cnn.tasks.predict import collect_images, has_answer, predict_files
from cnn.tasks.reject import Rejector


def score(folder: str, weights: str | None = None, sheet: str | None = None,
          reject: bool = True) -> dict[str, tuple[int, int, int]]:
    """``{condition: (right, total, unanswered)}`` over the labelled files of ``folder``,
    plus ``"all"``, read as ``cnn predict`` reads them (with the default not-a-digit gate
    unless ``reject`` is False); with ``sheet``, the contact sheet is written there."""
    files = collect_images([folder])
    rejector = Rejector.default(None, None) if reject else None
    _, predictions, inputs = predict_files(files, weights, rejector=rejector)
    if sheet:
        write_sheet(predictions, inputs, sheet)
    table: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for p in predictions:
        if p.label is None:
            continue
        parts = Path(p.file).stem.split("_")
        for key in (parts[1] if len(parts) > 2 else "other", "all"):
            row = table[key]
            row[0] += int(p.digit == p.label)
            row[1] += 1
            row[2] += int(not has_answer(p))  # turned away: no digit and no number
    return {k: tuple(v) for k, v in table.items()}


def write_sheet(predictions, inputs, path: str, tile: int = 150) -> None:
    """One tile per condition (its first file): original (long side ``tile``) | network input
    (28 x 28 upscaled nearest) | "label -> answer"; 6 conditions per row; PNG at ``path``."""
    import cv2
    import numpy as np

    from cnn.tasks.visualize_output import write_png
    from cnn.vision.decode import read_image

    firsts = {}
    for p in predictions:
        parts = Path(p.file).stem.split("_")
        if len(parts) > 2 and parts[1] not in firsts:
            firsts[parts[1]] = p
    tiles = []
    for condition, p in firsts.items():
        image = read_image(p.file)
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        h, w = image.shape[:2]
        f = tile / max(h, w)
        small = cv2.resize(image[:, :, :3], (max(1, round(w * f)), max(1, round(h * f))),
                           interpolation=cv2.INTER_AREA)
        card = np.full((tile + 22, 2 * tile + 8, 3), 255, np.uint8)
        card[:small.shape[0], :small.shape[1]] = small
        seen = inputs.get(p.file)
        if seen is not None:
            big = cv2.resize(np.rint(seen * 255).astype(np.uint8), (tile, tile),
                             interpolation=cv2.INTER_NEAREST)
            card[:tile, tile + 8:] = big[:, :, None]
        answer = ("not a digit" if p.rejected else "no answer") if p.digit is None \
            else f"{p.label} -> {p.digit}"
        cv2.putText(card, f"{condition}: {answer}", (2, tile + 16), cv2.FONT_HERSHEY_SIMPLEX,
                    0.45, (0, 0, 200) if p.digit != p.label else (0, 110, 0), 1, cv2.LINE_AA)
        tiles.append(card)
    columns = 4
    while len(tiles) % columns:
        tiles.append(np.full_like(tiles[0], 255))
    rows = [np.hstack(tiles[i:i + columns]) for i in range(0, len(tiles), columns)]
    write_png(path, np.vstack(rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--sheet", default=None, help="contact sheet PNG of the first folder")
    parser.add_argument("--no-reject", action="store_true",
                        help="without the not-a-digit gate (cnn predict --no-reject)")
    args = parser.parse_args(argv)
    results = [score(f, args.weights, args.sheet if i == 0 else None, not args.no_reject)
               for i, f in enumerate(args.folders)]
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
