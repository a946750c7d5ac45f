"""Stage 1, decode: image files and bytes to arrays, with the size checks made before decoding,
and any image to grey levels in [0, 1] (8- and 16-bit, grey, BGR, BGRA with alpha).
"""

from __future__ import annotations

import os
import stat

import cv2
import numpy as np

from cnn.errors import UserError

MAX_PIXELS = 40_000_000  # largest image read, width x height (a 40-megapixel photo)


MAX_FILE_BYTES = 200 * 1024 * 1024  # largest image file read


# OpenCV's own limit on the pixels it allocates for one image (default 2**30), read at its
# first decode: lowered to ours, a second guard behind the header checks below.
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_PIXELS))
# A corrupt file is our one error line, not OpenCV's log lines as well ("[ERROR:0@0.1] ...").
try:
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
except AttributeError:  # an OpenCV build without the logging module
    pass

EXIF_ORIENTATION = 0x0112  # the TIFF/EXIF tag phones set instead of rotating the pixels


def _own_header(raw: bytes) -> tuple[int, int] | None:
    """(width, height) from the header of the formats OpenCV decodes and Pillow does not read:
    Radiance HDR (``#?RADIANCE``, then a line ``-Y h +X w``), PFM (``PF``/``Pf w h scale``) and
    PAM (``P7`` with ``WIDTH``/``HEIGHT`` lines); ``None`` for any other start."""
    import re

    head = raw[:65536]
    if head.startswith(b"#?"):
        match = re.search(rb"\n\n([-+][XY]) +(\d+) +([-+][XY]) +(\d+)", head)
        if not match:
            return 0, 0
        first, second = int(match.group(2)), int(match.group(4))
        return (second, first) if match.group(1).endswith(b"Y") else (first, second)
    if head[:2] in (b"PF", b"Pf"):
        parts = re.sub(rb"#[^\n]*", b"", head[2:200]).split()
        return (int(parts[0]), int(parts[1])) if len(parts) >= 2 and parts[0].isdigit() and \
            parts[1].isdigit() else (0, 0)
    if head.startswith(b"P7"):
        width = re.search(rb"\nWIDTH +(\d+)", head)
        height = re.search(rb"\nHEIGHT +(\d+)", head)
        return (int(width.group(1)), int(height.group(1))) if width and height else (0, 0)
    return None


def read_header(data: bytes | np.ndarray) -> tuple[int | None, int]:
    """What an image file's header declares, read without decoding it: ``(width x height,
    EXIF orientation)``.

    The pixel count comes from Pillow's lazy ``Image.open`` (it reads the header only), or,
    for the formats OpenCV decodes that Pillow does not read (Radiance HDR, PFM, PAM), from
    :func:`_own_header`; ``None`` when neither knows the file (then it is not decoded at all:
    a format whose size cannot be checked could declare any size). The orientation is the
    EXIF tag 274 (1..8, 1 = stored upright) of a JPEG, WebP or a PNG with its ``eXIf`` chunk
    before the pixels; 1 when there is none, and for TIFF (OpenCV's TIFF decoder applies the
    tag itself).
    """
    pixels, orientation, _ = _read_header(data)
    return pixels, orientation


def _read_header(data: bytes | np.ndarray) -> tuple[int | None, int, tuple[int, int] | None]:
    """:func:`read_header` and the stored ``(width, height)`` of a JPEG (``None`` for other
    formats and unreadable headers), from the same single read of the header."""
    import io
    import re
    import warnings

    from PIL import Image

    raw = data.tobytes() if isinstance(data, np.ndarray) else bytes(data)
    own = _own_header(raw)
    if own is not None:  # (0, 0): one of those formats, but no size found: not decoded
        return (own[0] * own[1] if own[0] and own[1] else None), 1, None
    try:
        with warnings.catch_warnings():  # over Pillow's warning size: refused here or later
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(raw))
        with im:
            pixels = int(im.size[0]) * int(im.size[1])
            orientation = 1
            # OpenCV's TIFF decoder turns the pixels itself (libtiff's oriented reading)
            if im.format in ("JPEG", "MPO", "WEBP") or im.format == "PNG" and "exif" in im.info:
                try:
                    orientation = int(im.getexif().get(EXIF_ORIENTATION, 1))
                except Exception:  # noqa: BLE001 - a broken EXIF block: the pixels as stored
                    orientation = 1
            size = (int(im.size[0]), int(im.size[1])) if im.format in ("JPEG", "MPO") else None
            return pixels, orientation if 1 <= orientation <= 8 else 1, size
    except Image.DecompressionBombError as e:  # Pillow's own limit, far above MAX_PIXELS
        match = re.search(r"\((\d+) pixels\)", str(e))
        return (int(match.group(1)) if match else MAX_PIXELS + 1), 1, None
    except Exception:  # noqa: BLE001 - unknown or corrupt: not decoded
        return None, 1, None


