"""Write the 28 x 28 network inputs that ``cnn predict`` makes of every picture in a folder.

Training a not-a-digit gate on photos of non-digits (``scripts/make_non_digits.py`` output)
means training it on what the pipeline hands the networks, not on the photos: this runs
:func:`cnn.vision.pipeline.preprocess_file` on each picture with the default classifier choosing
among the candidate segmentations (``choose``, as ``cnn predict`` does) and writes the result as
an 8-bit PNG, white ink on black, to ``OUT/<prefix><stem>.png``. Pictures in which no ink is found are
counted and left out (``cnn predict`` answers "not a digit" for those before any network runs).
``cnn train --data DIR`` takes a folder of such PNGs as they are (a 28 x 28 picture is already
MNIST's format). Two worker processes by default (``--processes 1``: this process).

Usage::

    python scripts/make_non_digits.py --out /tmp/nd31 --seed 31 --style a --per-kind 100
    python scripts/pipeline_inputs.py /tmp/nd31 --out /tmp/gate_train/noise --prefix s31_
"""

from __future__ import annotations

import argparse
import sys
from multiprocessing import Pool
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cnn.errors import UserError
from cnn.files import atomic_write

_CHOOSE = None


def _start_worker(weights: str | None) -> None:
    global _CHOOSE
    from cnn.io.catalog import default_weights
    from cnn.io.weights import load_model
    from cnn.tasks.predict import confidence_of

    _CHOOSE = confidence_of(load_model(weights or default_weights()))


def network_input(path: Path) -> np.ndarray | None:
    """The uint8 ``(28, 28)`` input ``cnn predict`` gives the networks for ``path`` (ink 255 on
    0), or ``None`` when the pipeline finds no ink in it.

    Raises:
        UserError: a file that cannot be read as an image (named in the message).
    """
    from cnn.vision.decode import read_image
    from cnn.vision.pipeline import preprocess_file

    try:
        x = preprocess_file(path, choose=_CHOOSE)
    except UserError:
        read_image(path)  # an unreadable file is an error, not a picture without ink
        return None
    return np.clip(np.rint(np.asarray(x, np.float32) * 255), 0, 255).astype(np.uint8)


def _one(job: tuple[Path, Path]) -> bool | str:
    source, target = job
    try:
        x = network_input(source)
    except UserError as e:
        return str(e)
    if x is None:
        return False
    _, data = cv2.imencode(".png", x)
    atomic_write(target, lambda f: f.write(data.tobytes()), overwrite=True)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="folder of pictures (.png, .jpg)")
    parser.add_argument("--out", required=True, help="folder for the 28 x 28 PNGs (created)")
    parser.add_argument("--weights", default=None, help="classifier that chooses (default model)")
    parser.add_argument("--prefix", default="", help="put before each written file's name "
                        "(several folders into one: --prefix s31_)")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--overwrite", action="store_true", help="replace PNGs already in --out")
    args = parser.parse_args(argv)
    source, out = Path(args.folder), Path(args.out)
    if not source.is_dir():
        parser.error(f"{source} is not a folder")
    files = sorted(p for p in source.iterdir() if p.suffix.lower() in {".png", ".jpg", ".jpeg"})
    jobs = [(f, out / f"{args.prefix}{f.stem}.png") for f in files]
    stems = [t.name for _, t in jobs]
    twins = sorted({n for n in stems if stems.count(n) > 1})
    if twins:
        parser.error(f"{len(twins)} name(s) would be written twice (e.g. {twins[0]}: pictures "
                     "with the same name and another extension); rename them")
    clash = [t for _, t in jobs if t.exists()]
    if clash and not args.overwrite:
        parser.error(f"{len(clash)} file(s) in {out} would be replaced (e.g. {clash[0].name}); "
                     "pass --overwrite")
    out.mkdir(parents=True, exist_ok=True)
    if args.processes <= 1:  # in this process
        _start_worker(args.weights)
        results = list(map(_one, jobs))
    else:
        with Pool(args.processes, initializer=_start_worker, initargs=(args.weights,)) as pool:
            results = list(pool.imap_unordered(_one, jobs, chunksize=16))
    errors = [r for r in results if isinstance(r, str)]
    usable = sum(r is True for r in results)
    print(f"{usable} of {len(files)} pictures usable -> {out} "
          f"({len(files) - usable - len(errors)} without ink left out, {len(errors)} unreadable)")
    for message in errors[:10]:
        print(f"  {message}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
