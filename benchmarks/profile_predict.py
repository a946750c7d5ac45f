"""Where `cnn predict` spends its time on photos: milliseconds per pipeline stage (issue 30).

Runs the prediction pipeline of ``cnn predict`` (:func:`cnn.vision.pipeline.preprocess_file`
with the network as the candidate scorer) in this process, one file at a time, with every
stage function of :mod:`cnn.vision.pipeline` wrapped in a timer, and prints one table: per
stage the median and total milliseconds per image and the share of the whole. Stages:

| stage | functions timed |
| --- | --- |
| decode | ``read_image`` (header check, ``cv2.imdecode``, EXIF orientation), ``_to_gray`` |
| polarity | ``_ink_sign``, ``_bright_sheet`` |
| illumination | ``_shrink``, ``_mask_cluttered_desk``, ``_pad_frame``, ``_median_background``, ``_hard_shadow``, ``_flatten_illumination`` |
| segmentation | ``_threshold``, ``_remove_long_lines``, ``_remove_frames``, ``_candidate_digits`` |
| normalize | ``_normalise`` |
| classifier | the ``choose`` calls (the network's softmax on each batch of candidates) |
| other | the rest of ``preprocess_file`` (bookkeeping) |

Also prints the OpenCV-only decode floor (``cv2.imdecode`` of the same bytes, grey) and
the image sizes. Run it under the benchmark lock, with nothing else running:

    flock /tmp/cnn-bench.lock python benchmarks/profile_predict.py /tmp/speed_sets/big --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict

import cv2
import numpy as np

STAGES = {
    "decode": ["read_image", "_to_gray"],
    "polarity": ["_ink_sign", "_bright_sheet"],
    "illumination": ["_shrink", "_mask_cluttered_desk", "_pad_frame", "_median_background",
                     "_hard_shadow", "_flatten_illumination"],
    "segmentation": ["_threshold", "_remove_long_lines", "_remove_frames", "_candidate_digits"],
    "normalize": ["_normalise"],
}


def instrument(module, clock: dict[str, float]) -> None:
    """Wrap each stage function named in :data:`STAGES` in ``module``'s namespace so that its
    wall time adds to ``clock[stage]`` (a generator is timed while it is consumed)."""
    import types

    for stage, names in STAGES.items():
        for name in names:
            if not hasattr(module, name):
                continue
            original = getattr(module, name)

            def timed(*args, _f=original, _stage=stage, **kwargs):
                start = time.perf_counter()
                try:
                    out = _f(*args, **kwargs)
                    if isinstance(out, types.GeneratorType):
                        out = iter(list(out))
                    return out
                finally:
                    clock[_stage] += time.perf_counter() - start

            setattr(module, name, timed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="folder of image files")
    parser.add_argument("--repeats", type=int, default=3, help="passes over the folder (3)")
    parser.add_argument("--weights", default=None, help="weights file (the default model)")
    parser.add_argument("--limit", type=int, default=0, help="at most this many files (all)")
    args = parser.parse_args(argv)

    from cnn.errors import UserError
    from cnn.tasks.predict import collect_images, confidence_of
    from cnn.tasks.predictor import load_predictor
    from cnn.vision import pipeline

    files = collect_images([args.folder])
    if args.limit:
        files = files[:args.limit]
    _, model = load_predictor([args.weights] if args.weights else None)
    scorer = confidence_of(model)
    clock: dict[str, float] = defaultdict(float)

    def choose(batch):
        start = time.perf_counter()
        try:
            return scorer(batch)
        finally:
            clock["classifier"] += time.perf_counter() - start

    instrument(pipeline, clock)
    per_image: dict[str, list[float]] = defaultdict(list)
    floor: list[float] = []
    pixels = []
    failed = 0
    for repeat in range(args.repeats):
        for f in files:
            data = np.fromfile(f, np.uint8)
            start = time.perf_counter()
            image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
            floor.append(time.perf_counter() - start)
            if repeat == 0 and image is not None:
                pixels.append(image.size)
            clock.clear()
            start = time.perf_counter()
            try:
                pipeline.preprocess_file(f, choose=choose)
            except UserError:
                failed += 1
            total = time.perf_counter() - start
            for stage in [*STAGES, "classifier"]:
                per_image[stage].append(clock.get(stage, 0.0))
            per_image["other"].append(total - sum(clock.values()))
            per_image["total"].append(total)
    n = len(files)
    whole = sum(per_image["total"]) / args.repeats
    print(f"{n} files in {args.folder}, {args.repeats} passes, median image "
          f"{statistics.median(pixels) / 1e6:.2f} Mpx, {failed // max(args.repeats, 1)} without "
          f"a digit")
    print(f"{'stage':<14}{'median ms':>10}{'mean ms':>10}{'share':>8}")
    for stage in [*STAGES, "classifier", "other", "total"]:
        values = per_image[stage]
        mean = 1e3 * sum(values) / len(values)
        share = sum(values) / args.repeats / whole
        print(f"{stage:<14}{1e3 * statistics.median(values):>10.1f}{mean:>10.1f}"
              f"{share:>8.1%}")
    floor_total = sum(floor) / args.repeats
    print(f"OpenCV grey decode alone: {1e3 * statistics.median(floor):.1f} ms median, "
          f"{floor_total:.2f} s per pass; pipeline {whole:.2f} s per pass = "
          f"{whole / floor_total:.1f}x the decode")
    return 0


if __name__ == "__main__":
    sys.exit(main())
