"""Turn any picture of one handwritten digit into what an MNIST digit looks like.

A network trained on MNIST only ever saw one kind of picture: a white digit on a black 28 x 28
field, size-normalised so that it fits a 20 x 20 box with its aspect ratio kept, anti-aliased
(grey levels at the stroke edges), and centred by its centre of mass. LeCun, Bottou, Bengio &
Haffner, "Gradient-based learning applied to document recognition", Proc. IEEE 86(11), 1998,
Section III.A, and the MNIST page (http://yann.lecun.com/exdb/mnist/): "The original black and
white (bilevel) images from NIST were size normalized to fit in a 20x20 pixel box while
preserving their aspect ratio. The resulting images contain grey levels as a result of the
anti-aliasing technique used by the normalization algorithm. the images were centered in a
28x28 image by computing the center of mass of the pixels, and translating the image so as to
position this point at the center of the 28x28 field." Measured on the first 2000 test digits:
the centre of mass (``scipy.ndimage.center_of_mass``, row, col) is (14.0, 14.0) +- 0.3, the
bounding box of non-zero pixels has a long side of 20, and the stroke width (``2 * area /
perimeter`` of the pixels above 0.5) has a median of 2.25 px (5 % .. 95 %: 1.5 .. 3.5 px).

Pictures people feed a digit reader differ from that in polarity (dark ink on paper), size,
position, stroke width, lighting and file format, and they carry other marks: ruled lines,
boxes, underlines, stains, shadows, the edge of the sheet, an app's buttons. The pipeline of
:func:`to_mnist`, one function per step, each naming the condition it exists for:

1. :func:`_to_gray`: grey levels as float in [0, 1] (8- and 16-bit, grey, BGR, BGRA); a
   varying alpha channel is composited over a background that contrasts with the strokes;
2. :func:`_ink_sign`: polarity from the larger tail of the residual from a robust quadratic
   background (the background is the majority of the pixels), with :func:`_border_polarity`
   (tight crops), :func:`_shadow_polarity` (a dark hard shadow over most of the page) and
   :func:`_bright_sheet` (a sheet that covers less of a photo than the darker desk around
   it) correcting it;
3. :func:`_shrink`: large images to 1000 px (a max filter first keeps 1-px strokes), light
   denoising; :func:`_mask_cluttered_desk`: a textured desk around a sheet becomes paper;
4. :func:`_pad_frame`: a replicated margin, so a tight crop keeps a background;
5. :func:`_flatten_illumination`: the ink above a grey-level opening (a local background that
   follows a hard shadow's edge), relative to the local paper brightness; when
   :func:`_hard_shadow` finds the paper at two levels with a sharp edge, the ink above a large
   median (:func:`_median_background`, which also follows a band of shadow too narrow for the
   opening) is tried first;
6. :func:`_threshold`: Otsu within bounds; :func:`_remove_long_lines` (ruled paper, margin
   lines) and :func:`_remove_frames` (boxes) take away what is not the digit;
7. :func:`_candidate_digits`: the largest ink with what lies near it, the same without an
   underline, other ink groups; each is normalised (8.), and when a classifier is given
   (``choose``) the one it reads most confidently wins, with a handicap for the less likely
   ones; a flat-background pass (:func:`_paper_level`, :func:`_flat_ink`: a tight crop of a
   thick digit) is tried only when no candidate is convincing (recognition-driven
   segmentation);
8. :func:`_normalise`: the grey-level ink inside the digit's box (anti-aliasing kept),
   stroke cores to ~1.0, strokes far thinner than MNIST's thickened (very thick ones of large
   digits thinned), resized with ``cv2.INTER_AREA`` to 4x the output resolution with a long
   side of 77 fine pixels, placed at the quarter-pixel offset that puts its centre of mass at
   (14, 14), and 4 x 4 block means give the 28 x 28 image (long side 19-20 output pixels).
"""

from __future__ import annotations

import os
import stat

import cv2
import numpy as np
from scipy import ndimage

from .errors import UserError

POLARITIES = ("auto", "dark-on-light", "light-on-dark")

OUT_SIZE = 28  # MNIST field, pixels
BOX_SIZE = 20  # MNIST size-normalisation box, pixels
CENTRE = (14.0, 14.0)  # (row, col) centre of mass of MNIST test digits, measured
STROKE_WIDTH = 2.25  # median MNIST stroke width at 28 x 28, 2 * area / perimeter of pixels > 0.5

_WORK_SIZE = 1000  # long side of the working image, pixels
_FIT_SIZE = 64  # long side of the image the background surface is fitted on
_SUB = 4  # sub-pixel steps per output pixel when placing the digit
_OPENING = 0.45  # side of the square of the background opening, fraction of the short side
_MEDIAN = 0.25  # side of the square of the median background, fraction of the short side
_SECOND_PENALTY = 0.05  # handicap of opening-background candidates under a hard shadow
_SHADOW_RATIO = 0.8  # a hard shadow's paper is at most this fraction of the lit paper's brightness
_SHADOW_EDGE = 0.05  # ... and at most this fraction of the picture lies between the two levels
_SHADOW_BORDER = 0.25  # ... and the shaded paper covers this much of the frame's border, at least
_SURE = 0.9  # a local-background candidate this confident needs no flat-background fallback
_FALLBACK_PENALTY = 0.15  # handicap of flat-background candidates against local ones
_OTHER_SEED_PENALTY = 0.1  # handicap of candidates grown from other than the largest ink
_MIN_CONTRAST = 0.08  # weakest ink-to-background difference counted as ink, fraction of full range


MAX_PIXELS = 40_000_000  # largest image read, width x height (a 40-megapixel photo)
MAX_FILE_BYTES = 200 * 1024 * 1024  # largest image file read