_REDUCED = {2: cv2.IMREAD_REDUCED_GRAYSCALE_2, 4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
            8: cv2.IMREAD_REDUCED_GRAYSCALE_8}


def jpeg_reduction(size: tuple[int, int] | None, long_side: int | None) -> int:
    """The JPEG decoder's scale-down (1, 2, 4 or 8) that keeps a long side of at least
    ``long_side`` px: the largest ``k`` with ``max(size) / k >= long_side``; 1 when ``size``
    (``(width, height)`` from the header) or ``long_side`` is ``None``."""
    if size is None or not long_side:
        return 1
    return max([1] + [k for k in _REDUCED if max(size) / k >= long_side])


def declared_pixels(data: bytes | np.ndarray) -> int | None:
    """Width x height an image file declares in its header, without decoding it
    (:func:`read_header`); ``None`` when the format is not one whose size can be read."""
    return read_header(data)[0]


def apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """Turn an image stored as a camera's sensor saw it the right way up, as its EXIF
    orientation tag says (the same result as Pillow's ``ImageOps.exif_transpose``).

    Args:
        image: ``(H, W)`` or ``(H, W, C)`` array as decoded (OpenCV's ``IMREAD_UNCHANGED``
            ignores the tag).
        orientation: EXIF tag 274: 1 upright, 2 mirrored, 3 upside down, 4 mirrored upside
            down, 5 transposed, 6 turned 90 degrees clockwise to view, 7 transverse, 8 turned
            90 degrees counter-clockwise to view.
    Returns:
        the image upright (a view; ``(W, H, ...)`` for orientations 5 to 8).
    """
    if orientation == 2:
        return image[:, ::-1]
    if orientation == 3:
        return image[::-1, ::-1]
    if orientation == 4:
        return image[::-1]
    if orientation == 5:
        return image.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(image, -1)
    if orientation == 7:
        return image[::-1, ::-1].swapaxes(0, 1)
    if orientation == 8:
        return np.rot90(image, 1)
    return image


def read_image(path: str | os.PathLike, reduce_to: int | None = None) -> np.ndarray:
    """:func:`read_image_reduced` without the reduction factor: the array only (see there)."""
    return read_image_reduced(path, reduce_to)[0]


