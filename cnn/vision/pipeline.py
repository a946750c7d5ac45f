"""The whole photo pipeline, stage by stage: :func:`to_mnist` and :func:`preprocess_file`.

See :mod:`cnn.vision` for what each stage is for; this module strings them together and
chooses among candidate segmentations with the classifier (``choose``).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor

import cv2
import numpy as np

from cnn.errors import UserError
from cnn.vision.decode import _to_gray, read_image_reduced
from cnn.vision.illumination import (
    _WORK_SIZE,
    _flatten_illumination,
    _hard_shadow,
    _local_background,
    _mask_cluttered_desk,
    _median_background,
    _pad_frame,
    _shrink,
)
from cnn.vision.measures import _MIN_CONTRAST, _border_ring
from cnn.vision.normalize import _normalise
from cnn.vision.polarity import POLARITIES, _bright_sheet, _ink_sign
from cnn.vision.segment import (
    _candidate_digits,
    _remove_frames,
    _remove_long_lines,
    _threshold,
)

_SECOND_PENALTY = 0.05  # handicap of opening-background candidates under a hard shadow


_SURE = 0.9  # a local-background candidate this confident needs no flat-background fallback


_FALLBACK_PENALTY = 0.15  # handicap of flat-background candidates against local ones


_MIN_RAW_CONTRAST = 0.2  # a 28 x 28 input is its own candidate when its ink stands out this much
_FLAT_BACKGROUND = 0.02  # ... from a background this flat when the light part is half or more
_RAW_BONUS = 0.15  # ... and it is preferred: it is already framed as the network expects

# A JPEG at least twice the working image's long side (``_WORK_SIZE``) is decoded reduced to
# at least this long side (cnn.vision.decode.jpeg_reduction): the pipeline shrinks it anyway.
DECODE_LONG_SIDE = _WORK_SIZE


def preprocess_file(path: str | os.PathLike, polarity: str = "auto", choose=None,
                    steps: dict | None = None) -> np.ndarray:
    """Read an image file and turn it into an MNIST-like digit: :func:`read_image` + :func:`to_mnist`.

    A JPEG far larger than the pipeline's working size is decoded reduced (grey, 1/2 .. 1/8
    by the JPEG decoder, long side at least :data:`DECODE_LONG_SIDE`): the pipeline would
    shrink it to that size anyway, and decoding and the polarity stage then touch a fraction
    of the pixels.

    Args:
        path: image file with one digit in it.
        polarity: ``"auto"``, ``"dark-on-light"`` or ``"light-on-dark"``, see :func:`to_mnist`.
        choose: optional scorer of candidate segmentations, see :func:`to_mnist`.
        steps: optional dict that receives the intermediate images, see :func:`to_mnist`.
    Returns:
        float32 array of shape ``(28, 28)``, values in [0, 1], white digit on black.
    Raises:
        UserError: if the file cannot be read or holds no digit; the message starts with the
            file name.
    """
    return preprocess_file_keeping_image(path, polarity, choose, steps)[0]


def preprocess_file_keeping_image(path: str | os.PathLike, polarity: str = "auto", choose=None,
                                  steps: dict | None = None, keep: dict | None = None
                                  ) -> tuple[np.ndarray, np.ndarray, int]:
    """:func:`preprocess_file`, also giving what was decoded, for a second reading of the
    same picture (the number reader, :mod:`cnn.tasks.numbers`) without decoding it again
    (and, with ``keep``, without finding its ink again: see :func:`to_mnist`).

    Returns:
        ``(x, image, k)``: the float32 ``(28, 28)`` digit, the decoded image as
        :func:`cnn.vision.decode.read_image_reduced` gives it, and the decoder's reduction
        ``k`` (1, 2, 4 or 8: one pixel of ``image`` is ``k`` x ``k`` pixels of the file).
    Raises:
        UserError: as :func:`preprocess_file`.
    """
    image, reduction = read_image_reduced(path, reduce_to=DECODE_LONG_SIDE)
    try:
        return (to_mnist(image, polarity=polarity, choose=choose, steps=steps, keep=keep),
                image, reduction)
    except UserError as exc:
        raise UserError(f"{os.fspath(path)!r}: {exc}") from exc


def to_mnist(image: np.ndarray, polarity: str = "auto", choose=None,
             steps: dict | None = None, keep: dict | None = None) -> np.ndarray:
    """Turn a picture of one digit into a 28 x 28 MNIST-like image (see the module docstring).

    Args:
        image: shape ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` (BGR, as OpenCV reads) or
            ``(H, W, 4)`` (BGRA). dtype uint8 (0..255), uint16 (0..65535), bool, another
            integer type (read as 8-bit if its maximum is <= 255, else as 16-bit), or float
            (read as [0, 1] if its maximum is <= 1, else as 0..255). Any size from ~8 x 8 up.
        polarity: ``"auto"`` decides from the image (the background is the majority of the
            pixels; the ink is what differs from it); ``"dark-on-light"`` (ink on paper) or
            ``"light-on-dark"`` (chalk, canvas with white strokes) force it. Ignored when the
            image has a varying alpha channel: then the strokes are where alpha is high.
        choose: ``None`` (take the first candidate segmentation: the largest ink with what
            lies near it) or a function from a float32 ``(K, 28, 28)`` batch of candidates to
            ``K`` scores (e.g. a classifier's top softmax probability); the best-scoring
            candidate is returned (recognition-driven segmentation, as OCR systems do). A
            28 x 28 input (MNIST's own format) is then also offered as it is, polarity
            corrected and not re-thresholded.
        steps: ``None`` or a dict that receives each stage as a float32 image in [0, 1]
            (name -> (H, W) array, in pipeline order), to show why an image failed.
        keep: ``None`` or a dict that receives, under ``"ink_map"``, the first segmentation
            pass's ink for :func:`cnn.vision.numbers.ink_map` (its ``known``), so that the
            number reader does not find the same ink a second time, with that pass's
            candidates normalised (``"normalised"``: (box, the selection's bytes inside the
            box) -> 28 x 28), which the reader does not normalise again.
    Returns:
        float32 array of shape ``(28, 28)``, values in [0, 1] (MNIST pixels / 255), maximum
        1.0: white digit on black, bounding box of its non-zero pixels within 20 x 20 (long
        side 19 or 20), centre of mass within ~0.15 px of (14, 14) (unless the digit is
        so lopsided that centring pushes ink off the field).
    Raises:
        UserError: if ``polarity`` is not one of the three values, the array has an unusable
            shape or dtype, or no ink is found (a blank or uniform image).

    Safe to call from several threads at once. Where OpenCV may use more than one thread, a
    photo's independent stages run on a second thread of this process (:func:`_beside`);
    the result is the same bit for bit either way.
    """
    if polarity not in POLARITIES:
        raise UserError(f"unknown polarity {polarity!r}: use one of {', '.join(POLARITIES)}")
    asked = polarity
    gray, from_alpha = _to_gray(image)
    if from_alpha:
        polarity = "auto"
    _record(steps, "1_gray", gray)

    canvas = _clean_canvas(gray) if polarity == "auto" else None
    # A photo's ink is usually dark: with a second thread, its working image and sheet are
    # made there while the polarity is decided, and thrown away if the ink is light.
    dark = (_beside(_dark_ink_work, gray) if canvas is None and _two_threads()
            and polarity != "light-on-dark" else None)
    # A clean canvas's ink is plainly darker or lighter than its one background level.
    try:
        ink_sign = (-1.0 if canvas > 0.5 else 1.0) if canvas is not None else _ink_sign(
            gray, polarity)
    except UserError:
        if dark is not None:
            dark.cancel()
        raise
    if ink_sign < 0 and canvas is None:
        work, sheet = dark.result() if dark is not None else _dark_ink_work(gray)
        work = _mask_cluttered_desk(work, sheet)
    else:
        if dark is not None:
            dark.cancel()  # not needed: not run if it has not started
        work = _shrink(gray if ink_sign > 0 else 1.0 - gray)  # ink bright from here on
    scale = (gray.shape[1] / work.shape[1], gray.shape[0] / work.shape[0])
    work, pad = _pad_frame(work)
    _record(steps, "2_ink_bright_padded", work)
    candidates: list[np.ndarray] = []
    scores: list[float] = []
    passes = ("local", "flat")
    median = local = None  # the median and local backgrounds, each computed once
    if ink_sign < 0 and min(work.shape) >= 48 and canvas is None:  # a canvas casts no shadow
        # Both are needed (the hard-shadow test, then one pass each): the local one is computed
        # on a second thread meanwhile, when this process may use two cores.
        beside = _beside(_local_background, work)
        median = _median_background(work)
        if _hard_shadow(work, pad, median):
            passes = ("median", "local", "flat")
        local = beside.result()
    for background in passes:
        if background == "flat" and (choose is None or min(work.shape) < 48
                                     or (scores and max(scores) >= _SURE)):
            break
        ink, noise = _flatten_illumination(work, pad, background, relative=ink_sign < 0,
                                           median=median, uniform=canvas is not None,
                                           local=local)
        _record(steps, f"3_flattened_{background}", ink / max(float(ink.max()), 1e-6))
        if float(ink.max()) < max(_MIN_CONTRAST, 8.0 * noise):
            continue
        mask, thresh = _threshold(ink, noise)
        _record(steps, f"4_threshold_{background}", mask)
        mask = _remove_long_lines(mask, pad)
        _record(steps, f"5_lines_removed_{background}", mask)
        mask = _remove_frames(mask)
        _record(steps, f"6_boxes_removed_{background}", mask)
        normalised = None  # the first pass's digits by (box, selection in it): for the reader
        if keep is not None and background == passes[0]:
            normalised = {}
            keep["ink_map"] = {"polarity": asked, "map": (ink, mask, thresh, pad, scale),
                               "canvas": canvas is not None, "sign": ink_sign,
                               "normalised": normalised}
        found = []
        handicaps = []
        for selected, box, handicap in _candidate_digits(mask, pad):
            try:
                found.append(_normalise(ink, selected, box, thresh))
            except UserError:
                continue
            if normalised is not None:
                x0, y0, x1, y1 = box
                inside = selected[y0:y1, x0:x1]
                if np.count_nonzero(inside) == np.count_nonzero(selected):  # all in its box
                    normalised[(tuple(box), inside.tobytes())] = found[-1]
            handicaps.append(handicap)
            if choose is None:
                break
        if found and choose is not None:
            # A flat background is the fallback: it must be clearly more convincing.
            penalty = (0.0 if background == passes[0] else
                       _FALLBACK_PENALTY if background == "flat" else _SECOND_PENALTY)
            scores += [float(c) - penalty - extra
                       for c, extra in zip(np.asarray(choose(np.stack(found))), handicaps)]
        candidates += found
        if candidates and choose is None:
            break
    if choose is not None and gray.shape == (28, 28):
        # Already MNIST's format (a 28 x 28 array saved as an image): the image as it is is one
        # more candidate, so that what the pipeline's thresholding would lose (a grey
        # background, fog, stripes) is left to the network, which wins when it is surer.
        raws = [raw for raw in (np.clip(v, 0.0, 1.0).astype(np.float32) for v in (gray, 1 - gray))
                if _mnist_like(raw)]
        if raws:
            candidates += raws
            scores += [float(c) + _RAW_BONUS for c in np.asarray(choose(np.stack(raws)))]
    if not candidates:
        if not scores and "noise" in locals() and float(ink.max()) < max(_MIN_CONTRAST, 8 * noise):
            raise UserError("no digit found: the image is blank (no ink)")
        raise UserError("no digit found: only specks of ink, no stroke")
    best = int(np.argmax(scores)) if scores else 0
    for k, candidate in enumerate(candidates):
        _record(steps, f"7_candidate_{k}" + ("_chosen" if k == best else ""), candidate)
    return candidates[best]


def _mnist_like(raw: np.ndarray) -> bool:
    """Whether a 28 x 28 picture ``raw`` (float32 in [0, 1], light ink) may be offered to
    the network as it is: its ink stands out by ``_MIN_RAW_CONTRAST`` from its background,
    the median (the background is most of the picture); or, where the light part is half
    the picture or more, from its darker quarter when that quarter is as flat as MNIST's
    background (within ``_FLAT_BACKGROUND`` of its 1st percentile: MNIST's is exactly 0).

    Exists for: MNIST-C's stripes (Mu & Gilmer 2019: the 7 columns at either side
    inverted), half of whose picture is light, so that the median is the light level; the
    picture as it is was never offered, and the network, which reads it right 84 times of
    100, was given a segmentation (82 % error through ``cnn predict``; 41 % now). Measured
    from the darker quarter alone, 28 x 28 reductions of non-digit photos (uneven paper)
    were offered too, and 25 more of 640 were read as digits; with the flatness test none.
    The inverse of a very bold digit (saturated ink over a quarter of the picture) passes
    too (8 of MNIST's 10,000 test digits): the classifier's confidence then chooses between
    the two, and none of their answers changed.
    """
    low, quarter, middle = np.percentile(raw, [1, 25, 50])
    top = float(raw.max())
    if top - middle >= _MIN_RAW_CONTRAST:
        return True
    return top - quarter >= _MIN_RAW_CONTRAST and quarter - low <= _FLAT_BACKGROUND


_second_thread: tuple[int, ThreadPoolExecutor] | None = None  # (process id, its one thread)
_second_thread_made = threading.Lock()  # two first requests at once make one thread


def _dark_ink_work(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The working image of dark ink on paper (ink bright, :func:`_shrink` of ``1 - gray``)
    and the sheet it may lie on (:func:`_bright_sheet`), from float32 (H, W) grey levels."""
    return _shrink(1.0 - gray), _bright_sheet(gray)


def _two_threads() -> bool:
    """True when OpenCV may use more than one thread (``cv2.getNumThreads() > 1``, its
    default on a machine of several cores): ``cnn predict`` on a few files, each of ``cnn
    serve``'s worker processes (a single client's photo then uses two cores; under load the
    workers share them); ``cnn predict``'s pool of processes, one per core, and Dask's
    workers set OpenCV to one thread, and compute one photo on one thread."""
    return cv2.getNumThreads() > 1


def _beside(fn, *args) -> Future:
    """``fn(*args)`` as a :class:`concurrent.futures.Future`, computed on a second thread
    when :func:`_two_threads`, else here and now.

    Exists for: one photo's latency. Its two backgrounds (:func:`to_mnist`) are 12 and 8 ms
    of OpenCV, SciPy and NumPy work, which release the GIL, and neither needs the other; the
    dark-ink working image and sheet (4 and 2 ms) need only the grey levels, as the polarity
    does (4 ms). Exceptions come out of ``result()``. A process started by ``fork`` makes
    its own thread.
    """
    global _second_thread
    if not _two_threads():
        done: Future = Future()
        try:
            done.set_result(fn(*args))
        except Exception as exc:  # handed over as the thread would hand it over
            done.set_exception(exc)
        return done
    with _second_thread_made:
        if _second_thread is None or _second_thread[0] != os.getpid():
            _second_thread = (os.getpid(),
                              ThreadPoolExecutor(1, thread_name_prefix="cnn-vision"))
    return _second_thread[1].submit(fn, *args)


def _clean_canvas(gray: np.ndarray) -> float | None:
    """The background level of a clean canvas, or None: a picture (float32 (H, W) in [0, 1])
    whose border is one exact grey level, near white (>= 0.75) or near black (<= 0.25), that
    also covers at least half of it: a digit drawn on a drawing page's canvas, a scan
    cleaned to pure white.

    Exists for: ``cnn serve``'s canvas and drawn PNGs, which need none of the photo stages:
    their polarity is plain (ink is the other side of the background), and they have no
    desk, no shadow and no uneven light, so the local background is the one level
    (:func:`cnn.vision.illumination._flatten_illumination` with ``uniform``). A photo never
    has a border of one exact level (sensor noise, JPEG), so it takes the photo stages.
    """
    ring = _border_ring(gray, 1)
    level = ring[0]
    if 0.25 < level < 0.75 or not np.all(ring == level):
        return None
    if np.count_nonzero(gray == level) < 0.5 * gray.size:
        return None
    return float(level)


def _record(steps: dict | None, name: str, image: np.ndarray) -> None:
    """Keep a copy of one stage's image (float32 in [0, 1]) for ``--debug-steps``."""
    if steps is not None:
        steps[name] = np.clip(np.asarray(image, np.float32), 0.0, 1.0).copy()
