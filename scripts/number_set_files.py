"""The files of a generated set of number pictures: its folder, pictures, index and held-out list.

Shared by ``make_numbers_c.py`` and ``make_numbers_d.py``: their pictures are their own (each
its own writer, scenes and camera, so that neither set measures the other's ideas), but a set
is laid out the same way, as ``benchmarks/read_numbers.py`` reads it:

- ``<label>_<condition>_<nnn>.<jpg|png>``, the label the number's digits;
- ``index.csv``: file, condition, label, mnist_test_indices (space-separated);
- ``held_out.txt``: the held-out conditions, one a line.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np


def prepare_out(out: Path, overwrite: bool) -> str | None:
    """Make the folder ``out`` ready to receive a set: created when missing; a non-empty one is
    refused without ``overwrite``, and with it only its earlier set's files are removed
    (``*.jpg``, ``*.png``, ``index.csv``, ``held_out.txt``).

    Returns:
        None, or a one-line problem to report (``out`` is a file, or not empty).
    """
    if out.exists() and not out.is_dir():
        return f"--out {str(out)!r} is a file, not a folder"
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            return f"--out {str(out)!r} is not empty; pass --overwrite to replace its pictures"
        for p in out.iterdir():
            if p.is_file() and (p.suffix in (".jpg", ".png")
                                or p.name in ("index.csv", "held_out.txt")):
                p.unlink()
    out.mkdir(parents=True, exist_ok=True)
    return None


def write_set(out: Path, conditions: list[str], per_condition: int, digits: tuple[int, int],
              mnist: tuple[np.ndarray, np.ndarray], pool, picture_rng, make_picture,
              held_out: list[str]) -> tuple[int, str | None]:
    """Write the pictures of every condition, then ``index.csv`` and ``held_out.txt``.

    Args:
        out: the folder (:func:`prepare_out` first).
        conditions: the conditions to write, in order; ``per_condition`` pictures each.
        digits: ``(fewest, most)`` digits of a number.
        mnist: ``(x_test, y_test)``: uint8 (N, 28, 28) digits and their (N,) labels.
        pool: what the digits are drawn from without replacement, as ``rng.choice`` takes it
            (N: all of them; or an index array).
        picture_rng: ``(condition, k) -> np.random.Generator``, picture ``k``'s own stream.
        make_picture: ``(rng, digits, condition) -> (image, ext, quality)``: uint8 BGR (H, W,
            3) or grey (H, W), ``"jpg"`` or ``"png"``, the JPEG quality.
        held_out: the conditions ``held_out.txt`` lists.
    Returns:
        ``(pictures written, None)``, or ``(count so far, one-line problem)`` when a picture
        cannot be encoded.
    """
    x_test, y_test = mnist
    rows = []
    for cond in conditions:
        for k in range(per_condition):
            rng = picture_rng(cond, k)
            n = int(rng.integers(digits[0], digits[1] + 1))
            idx = [int(i) for i in rng.choice(pool, n, replace=False)]
            label = "".join(str(int(y_test[i])) for i in idx)
            img, ext, quality = make_picture(rng, [x_test[i] for i in idx], cond)
            name = f"{label}_{cond}_{k:03d}.{ext}"
            params = ([cv2.IMWRITE_JPEG_QUALITY, quality] if ext == "jpg"
                      else [cv2.IMWRITE_PNG_COMPRESSION, 6])
            ok, buf = cv2.imencode("." + ext, img, params)
            if not ok:
                return len(rows), f"cannot encode {name}"
            (out / name).write_bytes(buf.tobytes())
            rows.append((name, cond, label, " ".join(map(str, idx))))
    with open(out / "index.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "condition", "label", "mnist_test_indices"])
        writer.writerows(rows)
    (out / "held_out.txt").write_text("".join(c + "\n" for c in held_out), encoding="utf-8")
    return len(rows), None