def read_image_reduced(path: str | os.PathLike, reduce_to: int | None = None
                       ) -> tuple[np.ndarray, int]:
    """Read an image file exactly as stored, with no conversion (or a JPEG reduced, see
    ``reduce_to``).

    Only regular files are read (a FIFO, a device or a socket is refused before it is opened,
    so nothing blocks), files up to :data:`MAX_FILE_BYTES`, and images of at most
    :data:`MAX_PIXELS` pixels, checked from the header before anything is decoded (a 1 MB PNG
    may declare 32000 x 32000 pixels, 1 GB of memory or more once decoded). The bytes are read
    with ``np.fromfile`` and decoded by ``cv2.imdecode(..., cv2.IMREAD_UNCHANGED)``, so paths
    with non-ASCII characters work on every platform.

    Args:
        path: any format OpenCV decodes (PNG, JPEG, BMP, TIFF, WebP, ...).
        reduce_to: ``None`` (the pixels as stored) or a long side in pixels: a JPEG at
            least twice as large is decoded grey and scaled down 2, 4 or 8 times by the
            decoder itself (``cv2.IMREAD_REDUCED_GRAYSCALE_k``, :func:`jpeg_reduction`), to
            a long side of at least ``reduce_to``; see :func:`decode_image_bytes`.
    Returns:
        ``(image, k)``: the raw array, shape ``(H, W)`` (grey) or ``(H, W, 3)`` (BGR) or
        ``(H, W, 4)`` (BGRA), dtype uint8 or uint16 (16-bit PNG/TIFF), possibly float32 for
        some TIFF/EXR files; and the decoder's reduction ``k`` (1, 2, 4 or 8: one pixel of
        the array is ``k`` x ``k`` pixels of the file).
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
    return _decode(data, name, reduce_to)


def decode_image_bytes(data: bytes | np.ndarray, name: str,
                       reduce_to: int | None = None) -> np.ndarray:
    """Decode an encoded image (a file's bytes, or an upload's) as stored, after the checks
    that keep a bad file from costing memory or time: empty, more than :data:`MAX_PIXELS`
    declared in the header (checked before decoding), a truncated JPEG, not decodable.

    Shared by :func:`read_image` (files) and ``cnn serve``'s uploads, so both give the same
    one-line messages for the same bytes.

    The image comes back upright: an EXIF orientation tag (phones save photos turned, with
    the tag) is applied as Pillow's ``ImageOps.exif_transpose`` does (:func:`apply_orientation`).

    Args:
        data: the encoded image, ``bytes`` or a uint8 ``(n,)`` array.
        name: what to call the image in messages (its path, or the upload's name).
        reduce_to: ``None``, or the long side (pixels) the caller works at: a JPEG whose
            header declares at least twice that is decoded by libjpeg's scaled IDCT at 1/2,
            1/4 or 1/8 size (each output pixel the mean of a 2 x 2 .. 8 x 8 block of the
            luma), grey, keeping a long side of at least ``reduce_to`` (a 4000 x 3000 phone
            photo and ``reduce_to=1000``: 1000 x 750, decoded in about a third of the time,
            and 1/16 of the pixels for every later stage). Other formats, and smaller
            JPEGs, are decoded as stored.
    Returns:
        as :func:`read_image`; a reduced JPEG is uint8 ``(ceil(H / k), ceil(W / k))``.
    Raises:
        UserError: empty, a format whose size cannot be read from its header (not decoded),
            too many pixels (declared or decoded), a truncated JPEG, not an image or corrupt,
            or no pixels once decoded.
    """
    return _decode(data, name, reduce_to)[0]


def _decode(data: bytes | np.ndarray, name: str, reduce_to: int | None
            ) -> tuple[np.ndarray, int]:
    """:func:`decode_image_bytes` and the reduction the decoder applied (1, 2, 4 or 8)."""
    if not isinstance(data, np.ndarray):
        data = np.frombuffer(data, np.uint8)
    if data.size == 0:
        raise UserError(f"cannot read image {name!r}: file is empty (0 bytes)")
    declared, orientation, jpeg_size = _read_header(data)
    if declared is None:
        raise UserError(
            f"cannot read image {name!r}: not an image or corrupt ({data.size} bytes), or in "
            "a format whose size cannot be checked before decoding; save it as PNG or JPEG")
    if declared > MAX_PIXELS:
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
    reduction = jpeg_reduction(jpeg_size, reduce_to)
    flags = (_REDUCED[reduction] | cv2.IMREAD_IGNORE_ORIENTATION if reduction > 1
             else cv2.IMREAD_UNCHANGED)  # the orientation is applied below, as for the rest
    try:
        image = cv2.imdecode(data, flags)
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
    return np.ascontiguousarray(apply_orientation(image, orientation)), reduction


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
    img = image.astype(np.float32)
    np.divide(img, np.float32(full), out=img)
    if image.dtype not in (np.uint8, np.uint16, np.bool_):  # those are in [0, 1] already
        np.clip(img, 0.0, 1.0, out=img)

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