def declared_pixels(data: bytes | np.ndarray) -> int | None:
    """Width x height an image file declares in its header, without decoding it (Pillow's
    lazy ``Image.open`` reads the header only); ``None`` when Pillow does not know the format
    (OpenCV may still decode it)."""
    import io
    import re

    from PIL import Image

    try:
        with Image.open(io.BytesIO(data.tobytes() if isinstance(data, np.ndarray) else data)) as im:
            return int(im.size[0]) * int(im.size[1])
    except Image.DecompressionBombError as e:  # Pillow's own limit, far above MAX_PIXELS
        match = re.search(r"\((\d+) pixels\)", str(e))
        return int(match.group(1)) if match else MAX_PIXELS + 1
    except Exception:  # noqa: BLE001 - unknown or corrupt: left to OpenCV's decoder
        return None


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file exactly as stored, with no conversion.

    Only regular files are read (a FIFO, a device or a socket is refused before it is opened,
    so nothing blocks), files up to :data:`MAX_FILE_BYTES`, and images of at most
    :data:`MAX_PIXELS` pixels, checked from the header before anything is decoded (a 1 MB PNG
    may declare 32000 x 32000 pixels, 1 GB of memory or more once decoded). The bytes are read
    with ``np.fromfile`` and decoded by ``cv2.imdecode(..., cv2.IMREAD_UNCHANGED)``, so paths
    with non-ASCII characters work on every platform.

    Args:
        path: any format OpenCV decodes (PNG, JPEG, BMP, TIFF, WebP, ...).
    Returns:
        the raw array: shape ``(H, W)`` (grey) or ``(H, W, 3)`` (BGR) or ``(H, W, 4)`` (BGRA),
        dtype uint8 or uint16 (16-bit PNG/TIFF), possibly float32 for some TIFF/EXR files.
    Raises:
        UserError: if the file does not exist, is a folder or a special file, is empty (0
            bytes) or too large, declares too many pixels, is not an image or is corrupt
            (OpenCV cannot decode it), or decodes to an image with no pixels.
    """
    name = os.fspath(path)
    if name == "":
        raise UserError("cannot read image '': the path is empty; give an image file")
    try:
        mode = os.stat(name).st_mode
    except FileNotFoundError:
        raise UserError(f"cannot read image {name!r}: no such file; check the path") from None
    except OSError as exc:
        raise UserError(f"cannot read image {name!r}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        raise UserError(f"cannot read image {name!r}: it is a folder; give an image file")
    if not stat.S_ISREG(mode):
        raise UserError(f"cannot read image {name!r}: not a regular file (a FIFO, device or "
                        "socket); give an image file")
    size = os.stat(name).st_size
    if size > MAX_FILE_BYTES:
        raise UserError(f"cannot read image {name!r}: the file is {size / 2**20:,.0f} MB, more "
                        f"than the {MAX_FILE_BYTES // 2**20} MB allowed; save a smaller copy")
    try:
        data = np.fromfile(name, dtype=np.uint8)
    except OSError as exc:
        raise UserError(f"cannot read image {name!r}: {exc.strerror or exc}") from exc
    return decode_image_bytes(data, name)


def decode_image_bytes(data: bytes | np.ndarray, name: str) -> np.ndarray:
    """Decode an encoded image (a file's bytes, or an upload's) as stored, after the checks
    that keep a bad file from costing memory or time: empty, more than :data:`MAX_PIXELS`
    declared in the header (checked before decoding), a truncated JPEG, not decodable.

    Shared by :func:`read_image` (files) and ``cnn serve``'s uploads, so both give the same
    one-line messages for the same bytes.

    Args:
        data: the encoded image, ``bytes`` or a uint8 ``(n,)`` array.
        name: what to call the image in messages (its path, or the upload's name).
    Returns:
        as :func:`read_image`.
    Raises:
        UserError: empty, too many pixels (declared or decoded), a truncated JPEG, not an
            image or corrupt, or no pixels once decoded.
    """
    if not isinstance(data, np.ndarray):
        data = np.frombuffer(data, np.uint8)
    if data.size == 0:
        raise UserError(f"cannot read image {name!r}: file is empty (0 bytes)")
    declared = declared_pixels(data)
    if declared is not None and declared > MAX_PIXELS:
        raise UserError(
            f"cannot read image {name!r}: it declares {declared:,} pixels, more than the "
            f"{MAX_PIXELS // 1_000_000} megapixels allowed; save a smaller copy")
    if data[:3].tobytes() == b"\xff\xd8\xff":
        # A JPEG's entropy-coded data holds no 0xFFD9, so one must follow the first
        # start-of-scan marker; some OpenCV builds decode a truncated JPEG without complaint.
        raw = data.tobytes()
        start = raw.find(b"\xff\xda")
        if start < 0 or raw.find(b"\xff\xd9", start) < 0:
            raise UserError(
                f"cannot read image {name!r}: the JPEG file is truncated ({data.size} bytes); "
                "copy or export it again")
    try:
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    except cv2.error:  # e.g. more pixels than OpenCV's own limit, in a format Pillow lacks
        image = None
    if image is None:
        raise UserError(
            f"cannot read image {name!r}: not an image or corrupt ({data.size} bytes); "
            "save it as PNG or JPEG"
        )
    if image.size == 0:
        raise UserError(f"cannot read image {name!r}: the image has no pixels ({image.shape})")
    if image.shape[0] * image.shape[1] > MAX_PIXELS:
        raise UserError(
            f"cannot read image {name!r}: it has {image.shape[1]:,} x {image.shape[0]:,} "
            f"pixels, more than the {MAX_PIXELS // 1_000_000} megapixels allowed; save a "
            "smaller copy")
    return image


def preprocess_file(path: str | os.PathLike, polarity: str = "auto", choose=None,
                    steps: dict | None = None) -> np.ndarray:
    """Read an image file and turn it into an MNIST-like digit: :func:`read_image` + :func:`to_mnist`.

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
    image = read_image(path)
    try:
        return to_mnist(image, polarity=polarity, choose=choose, steps=steps)
    except UserError as exc:
        raise UserError(f"{os.fspath(path)!r}: {exc}") from exc


def to_mnist(image: np.ndarray, polarity: str = "auto", choose=None,
             steps: dict | None = None) -> np.ndarray:
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
            candidate is returned (recognition-driven segmentation, as OCR systems do).
        steps: ``None`` or a dict that receives each stage as a float32 image in [0, 1]
            (name -> (H, W) array, in pipeline order), to show why an image failed.
    Returns:
        float32 array of shape ``(28, 28)``, values in [0, 1] (MNIST pixels / 255), maximum
        1.0: white digit on black, bounding box of its non-zero pixels within 20 x 20 (long
        side 19 or 20), centre of mass within ~0.15 px of (14, 14) (unless the digit is
        so lopsided that centring pushes ink off the field).
    Raises:
        UserError: if ``polarity`` is not one of the three values, the array has an unusable
            shape or dtype, or no ink is found (a blank or uniform image).
    """
    if polarity not in POLARITIES:
        raise UserError(f"unknown polarity {polarity!r}: use one of {', '.join(POLARITIES)}")
    gray, from_alpha = _to_gray(image)
    if from_alpha:
        polarity = "auto"
    _record(steps, "1_gray", gray)

    ink_sign = _ink_sign(gray, polarity)
    work = _shrink(gray if ink_sign > 0 else 1.0 - gray)  # ink bright from here on
    if ink_sign < 0:
        work = _mask_cluttered_desk(work, _bright_sheet(gray))
    work, pad = _pad_frame(work)
    _record(steps, "2_ink_bright_padded", work)
    candidates: list[np.ndarray] = []
    scores: list[float] = []
    passes = ("local", "flat")
    median = None  # the median background, computed once for the test and the pass
    if ink_sign < 0 and min(work.shape) >= 48:
        median = _median_background(work)
        if _hard_shadow(work, pad, median):
            passes = ("median", "local", "flat")
    for background in passes:
        if background == "flat" and (choose is None or min(work.shape) < 48
                                     or (scores and max(scores) >= _SURE)):
            break
        ink, noise = _flatten_illumination(work, pad, background, relative=ink_sign < 0,
                                           median=median)
        _record(steps, f"3_flattened_{background}", ink / max(float(ink.max()), 1e-6))
        if float(ink.max()) < max(_MIN_CONTRAST, 8.0 * noise):
            continue
        mask, thresh = _threshold(ink, noise)
        _record(steps, f"4_threshold_{background}", mask)
        mask = _remove_long_lines(mask, pad)
        _record(steps, f"5_lines_removed_{background}", mask)
        mask = _remove_frames(mask)
        _record(steps, f"6_boxes_removed_{background}", mask)
        found = []
        handicaps = []
        for selected, box, handicap in _candidate_digits(mask, pad):
            try:
                found.append(_normalise(ink, selected, box, thresh))
            except UserError:
                continue
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
    if not candidates:
        if not scores and "noise" in locals() and float(ink.max()) < max(_MIN_CONTRAST, 8 * noise):
            raise UserError("no digit found: the image is blank (no ink)")
        raise UserError("no digit found: only specks of ink, no stroke")
    best = int(np.argmax(scores)) if scores else 0
    for k, candidate in enumerate(candidates):
        _record(steps, f"7_candidate_{k}" + ("_chosen" if k == best else ""), candidate)
    return candidates[best]


def _record(steps: dict | None, name: str, image: np.ndarray) -> None:
    """Keep a copy of one stage's image (float32 in [0, 1]) for ``--debug-steps``."""
    if steps is not None:
        steps[name] = np.clip(np.asarray(image, np.float32), 0.0, 1.0).copy()


def _to_gray(image: np.ndarray) -> tuple[np.ndarray, bool]:
    """Grey levels as float32 in [0, 1], shape (H, W); True if they come from a varying alpha."""
    if not isinstance(image, np.ndarray):
        raise UserError(f"image should be a numpy array, got {type(image).__name__}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise UserError(
            f"image of shape {image.shape} not understood: expected (H, W), (H, W, 3) or (H, W, 4)")
    if image.size == 0 or min(image.shape[:2]) < 2:
        raise UserError(f"image of shape {image.shape} is too small: need at least 2 x 2 pixels")

    if image.dtype == np.bool_:
        full = 1.0
    elif image.dtype == np.uint8:
        full = 255.0
    elif image.dtype == np.uint16:
        full = 65535.0
    elif np.issubdtype(image.dtype, np.integer):
        top = int(image.max())
        if image.min() < 0 or top > 65535:
            raise UserError(
                f"integer image with values {int(image.min())}..{top} not understood: "
                "expected 0..255 or 0..65535")
        full = 255.0 if top <= 255 else 65535.0
    elif np.issubdtype(image.dtype, np.floating):
        if not np.all(np.isfinite(image)):
            raise UserError("image has NaN or infinite values: give finite pixel values")
        full = 1.0 if float(image.max()) <= 1.0 else 255.0
    else:
        raise UserError(f"image dtype {image.dtype} not understood: use uint8, uint16 or float")
    img = np.clip(image.astype(np.float32) / full, 0.0, 1.0)

    if img.ndim == 2:
        return img, False
    bgr = img[:, :, :3]
    gray = bgr @ np.array([0.114, 0.587, 0.299], np.float32)  # ITU-R BT.601, as cv2.cvtColor
    if img.shape[2] == 4:
        alpha = img[:, :, 3]
        if float(alpha.max() - alpha.min()) > 1e-3:
            # Stroke colour = alpha-weighted mean grey; composite over its opposite.
            weights = alpha * alpha
            stroke = float((gray * weights).sum() / weights.sum())
            backdrop = 1.0 if stroke < 0.5 else 0.0
            return (alpha * gray + (1.0 - alpha) * backdrop).astype(np.float32), True
    return gray.astype(np.float32), False


def _robust_sigma(values: np.ndarray) -> float:
    """Standard deviation of the bulk of ``values`` from the median absolute deviation."""
    flat = values.ravel()
    if flat.size > 50_000:
        flat = flat[:: flat.size // 50_000]
    med = np.median(flat)
    return float(1.4826 * np.median(np.abs(flat - med)))


def _fit_background(gray: np.ndarray) -> np.ndarray:
    """Background of ``gray`` (H, W) as a smooth surface fitted to the majority of the pixels.

    Least squares of ``c0 + c1 x + c2 y + c3 x^2 + c4 x y + c5 y^2`` (x, y in [-1, 1]) on a
    copy of at most 64 px, refitted 6 times on the pixels within 3 robust sigmas (floor 0.01)
    of the previous fit, starting from the median; the ink falls out after the first pass, so
    a linear or vignette-like light gradient remains. Images under 32 px get a constant (the
    median of the kept pixels). Returns float32 (H, W).
    """
    h, w = gray.shape
    factor = min(1.0, _FIT_SIZE / max(h, w))
    small = gray if factor == 1.0 else cv2.resize(
        gray, (max(2, round(w * factor)), max(2, round(h * factor))), interpolation=cv2.INTER_AREA)
    quadratic = min(h, w) >= 32

    def terms(rows: int, cols: int) -> list[np.ndarray]:
        y = np.linspace(-1, 1, rows, dtype=np.float32)[:, None]
        x = np.linspace(-1, 1, cols, dtype=np.float32)[None, :]
        return [np.ones((1, 1), np.float32), x, y, x * x, x * y, y * y]

    z = small.ravel()
    basis = np.stack([np.broadcast_to(t, small.shape).ravel() for t in terms(*small.shape)], 1)
    coef = np.zeros(basis.shape[1], np.float32)
    coef[0] = np.median(z)
    for _ in range(6):
        r = z - basis @ coef
        keep = np.abs(r) < 3.0 * max(_robust_sigma(r), 0.01)
        if not quadratic or keep.sum() < 4 * basis.shape[1]:
            coef[:] = 0.0
            coef[0] = np.median(z[keep]) if keep.any() else np.median(z)
            break
        a = basis[keep].astype(np.float64)
        # Least squares that tolerates a rank-deficient basis (a strip 2 px high at 64 px,
        # where y and y^2 repeat the constant).
        coef = np.linalg.lstsq(a, z[keep].astype(np.float64), rcond=None)[0].astype(np.float32)
    surface = sum(c * t for c, t in zip(coef, terms(h, w)))
    return np.broadcast_to(surface, (h, w)).astype(np.float32)


def _decide_polarity(residual: np.ndarray) -> tuple[float, float]:
    """``(sign, evidence)``: sign +1.0 if the ink is lighter than the background
    (light-on-dark), -1.0 if darker; evidence = how lopsided the two tails are (>= 1).

    The background is the majority of the pixels, so the residual's bulk is noise around 0; the
    ink is the larger tail beyond 4 robust sigmas.
    """
    sigma = _robust_sigma(residual)
    margin = 4.0 * sigma
    light = float(np.maximum(residual - margin, 0.0).sum())
    dark = float(np.maximum(-residual - margin, 0.0).sum())
    tiny = 1e-6 * residual.size
    evidence = (max(light, dark) + tiny) / (min(light, dark) + tiny)
    return (1.0 if light > dark else -1.0), evidence


def _border_polarity(gray: np.ndarray) -> tuple[float, float]:
    """``(sign, margin)``: -1.0 if the darkest pixels lie further below the frame's border
    than the brightest lie above it (dark ink), else +1.0; margin = the difference, in grey
    levels of [0, 1].

    Exists for: hard shadows and tight crops, where the majority rule of
    :func:`_decide_polarity` fails (a shadow covers half the page; a tight crop's ink is a
    large part of it). The border is background (paper, lit or shaded, or a canvas) except
    where ink touches it, so its quartiles bound the background: ink is what goes beyond
    them, measured by the 0.1st and 99.9th percentiles of the whole picture.
    """
    ring = _border_ring(gray, 2)
    low, high = np.percentile(ring, [25, 75])
    darkest, brightest = np.percentile(gray, [0.1, 99.9])
    dark, light = float(low - darkest), float(brightest - high)
    return (-1.0 if dark > light else 1.0), abs(dark - light)


def _border_ring(image: np.ndarray, width: int) -> np.ndarray:
    """The pixels of the ``width``-px strips along the four sides of ``image`` (H, W), as one
    flat array of its dtype (corners counted twice)."""
    return np.concatenate([image[:width].ravel(), image[-width:].ravel(),
                           image[:, :width].ravel(), image[:, -width:].ravel()])


def _shadow_polarity(gray: np.ndarray, sign: float) -> float:
    """-1.0 if, against a local background that follows hard edges, the ink is clearly dark;
    else ``sign`` (the verdict of the quadratic fit) unchanged.

    Exists for: a dark hard shadow over most of the page. A quadratic cannot bend around the
    shadow's sharp edge, so the lit part of the paper stands out as a large "light ink" tail
    and :func:`_decide_polarity` says light-on-dark. A median filter (square of 25 % of the
    short side, at a long side of 160 px) keeps the shadow's edge and removes every structure
    narrower than half its side, dark or light (Huang, Yang & Tang, "A fast two-dimensional
    median filtering algorithm", IEEE Trans. ASSP 27(1), 1979), so the residual's tails are
    the strokes. Only consulted when the quadratic fit or the border rule says light-on-dark;
    its own evidence must lean clearly dark (the dark tail at least 1.3 times the light one:
    a shadow's soft edge and wedge tips leave light and dark residue of their own).
    """
    small, local = _median_filter(gray, 160)
    if min(small.shape) < 24:
        return sign
    local_sign, evidence = _decide_polarity(small - local)
    return -1.0 if local_sign < 0 and evidence >= 1.3 else sign


def _ink_sign(gray: np.ndarray, polarity: str) -> float:
    """+1.0 if the ink is lighter than the background, -1.0 if darker (polarity).

    Exists for: photos (dark ink on paper) and canvases (light strokes on black). The sign of
    the larger tail of the residual from a robust quadratic background says which (the
    background is the majority of the pixels). A forced polarity is checked: if it finds no
    ink while the other has some, the error says to use 'auto'.
    """
    residual = gray - _fit_background(gray)
    if polarity == "auto":
        sign, evidence = _decide_polarity(residual)
        # A hard shadow bends no quadratic, and its lit part then passes for light ink; the
        # frame's border is a better judge when it speaks clearly.
        border_sign, margin = _border_polarity(gray)
        if margin >= 0.1:
            sign = border_sign
        if sign > 0:  # a shadow over most of the border misleads the border too
            sign = _shadow_polarity(gray, sign)
        return -1.0 if sign > 0 and _bright_sheet(gray) is not None else sign
    sign = 1.0 if polarity == "light-on-dark" else -1.0
    sigma = _robust_sigma(residual)
    floor = max(_MIN_CONTRAST, 8.0 * sigma)
    if float((sign * residual).max()) < floor and float((-sign * residual).max()) >= floor:
        raise UserError(
            f"no digit found: no {polarity} ink, but the opposite polarity has some; "
            "use polarity 'auto'")
    return sign


def _bright_sheet(gray: np.ndarray) -> np.ndarray | None:
    """The sheet of paper a digit is written on, if the photo shows one lying on something
    darker; bool mask (H, W) of the sheet (its holes filled), or None.

    Exists for: a digit on a sheet lying on a desk, the sheet's outline in view. A sheet is a
    bright region (Otsu, at 256 px) of 15-90 % of the picture, nearly convex (area over 85 %
    of its convex hull) with small dark marks inside it (holes under 6 % of its area: the
    strokes; a light "0" on black has a larger hole, its loop), on a surround under 60 % of
    its brightness.
    """
    h, w = gray.shape
    factor = min(1.0, 256 / max(h, w))
    small = cv2.resize(gray, (max(2, round(w * factor)), max(2, round(h * factor))),
                       interpolation=cv2.INTER_AREA)
    _, bright = cv2.threshold((small * 255).astype(np.uint8), 0, 1,
                              cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    contours, hierarchy = cv2.findContours(bright, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    outer = [i for i in range(len(contours)) if hierarchy[0][i][3] < 0]
    big = max(outer, key=lambda i: cv2.contourArea(contours[i]))
    area = cv2.contourArea(contours[big])
    hull = cv2.contourArea(cv2.convexHull(contours[big]))
    holes = sum(a for a in (cv2.contourArea(contours[i]) for i in range(len(contours))
                            if hierarchy[0][i][3] == big) if a > 0.0005 * small.size)
    if not (0.15 * small.size < area < 0.9 * small.size and area > 0.85 * hull
            and 0 < holes < 0.06 * area):
        return None
    sheet = np.zeros(small.shape, np.uint8)
    cv2.drawContours(sheet, contours, big, 1, -1)
    if np.median(small[sheet == 0]) > 0.6 * np.median(small[sheet > 0]):
        return None  # what surrounds it is not much darker: a light gradient, not a desk
    return cv2.resize(sheet, (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)


def _shrink(work: np.ndarray) -> np.ndarray:
    """Reduce a large image (ink bright) to a long side of 1000 px, then denoise lightly.

    Exists for: 4000 x 3000 phone photos and huge canvases. A max filter before
    ``cv2.INTER_AREA`` keeps 1-px strokes at full strength; a Gaussian of sigma 1 px
    (images of 64 px and more) takes off sensor noise and JPEG blocks.
    """
    long_side = max(work.shape)
    if long_side > _WORK_SIZE:
        factor = long_side / _WORK_SIZE
        work = cv2.dilate(work, np.ones((int(np.ceil(factor)),) * 2, np.uint8))
        size = (max(1, round(work.shape[1] / factor)), max(1, round(work.shape[0] / factor)))
        work = cv2.resize(work, size, interpolation=cv2.INTER_AREA)
    if min(work.shape) >= 64:
        work = cv2.GaussianBlur(work, (0, 0), 1.0)
    return work.astype(np.float32)


def _mask_cluttered_desk(work: np.ndarray, sheet: np.ndarray | None) -> np.ndarray:
    """Replace what lies outside the sheet by paper, when that outside is textured clutter.

    Exists for: a sheet on a wooden desk: the desk's grain would pass for ink. Only done when
    the texture outside the sheet (robust sigma of the image minus its Gaussian blur of
    0.6 % of the long side) is over 1.3 times that inside (measured 1.4-3 for desks, 0.8-1.0
    for shadows), and the outside is under 60 % of the sheet's brightness: a hard shadow is
    the same paper as the lit part, a light gradient is not that dark, and both are left
    alone. ``work`` is ink-bright, (H, W); the sheet is shrunk by 2 % of the
    picture's side so its edge goes too.
    """
    if sheet is None:
        return work
    sheet = cv2.resize(sheet.astype(np.uint8), (work.shape[1], work.shape[0]),
                       interpolation=cv2.INTER_NEAREST)
    edge = max(3, int(0.025 * max(work.shape))) | 1
    grain = work - cv2.GaussianBlur(work, (0, 0), max(1.0, 0.006 * max(work.shape)))
    inside = grain[cv2.erode(sheet, np.ones((edge, edge), np.uint8)) > 0]
    outside = grain[cv2.dilate(sheet, np.ones((edge, edge), np.uint8)) == 0]
    if outside.size < 100 or inside.size < 100 or (
            _robust_sigma(outside) < 1.3 * _robust_sigma(inside)):
        return work
    paper = 1.0 - float(np.median(work[sheet > 0]))  # work is 1 - grey here
    if 1.0 - float(np.median(work[sheet == 0])) > 0.6 * paper:
        return work  # not much darker than the sheet: a light gradient, not a desk
    shrink = max(3, int(0.02 * max(work.shape))) | 1
    inner = cv2.erode(sheet, np.ones((shrink, shrink), np.uint8)) > 0
    out = work.copy()
    out[~inner] = float(np.median(work[inner]))
    return out


def _pad_frame(work: np.ndarray) -> tuple[np.ndarray, int]:
    """Pad the image (ink bright) on every side by 20 % of its long side, edges replicated.

    Exists for: digits cropped tight (the ink touches the frame, as in a form cell or a
    cropped screenshot) and shadows that leave the frame. The background estimate of
    :func:`_flatten_illumination` then sees a strip of paper around a tight crop's ink, and a
    shadow's wedge cut by the frame goes on beyond it instead of looking like a stroke.
    Nothing in the padding is ever taken as ink. Returns the padded float32 image and the
    pad width in pixels.
    """
    h, w = work.shape
    pad = max(4, int(round(0.2 * max(h, w))))
    return cv2.copyMakeBorder(work, pad, pad, pad, pad, cv2.BORDER_REPLICATE), pad


def _flatten_illumination(work: np.ndarray, pad: int, background: str = "local",
                          relative: bool = False, median: np.ndarray | None = None
                          ) -> tuple[np.ndarray, float]:
    """Ink above the local background: the image minus its grey-level opening, >= 0.

    Exists for: hard shadows, light gradients, a sheet lying on a darker desk. A grey-level
    morphological opening (erosion then dilation, a square of 45 % of the short side) removes
    every bright structure narrower than the square, i.e. the strokes, and keeps large areas
    with their sharp edges (a shadow's edge, the sheet's outline), which a smooth fitted
    surface cannot follow. (Sternberg's "rolling ball" background, IEEE Computer 16(1), 1983.)
    The residual's bulk (the paper) is shifted to 0. Small images (< 48 px) use a constant
    background instead; so does ``background="flat"``, offered as a second candidate for a
    tight crop of a thick marker digit whose strokes are wider than the square;
    ``background="median"`` takes :func:`_median_background` instead of the opening (tried
    first under a hard shadow, :func:`_hard_shadow`; ``median``, if given, is that background
    already computed for ``work``). With
    ``relative`` (dark ink on paper, ``work`` = 1 - grey) the residual is divided by the local
    paper brightness, 1 - background: light multiplies, so a stroke in a shadow has as much
    relative contrast as one in full light and one threshold fits both. Returns float32
    (H, W) ink strength in [0, 1], and its robust sigma (0 where most of it is clipped
    paper: then only the fixed contrast floor decides what is ink).
    """
    h, w = work.shape
    inner = work[pad:h - pad, pad:w - pad]
    flat = background == "flat"
    if min(h, w) < 48 or flat:
        ring = _border_ring(inner, 2)
        level = np.float32(np.median(ring))  # paper, even where a tight crop's ink touches
        background = np.minimum(level, np.float32(np.median(inner)))
        if flat:
            background = np.minimum(background, _paper_level(inner))
    elif background == "median":
        background = _median_background(work) if median is None else median
    else:
        size = max(3, int(_OPENING * min(h, w)))
        background = ndimage.grey_opening(work, size=(size, size), mode="nearest")
        background = _reconstruct(background, work)
    residual = work - background
    if relative:
        residual = residual / np.maximum(1.0 - background, 0.35)
    inner = residual[pad:h - pad, pad:w - pad]
    out = np.zeros_like(work)
    if flat:
        return _flat_ink(inner, out, pad)
    inner = inner - float(np.median(inner))
    out[pad:h - pad, pad:w - pad] = np.clip(inner, 0.0, 1.0)
    return out, _robust_sigma(out[pad:h - pad, pad:w - pad])


def _median_filter(image: np.ndarray, long_side: int) -> tuple[np.ndarray, np.ndarray]:
    """``(small, median)``: ``image`` (H, W) float32 in [0, 1] reduced (``cv2.INTER_AREA``,
    never enlarged) to a long side of at most ``long_side`` px, and its median filter over a
    square of ``_MEDIAN`` of the reduced short side (odd, >= 3 px), float32 in [0, 1] at 8-bit
    precision, same shape.

    A median filter removes every structure narrower than half its square, dark or light, and
    keeps a step edge where it is (Huang, Yang & Tang, "A fast two-dimensional median
    filtering algorithm", IEEE Trans. ASSP 27(1), 1979; OpenCV's 8-bit ``medianBlur``).
    """
    h, w = image.shape
    factor = min(1.0, long_side / max(h, w))
    small = image
    if factor < 1:
        small = cv2.resize(image, (max(2, round(w * factor)), max(2, round(h * factor))),
                           interpolation=cv2.INTER_AREA)
    grey8 = np.clip(small * 255.0 + 0.5, 0, 255).astype(np.uint8)
    size = max(3, int(_MEDIAN * min(small.shape))) | 1
    return small, cv2.medianBlur(grey8, size).astype(np.float32) / 255.0


def _median_background(work: np.ndarray) -> np.ndarray:
    """Background of an ink-bright image by a large median filter: float32 (H, W) in [0, 1],
    at most ``work`` (float32 (H, W) in [0, 1]) everywhere.

    Exists for: a hard shadow narrower than the opening's square. The median over a square of
    ``_MEDIAN`` of the short side (:func:`_median_filter`) removes the strokes and keeps a
    step edge where it is, so the paper on each side of a shadow's edge is its own background
    and a band of shadow of any width above half the square goes. Computed at a long side of
    at most 700 px, brought back bilinearly.
    """
    h, w = work.shape
    small, median = _median_filter(work, 700)
    if small.shape != work.shape:
        median = cv2.resize(median, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.minimum(median, work)


def _hard_shadow(work: np.ndarray, pad: int, median: np.ndarray | None = None) -> bool:
    """True if the paper of an ink-bright image (float32 (H, W) in [0, 1], padded by ``pad``
    px on every side, as :func:`_pad_frame` returns it) lies at two levels, lit and shaded,
    with a sharp edge between them: a hard shadow. ``median``: :func:`_median_background` of
    ``work`` when already computed.

    Exists for: choosing the median background (:func:`_median_background`) first for a
    photo with a hard shadow. The paper's brightness (1 - the median background) is split by
    Otsu's threshold; a hard shadow is two classes of at least 10 % of the picture each, the
    darker at most ``_SHADOW_RATIO`` of the lighter (medians) and at least ``_MIN_CONTRAST``
    below it (not the noise of an underexposed page), under ``_SHADOW_EDGE`` of
    the picture in the middle half of the step between them (a gradient of light, a
    vignette, has a wide middle; a shadow's edge is a few pixels wide), and the darker class
    on at least ``_SHADOW_BORDER`` of the frame's border: a shadow comes in from outside the
    frame (measured 34-60 % of the border), while a stroke too thick for the median, in a
    tight crop, touches it only where it is cut (0-19 %).
    """
    h, w = work.shape
    if median is None:
        median = _median_background(work)
    paper = 1.0 - median[pad:h - pad, pad:w - pad]
    grey8 = np.clip(paper * 255.0 + 0.5, 0, 255).astype(np.uint8)
    otsu, _ = cv2.threshold(grey8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    shaded = grey8 <= otsu
    dark, lit = paper[shaded], paper[~shaded]
    if min(dark.size, lit.size) < 0.1 * paper.size:
        return False
    if _border_ring(shaded, 1).mean() < _SHADOW_BORDER:
        return False  # a shadow is cast from outside the frame; a thick stroke is not
    low, high = float(np.median(dark)), float(np.median(lit))
    if low > _SHADOW_RATIO * high or high - low < _MIN_CONTRAST:
        return False
    gap = high - low
    middle = (paper > low + 0.25 * gap) & (paper < high - 0.25 * gap)
    return float(middle.mean()) < _SHADOW_EDGE


def _paper_level(inner: np.ndarray) -> np.float32:
    """The paper's level in an ink-bright image: the median of the darker Otsu class.

    Exists for: a tight crop of a thick digit, where the ink covers most of the picture and
    even most of its border, so neither the border's nor the picture's median is paper.
    """
    top = max(float(inner.max()), 1e-6)
    scaled = np.clip(inner / top * 255.0, 0, 255).astype(np.uint8)
    otsu, _ = cv2.threshold(scaled, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    dark = inner[scaled <= otsu]
    return np.float32(np.median(dark) if dark.size else np.median(inner))


def _flat_ink(inner: np.ndarray, out: np.ndarray, pad: int) -> tuple[np.ndarray, float]:
    """Ink above a flat paper level and its noise sigma, for :func:`_flatten_illumination`.

    Exists for: a tight crop of a thick digit, where the ink is most of the picture. The
    residual's median would then be an ink level, and shifting it to 0 (as the local
    background does) would erase the digit; the paper level is already 0 here. The noise is
    measured on the paper only (the pixels at most at the paper level, which no ink reaches),
    as the robust sigma of their difference from a Gaussian blur of sigma 2 px, so that a
    light gradient across a flat level does not count as noise. ``out`` (padded, zeros)
    receives the ink.
    """
    fine = inner - cv2.GaussianBlur(inner, (0, 0), 2.0)
    paper = fine[inner <= 0]
    noise = _robust_sigma(paper) if paper.size >= 50 else _robust_sigma(inner)
    out[pad:out.shape[0] - pad, pad:out.shape[1] - pad] = np.clip(inner, 0.0, 1.0)
    return out, noise


def _reconstruct(marker: np.ndarray, image: np.ndarray, side: int = 256) -> np.ndarray:
    """Grey-level reconstruction by dilation of ``marker`` under ``image`` (both (H, W), ink
    bright), computed at ``side`` px and brought back: ``max(marker, min(upsampled, image))``.

    Exists for: the acute corners of a hard shadow and the grain of a desk. An opening cannot
    fit its square into a shadow's wedge tip, so the tip would pass for ink; but the tip is
    connected to the rest of the shadow, which the opening kept, at the shadow's level, and
    geodesic dilation (Vincent, "Morphological grayscale reconstruction in image analysis",
    IEEE Trans. Image Processing 2(2), 1993) floods it back into the background. Ink is
    brighter than any background and separated from it by paper, so it stays out.
    """
    h, w = image.shape
    factor = min(1.0, side / max(h, w))
    size = (max(2, round(w * factor)), max(2, round(h * factor)))
    small_image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    small = np.minimum(cv2.resize(marker, size, interpolation=cv2.INTER_AREA), small_image)
    kernel = np.ones((3, 3), np.uint8)
    for _ in range(4 * max(size)):
        grown = np.minimum(cv2.dilate(small, kernel), small_image)
        if np.array_equal(grown, small):
            break
        small = grown
    flooded = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.maximum(marker, np.minimum(flooded, image))


def _threshold(ink: np.ndarray, noise: float) -> tuple[np.ndarray, float]:
    """Binary ink mask (uint8 (H, W)) and the threshold used: Otsu within sane bounds.

    Exists for: any contrast from faint pencil to marker. Otsu's threshold on the ink scaled by
    its contrast, kept between 20 % and 60 % of the contrast and above 4 noise sigmas.
    """
    contrast = float(ink.max())
    scaled = np.clip(ink / contrast * 255.0, 0, 255).astype(np.uint8)
    otsu, _ = cv2.threshold(scaled, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    thresh = float(np.clip(otsu / 255.0 * contrast, max(0.2 * contrast, 4.0 * noise),
                           0.6 * contrast))
    return (ink > thresh).astype(np.uint8), thresh


def _remove_long_lines(mask: np.ndarray, pad: int) -> np.ndarray:
    """Remove thin straight lines that cross the picture and reach well beyond the digit.

    Exists for: ruled and squared notebook paper, a red margin line. A binary opening with a
    line of 80 % of the picture's width (height) finds horizontal (vertical) runs, tolerant to
    a few pixels of drift; of those, thin ones (at most 8 % of the picture's side thick: ruled
    lines, a drawing app's title bar) are
    lines if the largest ink left without them spans under 60 % of their length (so a tight
    crop, where a "7"'s bar or a "1" crosses the frame, keeps its strokes). The strokes that
    crossed a line are then joined again by a closing across the removed band.
    """
    h, w = mask.shape
    inner_w, inner_h = w - 2 * pad, h - 2 * pad
    found = {}
    for axis, length in ((1, int(0.8 * inner_w)), (0, int(0.8 * inner_h))):
        if length < 20:
            continue
        kernel = np.ones((1, length) if axis == 1 else (length, 1), np.uint8)
        # Thickened across first, so a line drifting by a few pixels (a hand-ruled margin,
        # a slightly turned page) still holds a straight run of that length.
        across = np.ones((9, 1) if axis == 1 else (1, 9), np.uint8)
        runs = cv2.morphologyEx(cv2.dilate(mask, across), cv2.MORPH_OPEN, kernel) & mask
        n, labels, stats, _ = cv2.connectedComponentsWithStats(runs, connectivity=8)
        max_thick = max(3.0, 0.08 * min(inner_w, inner_h))
        thin = [i for i in range(1, n)
                if stats[i, cv2.CC_STAT_AREA] / max(stats[i, 2 + (axis == 0)], 1) <= max_thick]
        if thin:
            runs = np.isin(labels, thin).astype(np.uint8)
            grow = np.ones((3, 1) if axis == 1 else (1, 3), np.uint8)
            found[axis] = (cv2.dilate(runs, grow) & mask, length)
    lines = np.zeros_like(mask)
    if not found:
        return mask
    rest = mask.copy()
    for runs, _ in found.values():
        rest &= 1 - runs
    m, _, rstats, _ = cv2.connectedComponentsWithStats(rest, connectivity=8)
    for axis, (runs, length) in found.items():
        if m > 1:
            biggest = 1 + int(np.argmax(rstats[1:, cv2.CC_STAT_AREA]))
            if rstats[biggest, 2 if axis == 1 else 3] >= 0.6 * length:
                continue  # the ink left spans the line: a stroke of a tightly cropped digit
        lines |= runs
    if not lines.any():
        return mask
    rest = mask & (1 - lines)
    # Bridge the gap the removal cut into strokes that crossed a line (across the line only).
    thick = int(max(3, 2 * lines.sum() / max(1, _line_length(lines))))
    across_h = cv2.morphologyEx(rest, cv2.MORPH_CLOSE, np.ones((thick + 2, 1), np.uint8))
    across_v = cv2.morphologyEx(rest, cv2.MORPH_CLOSE, np.ones((1, thick + 2), np.uint8))
    return rest | (lines & (across_h | across_v))


def _line_length(lines: np.ndarray) -> int:
    """Total length in pixels of the lines in a binary mask (longest side of each)."""
    n, _, stats, _ = cv2.connectedComponentsWithStats(lines, connectivity=8)
    return int(sum(max(stats[i, 2], stats[i, 3]) for i in range(1, n)))


def _remove_frames(mask: np.ndarray) -> np.ndarray:
    """Remove the straight sides of boxes drawn around the digit.

    Exists for: a digit written in a box (a form cell, a box drawn by hand), a drawing app's
    canvas border. A component is a box when at least three of the four bands along its
    bounding box's sides (each 12 % of the box's short side wide) are covered by it over 70 %
    of their length; the pixels of those bands are removed, so a digit touching its box
    keeps its strokes inside.
    """
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    out = mask.copy()
    for i in range(1, n):
        x, y, w, h, area = stats[i]
        if min(w, h) < 20:
            continue
        band = max(3, int(0.12 * min(w, h)))
        comp = labels[y:y + h, x:x + w] == i
        sides = {"top": comp[:band].any(axis=0), "bottom": comp[-band:].any(axis=0),
                 "left": comp[:, :band].any(axis=1), "right": comp[:, -band:].any(axis=1)}
        covered = [k for k, v in sides.items() if v.mean() > 0.7]
        if len(covered) < 3:
            continue
        region = out[y:y + h, x:x + w]
        cut = np.zeros((h, w), bool)
        grow = band + 2
        if "top" in covered:
            cut[:grow] = True
        if "bottom" in covered:
            cut[-grow:] = True
        if "left" in covered:
            cut[:, :grow] = True
        if "right" in covered:
            cut[:, -grow:] = True
        region[comp & cut] = 0
    return out


def _candidate_digits(mask: np.ndarray, pad: int):
    """Candidate digit selections, most likely first: ``(selected bool (H, W), box)`` each.

    Exists for: pictures with other marks besides the digit (an underline, stains, a
    drawing app's buttons, the edge of a sheet). The first is the largest ink component with
    the components near it (:func:`_select_digit`); then the same without a straight
    horizontal stroke along its bottom (an underline; first if that stroke stands apart);
    then groups seeded by the next-largest components (at least 15 % of the largest's area).
    Each comes with a handicap subtracted from its classifier score: 0 for the largest ink,
    ``_OTHER_SEED_PENALTY`` for the others, so a fragment must be clearly more convincing.
    """
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n <= 1:
        return
    areas = stats[1:, cv2.CC_STAT_AREA]
    order = np.argsort(-areas) + 1
    seen = []
    for rank, seed in enumerate(order[:4]):
        if rank and areas[seed - 1] < 0.15 * areas[order[0] - 1]:
            break
        if any(g[labels == seed].any() for g, _ in seen):
            continue
        selected, box = _select_digit(mask, labels, stats, int(seed), max(mask.shape) - 2 * pad)
        if selected is None:
            continue
        seen.append((selected, box))
        handicap = 0.0 if rank == 0 else _OTHER_SEED_PENALTY
        under = _without_underline(selected, box)
        if under is not None and under[2]:  # a line of its own under the digit: first
            yield under[0], under[1], handicap
            yield selected, box, handicap + _OTHER_SEED_PENALTY
        else:
            yield selected, box, handicap
            if under is not None:
                yield under[0], under[1], handicap


def _select_digit(mask: np.ndarray, labels: np.ndarray, stats: np.ndarray,
                  seed: int, side: int) -> tuple[np.ndarray | None, tuple[int, int, int, int]]:
    """The digit grown from component ``seed`` of a binary ink ``mask`` (H, W) uint8.

    Exists for: digits in several strokes (a "5", a "4") among specks. ``labels`` and
    ``stats`` are those of ``cv2.connectedComponentsWithStats``; ``side`` is the picture's
    long side without the padding. Returns a boolean (H, W) mask
    of the seed plus the components of some size whose bounding box meets the digit's box
    grown by 15 % of its long side (repeated until nothing joins), and the union box
    ``(x0, y0, x1, y1)`` (exclusive ends). ``(None, ...)`` if the seed is a speck (long side
    under 2 % of ``side``, or 2 px).
    """
    x, y, w, h = stats[seed, :4]
    if max(w, h) < max(2, 0.02 * side):
        return None, (0, 0, 0, 0)
    box = [x, y, x + w, y + h]
    chosen = {seed}
    min_area = max(2, 0.03 * stats[seed, cv2.CC_STAT_AREA])
    candidates = [i for i in range(1, len(stats))
                  if i != seed and stats[i, cv2.CC_STAT_AREA] >= min_area]
    grew = True
    while grew:
        grew = False
        margin = 0.15 * max(box[2] - box[0], box[3] - box[1]) + 1
        for i in list(candidates):
            cx, cy, cw, ch = stats[i, :4]
            if (cx < box[2] + margin and cx + cw > box[0] - margin
                    and cy < box[3] + margin and cy + ch > box[1] - margin):
                chosen.add(i)
                candidates.remove(i)
                box = [min(box[0], cx), min(box[1], cy), max(box[2], cx + cw), max(box[3], cy + ch)]
                grew = True
    return np.isin(labels, sorted(chosen)), tuple(int(v) for v in box)


def _without_underline(selected: np.ndarray, box: tuple[int, int, int, int]):
    """The selection without a straight horizontal stroke along its bottom, or None.

    Exists for: an underlined digit (a line under a "7" makes it read "2"). The lowest
    horizontal run of at least 60 % of the digit's width, in the bottom fifth of its box, is
    taken away. Returns ``(selected, box, apart)`` like :func:`_select_digit`, ``apart`` True
    when the run was a stroke of its own (touching nothing above it: surely an underline);
    else it is only a candidate and the classifier decides (a "2" has such a stroke too).
    """
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    if w < 10 or h < 10:
        return None
    crop = selected[y0:y1, x0:x1].astype(np.uint8)
    run = cv2.morphologyEx(crop, cv2.MORPH_OPEN, np.ones((1, max(3, int(0.6 * w))), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(run, connectivity=8)
    if n <= 1:
        return None
    lowest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_TOP] + stats[1:, cv2.CC_STAT_HEIGHT]))
    top, height = stats[lowest, cv2.CC_STAT_TOP], stats[lowest, cv2.CC_STAT_HEIGHT]
    if top + height / 2 < 0.8 * h or top + height < 0.9 * h:
        return None
    line = cv2.dilate((labels == lowest).astype(np.uint8), np.ones((5, 3), np.uint8))
    m, parts, _, _ = cv2.connectedComponentsWithStats(crop, connectivity=8)
    touched = np.unique(parts[(line > 0) & (crop > 0)])
    apart = not (np.isin(parts, touched[touched > 0]) & (np.arange(h)[:, None] < top - 2)).any()
    rest = crop & (1 - line)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(rest, connectivity=8)
    if n <= 1:
        return None
    keep = stats[1:, cv2.CC_STAT_AREA] >= 0.1 * stats[1:, cv2.CC_STAT_AREA].max()
    kept = np.isin(labels, np.flatnonzero(keep) + 1)
    ys, xs = np.nonzero(kept)
    if ys.size == 0 or ys.max() - ys.min() < 0.5 * h:
        return None
    out = np.zeros_like(selected)
    out[y0:y1, x0:x1] = kept
    return out, (x0 + int(xs.min()), y0 + int(ys.min()), x0 + int(xs.max()) + 1,
                 y0 + int(ys.max()) + 1), apart


def _stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width of a binary ``mask`` in pixels: 2 * area / perimeter (1 for a 1-px line)."""
    m = mask.astype(np.uint8)
    contours, _ = cv2.findContours(m, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    perimeter = sum(cv2.arcLength(c, True) for c in contours)
    return 2.0 * float(m.sum()) / max(perimeter, 1.0)


def _normalise(ink: np.ndarray, selected: np.ndarray, box: tuple[int, int, int, int],
               thresh: float) -> np.ndarray:
    """Crop, level, re-stroke, size-normalise and centre the digit; float32 (28, 28) in [0, 1]."""
    x0, y0, x1, y1 = box
    long_side = max(x1 - x0, y1 - y0)
    scale = BOX_SIZE / long_side
    width = _stroke_width(selected[y0:y1, x0:x1])
    # Pixels to add (> 0) or remove (< 0) from the stroke width at working resolution, so the
    # stroke at 28 x 28 lands near the MNIST median. Only far-off strokes are changed; erosion
    # is limited (no stroke may break up) and only done on digits shrunk at least 2x.
    wanted = STROKE_WIDTH / scale
    change = 0
    if width < 0.6 * wanted:
        change = int(round(wanted - width))
    elif width > 1.6 * wanted and scale <= 0.5:
        change = -int(round(min(width - 1.3 * wanted, 0.5 * width)))
        change = change if change <= -2 else 0
    pad = abs(change) + 2
    h, w = ink.shape
    ya, yb, xa, xb = max(0, y0 - pad), min(h, y1 + pad), max(0, x0 - pad), min(w, x1 + pad)

    # Keep the ink of the digit's components (grown by 2 px for the anti-aliased edges).
    keep = cv2.dilate(selected[ya:yb, xa:xb].astype(np.uint8), np.ones((5, 5), np.uint8))
    crop = ink[ya:yb, xa:xb] * keep
    level = float(np.percentile(crop[selected[ya:yb, xa:xb]], 75))
    floor = 0.5 * thresh
    crop = np.clip((crop - floor) / max(level - floor, 1e-6), 0.0, 1.0).astype(np.float32)

    if change:
        size = abs(change) + 1
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
        crop = (cv2.dilate if change > 0 else cv2.erode)(crop, kernel)
    rows = np.flatnonzero(crop.max(axis=1) > 0.05)
    cols = np.flatnonzero(crop.max(axis=0) > 0.05)
    if rows.size == 0:
        raise UserError("no digit found: the ink vanished when thinned; try a bolder image")
    crop = crop[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]

    # Resize at 4x the output resolution, long side 4 * 20 - 3 = 77 fine pixels: placed at
    # any quarter-pixel offset it still spans at most 20 output pixels. 4 x 4 block means then
    # give the 28 x 28 image, so centring costs no interpolation blur (the block mean is the
    # anti-aliasing).
    ch, cw = crop.shape
    scale = (_SUB * BOX_SIZE - (_SUB - 1)) / max(ch, cw)
    size = (max(1, round(cw * scale)), max(1, round(ch * scale)))
    interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_CUBIC
    digit = np.clip(cv2.resize(crop, size, interpolation=interp), 0.0, 1.0)
    if float(digit.max()) <= 0.0:
        raise UserError("no digit found: the ink vanished when resized")

    # Stroke cores at ~1.0 like MNIST (where ~45 % of the ink pixels are > 0.9): a gain of at
    # most 2 lifts blurred strokes (e.g. from a tiny image) so ~40 % of the ink reaches 1.0.
    # It is applied before centring, as clipping moves the centre of mass.
    out = _place(digit)
    out /= float(out.max())
    core = float(np.percentile(out[out > 0.05], 60))
    gain = 1.0 / (float(_place(digit).max()) * max(core, 0.5))
    out = _place(np.clip(digit * gain, 0.0, 1.0))
    return np.clip(out / float(out.max()), 0.0, 1.0).astype(np.float32)


def _place(digit: np.ndarray) -> np.ndarray:
    """28 x 28 block means of ``digit`` (fine pixels, 4 per output pixel) placed so that its
    centre of mass lands within 1/8 output pixel of CENTRE (ink pushed off the field is lost);
    float32 (28, 28)."""
    # Output pixel i spans fine pixels 4i .. 4i+3, so its centre is fine 4i + 1.5.
    cy, cx = ndimage.center_of_mass(digit)
    top = int(round(_SUB * CENTRE[0] + (_SUB - 1) / 2 - cy))
    left = int(round(_SUB * CENTRE[1] + (_SUB - 1) / 2 - cx))
    h, w = digit.shape
    n = _SUB * OUT_SIZE
    fine = np.zeros((n, n), np.float32)
    ya, xa = max(0, top), max(0, left)
    yb, xb = min(n, top + h), min(n, left + w)
    fine[ya:yb, xa:xb] = digit[ya - top:yb - top, xa - left:xb - left]
    return fine.reshape(OUT_SIZE, _SUB, OUT_SIZE, _SUB).mean(axis=(1, 3))
