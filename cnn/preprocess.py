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
position, stroke width, lighting and file format, and a network misreads them all. The
pipeline of :func:`to_mnist`:

1. grey levels as float in [0, 1] (8- and 16-bit, grey, BGR, BGRA); a varying alpha channel is
   composited over a background that contrasts with the stroke colour, so a transparent canvas
   export whose RGB is all zeros still shows its strokes;
2. the background (paper with a light gradient, or a plain canvas) is fitted robustly as a
   quadratic surface to the majority of the pixels and subtracted; the sign of the larger
   residual tail says whether the ink is darker or lighter than the background (polarity);
3. large images are reduced to a working size with a max filter first, so 1-px strokes survive;
   light Gaussian denoising; Otsu's threshold finds the ink;
4. the digit is the largest connected ink component plus the components near its bounding box
   (a "5" or a "4" may have two strokes); specks elsewhere are dropped;
5. the grey-level ink inside the digit's box (not the binary mask, so the anti-aliasing is
   kept) is normalised so the stroke is ~1.0 and thickened or thinned so the stroke ends
   ~2.25 px wide (a 1-px line on a large canvas would otherwise vanish);
6. it is resized with ``cv2.INTER_AREA`` to 4x the output resolution with a long side of 77
   fine pixels, placed at the quarter-pixel offset that puts its centre of mass at (14, 14),
   and 4 x 4 block means give the 28 x 28 image: sub-pixel centring without interpolation
   blur, and the digit always fits the 20 x 20 box (long side 19-20 output pixels, about 3 %
   smaller than MNIST's 20, so that no quarter-pixel offset makes it spill into a 21st);
7. a gain of at most 2 brings the stroke cores to 1.0, as in MNIST.
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


def preprocess_file(path: str | os.PathLike, polarity: str = "auto") -> np.ndarray:
    """Read an image file and turn it into an MNIST-like digit: :func:`read_image` + :func:`to_mnist`.

    Args:
        path: image file with one digit in it.
        polarity: ``"auto"``, ``"dark-on-light"`` or ``"light-on-dark"``, see :func:`to_mnist`.
    Returns:
        float32 array of shape ``(28, 28)``, values in [0, 1], white digit on black.
    Raises:
        UserError: if the file cannot be read or holds no digit; the message starts with the
            file name.
    """
    image = read_image(path)
    try:
        return to_mnist(image, polarity=polarity)
    except UserError as exc:
        raise UserError(f"{os.fspath(path)!r}: {exc}") from exc


def to_mnist(image: np.ndarray, polarity: str = "auto") -> np.ndarray:
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

    # Background: robust quadratic surface; residual = picture - background.
    residual = gray - _fit_background(gray)
    ink_sign = _decide_polarity(residual) if polarity == "auto" else (
        1.0 if polarity == "light-on-dark" else -1.0)
    work = (ink_sign * residual).astype(np.float32)  # ink > 0, background ~ 0

    # Working size: a max filter before INTER_AREA keeps thin strokes at full strength.
    long_side = max(work.shape)
    if long_side > _WORK_SIZE:
        factor = long_side / _WORK_SIZE
        work = cv2.dilate(work, np.ones((int(np.ceil(factor)),) * 2, np.uint8))
        size = (max(1, round(work.shape[1] / factor)), max(1, round(work.shape[0] / factor)))
        work = cv2.resize(work, size, interpolation=cv2.INTER_AREA)
    if min(work.shape) >= 64:
        work = cv2.GaussianBlur(work, (0, 0), 1.0)
    noise = _robust_sigma(work)
    ink = np.maximum(work, 0.0)
    contrast = float(ink.max())
    if contrast < max(_MIN_CONTRAST, 8.0 * noise):
        if polarity != "auto" and -float(work.min()) >= max(_MIN_CONTRAST, 8.0 * noise):
            raise UserError(
                f"no digit found: no {polarity} ink, but the opposite polarity has some; "
                "use polarity 'auto'")
        raise UserError("no digit found: the image is blank (no ink)")

    # Threshold (Otsu on the ink scaled by its contrast, kept within sane bounds).
    scaled = np.clip(ink / contrast * 255.0, 0, 255).astype(np.uint8)
    otsu, _ = cv2.threshold(scaled, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    thresh = float(np.clip(otsu / 255.0 * contrast, max(0.2 * contrast, 4.0 * noise),
                           0.6 * contrast))
    mask = (ink > thresh).astype(np.uint8)

    selected, box = _select_digit(mask)
    if selected is None:
        raise UserError("no digit found: only specks of ink, no stroke")

    return _normalise(ink, selected, box, thresh)


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
        coef = np.linalg.solve(a.T @ a, a.T @ z[keep]).astype(np.float32)  # normal equations
    surface = sum(c * t for c, t in zip(coef, terms(h, w)))
    return np.broadcast_to(surface, (h, w)).astype(np.float32)


def _decide_polarity(residual: np.ndarray) -> float:
    """+1.0 if the ink is lighter than the background (light-on-dark), -1.0 if darker.

    The background is the majority of the pixels, so the residual's bulk is noise around 0; the
    ink is the larger tail beyond 4 robust sigmas.
    """
    sigma = _robust_sigma(residual)
    margin = 4.0 * sigma
    light = float(np.maximum(residual - margin, 0.0).sum())
    dark = float(np.maximum(-residual - margin, 0.0).sum())
    return 1.0 if light > dark else -1.0


def _select_digit(mask: np.ndarray) -> tuple[np.ndarray | None, tuple[int, int, int, int]]:
    """The digit's components in a binary ink ``mask`` (H, W) uint8.

    Returns a boolean (H, W) mask of the largest component plus the components of some size
    whose bounding box meets the digit's box grown by 15 % of its long side (repeated until
    nothing joins), and the union box ``(x0, y0, x1, y1)`` (exclusive ends). ``(None, ...)``
    if the largest component is a speck (long side under 2 % of the image's, or 2 px).
    """
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n <= 1:
        return None, (0, 0, 0, 0)
    areas = stats[1:, cv2.CC_STAT_AREA]
    main = int(np.argmax(areas)) + 1
    x, y, w, h = stats[main, :4]
    if max(w, h) < max(2, 0.02 * max(mask.shape)):
        return None, (0, 0, 0, 0)
    box = [x, y, x + w, y + h]
    chosen = {main}
    min_area = max(2, 0.03 * stats[main, cv2.CC_STAT_AREA])
    candidates = [i for i in range(1, n) if i != main and stats[i, cv2.CC_STAT_AREA] >= min_area]
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
