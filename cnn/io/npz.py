"""Reading ``.npz`` files we did not write ourselves, safely: weights files and MNIST.

An ``.npz`` is a zip archive of ``.npy`` members. ``numpy.load`` would read a member in full
before anyone can look at it, so a 3 MB file whose member declares 3 GB is allocated in full,
and a complex or structured member is accepted. Here every member's ``.npy`` header is read
first (:class:`NpzReader`, via ``numpy.lib.format``), and a member is read only after its
name, dtype and shape have been checked against what the caller expects:

- only ``<key>.npy`` members; pickles are never loaded (``allow_pickle=False`` throughout);
- numbers only as real integers or floats (no complex, structured/void, string, object or
  datetime dtypes) and text only as a 0-d unicode array of bounded length;
- sizes: a member larger than :data:`MAX_MEMBER_BYTES`, or larger than the zip says it holds,
  is refused before any allocation; weights are checked against the model's shapes first;
- weights must be finite (no NaN or inf), ``format_version`` must be an integer, ``metadata``
  must be a JSON object (not a list, not nested too deeply).

Every problem is a :class:`cnn.errors.UserError` with one line naming the file and the member.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from cnn.errors import UserError
from cnn.files import regular_file

MAX_MEMBER_BYTES = 1 << 30  # 1 GiB: the largest single array read from any .npz
MAX_TEXT_CHARS = 1 << 20  # model string, normalization and metadata JSON
MAX_JSON_DEPTH = 20
MAX_HEADER_SIZE = 10_000  # numpy's own default limit on a .npy header
NUMBER_KINDS = "fiu"  # real floats, signed and unsigned integers


@dataclass(frozen=True)
class Member:
    """One ``.npy`` member as its header describes it (nothing of its data read)."""

    key: str
    shape: tuple[int, ...]
    dtype: np.dtype
    info: zipfile.ZipInfo

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def _sniff(path: Path) -> str:
    """What a file that is not a zip archive looks like, for the error message."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return "cannot be read"
    if head.startswith(b"\x93NUMPY"):
        return "is a single .npy array, not an .npz archive"
    if head[:1] == b"\x80":
        return "looks like a pickle, which is never loaded (it could run code)"
    if not head:
        return "is empty (0 bytes)"
    return "is not an .npz archive (not a zip file)"


def _dtype_problem(dtype: np.dtype) -> str | None:
    """Why a member's dtype is refused, or None if it is a plain real number or text."""
    if dtype.fields is not None or dtype.subdtype is not None or dtype.kind == "V":
        return "a structured (void) dtype"
    if dtype.kind == "c":
        return "complex numbers"
    if dtype.kind == "O":
        return "Python objects"
    if dtype.kind in "SMm":
        return {"S": "byte strings", "M": "dates", "m": "time spans"}[dtype.kind]
    return None


class NpzReader:
    """An ``.npz`` opened for checked, lazy reading; use as a context manager.

    Args:
        path: the file; it must be a regular file (a FIFO or device is refused unopened).
        what: how messages name it, e.g. ``"weights file"`` or ``"MNIST file"``.
    Attributes:
        members: dict key -> :class:`Member` (``weight_1.npy`` has key ``weight_1``).
    Raises:
        UserError: not a regular file, not a zip archive, a member that is not ``.npy``, or a
            header that cannot be parsed or declares a refused dtype or too large a size.
    """

    def __init__(self, path: str | os.PathLike, what: str = "file") -> None:
        self.path = regular_file(path, what)
        self.what = what
        self.name = f"{what} '{self.path}'"
        self.members: dict[str, Member] = {}
        try:
            self.zip = zipfile.ZipFile(self.path)
        except zipfile.BadZipFile:
            raise UserError(f"cannot read {self.name}: it {_sniff(self.path)}; give an .npz "
                            "file") from None
        except Exception as e:  # noqa: BLE001 - any parse failure of a foreign file
            raise UserError(f"cannot read {self.name}: {type(e).__name__}: {e}") from None
        try:
            for info in self.zip.infolist():
                self._scan(info)
        except BaseException:
            self.zip.close()
            raise

    def _fail(self, reason: str):
        raise UserError(f"cannot read {self.name}: {reason}")

    def _scan(self, info: zipfile.ZipInfo) -> None:
        name = info.filename
        if info.is_dir():
            return
        if not name.endswith(".npy"):
            self._fail(f"member {name[:80]!r} is not an .npy array; an .npz holds .npy "
                       "members only")
        key = name[:-4]
        try:
            with self.zip.open(info) as f:
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(
                        f, max_header_size=MAX_HEADER_SIZE)
                elif version == (2, 0):
                    shape, _, dtype = np.lib.format.read_array_header_2_0(
                        f, max_header_size=MAX_HEADER_SIZE)
                else:
                    self._fail(f"member {key!r} has .npy format version {version}; "
                               "expected 1.0 or 2.0")
        except UserError:
            raise
        except Exception as e:  # noqa: BLE001 - a corrupt header, a bad zip entry
            self._fail(f"member {key!r} has no valid .npy header ({type(e).__name__}: "
                       f"{str(e)[:120]})")
        problem = _dtype_problem(dtype)
        if problem:
            self._fail(f"member {key!r} holds {problem} ({dtype.str}); only real numbers "
                       "(integer or float) are read")
        member = Member(key, tuple(int(n) for n in shape), dtype, info)
        if member.nbytes > MAX_MEMBER_BYTES:
            self._fail(f"member {key!r} declares shape {member.shape} ({member.nbytes:,} "
                       f"bytes), more than the {MAX_MEMBER_BYTES:,} bytes allowed")
        if member.nbytes > info.file_size:
            self._fail(f"member {key!r} declares {member.nbytes:,} bytes of data but the "
                       f"archive holds {info.file_size:,}; the file is truncated or corrupt")
        self.members[key] = member

    def __enter__(self) -> "NpzReader":
        return self

    def __exit__(self, *exc) -> None:
        self.zip.close()

    def __contains__(self, key: str) -> bool:
        return key in self.members

    def _read(self, member: Member) -> np.ndarray:
        try:
            with self.zip.open(member.info) as f:
                return np.lib.format.read_array(f, allow_pickle=False,
                                                max_header_size=MAX_HEADER_SIZE)
        except Exception as e:  # noqa: BLE001 - truncated data, a bad CRC, zlib errors
            self._fail(f"member {member.key!r} cannot be read ({type(e).__name__}: "
                       f"{str(e)[:120]})")

    def array(self, key: str, shape: tuple[int, ...] | None = None,
              kinds: str = NUMBER_KINDS, finite: bool = False) -> np.ndarray:
        """Read a numeric member after checking its header.

        Args:
            key: member name without ``.npy``.
            shape: the shape it must have (``None``: any).
            kinds: accepted ``dtype.kind`` letters (default: floats and integers).
            finite: refuse NaN and inf values.
        Raises:
            UserError: missing, wrong dtype kind, wrong shape (checked before reading), or
                not finite.
        """
        member = self.members.get(key)
        if member is None:
            self._fail(f"it has no {key!r} array")
        if member.dtype.kind not in kinds:
            self._fail(f"{key!r} has dtype {member.dtype}, expected "
                       f"{'numbers' if kinds == NUMBER_KINDS else 'kind ' + kinds}")
        if shape is not None and member.shape != tuple(shape):
            raise UserError(f"{self.name} does not fit: {key!r} has shape {member.shape} but "
                            f"{tuple(shape)} is needed")
        value = self._read(member)
        if finite and value.dtype.kind == "f" and not np.isfinite(value).all():
            bad = int(value.size - np.isfinite(value).sum())
            self._fail(f"{key!r} holds {bad} NaN or infinite value(s) of {value.size}; the "
                       "training that wrote it diverged: train again with a lower --lr")
        return value

    def text(self, key: str, max_chars: int = MAX_TEXT_CHARS) -> str | None:
        """A 0-d unicode member as ``str`` (``None`` if absent).

        Raises:
            UserError: not a 0-d unicode array, or longer than ``max_chars``.
        """
        member = self.members.get(key)
        if member is None:
            return None
        if member.dtype.kind != "U" or member.shape != ():
            self._fail(f"{key!r} should be a text (0-d unicode array), got "
                       f"{member.dtype} of shape {member.shape}")
        if member.dtype.itemsize // 4 > max_chars:
            self._fail(f"{key!r} is {member.dtype.itemsize // 4:,} characters long, more "
                       f"than {max_chars:,}")
        return str(self._read(member)[()])

    def integer(self, key: str) -> int | None:
        """A 0-d integer member as ``int`` (``None`` if absent).

        Raises:
            UserError: not a 0-d integer array (e.g. a float, a text, a vector).
        """
        member = self.members.get(key)
        if member is None:
            return None
        if member.dtype.kind not in "iu" or member.shape != ():
            self._fail(f"{key!r} should be an integer, got {member.dtype} of shape "
                       f"{member.shape}")
        return int(self._read(member)[()])

    def json_object(self, key: str) -> dict:
        """A text member holding a JSON object, as a dict (``{}`` if absent).

        Raises:
            UserError: not JSON, not an object (a list, a number), or nested deeper than
                :data:`MAX_JSON_DEPTH`.
        """
        text = self.text(key)
        if text is None:
            return {}
        try:
            value = json.loads(text)
        except RecursionError:
            self._fail(f"{key!r} is nested too deeply to be metadata")
        except ValueError as e:
            self._fail(f"{key!r} is not JSON ({e})")
        if not isinstance(value, dict):
            self._fail(f"{key!r} should be a JSON object {{...}}, got a "
                       f"{type(value).__name__}")
        if _depth(value) > MAX_JSON_DEPTH:
            self._fail(f"{key!r} is nested more than {MAX_JSON_DEPTH} levels deep")
        return value


def _depth(value, level: int = 1) -> int:
    """Nesting depth of a JSON value (iterative, so no recursion limit is hit)."""
    deepest, stack = level, [(value, level)]
    while stack:
        item, d = stack.pop()
        deepest = max(deepest, d)
        if d > MAX_JSON_DEPTH:
            return d
        children = item.values() if isinstance(item, dict) else item if isinstance(
            item, list) else ()
        stack.extend((c, d + 1) for c in children)
    return deepest


def clean_accuracy(value) -> float | None:
    """A recorded accuracy if it is a finite number in [0, 1], else ``None``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) and 0 <= value <= 1 else None


@dataclass
class WeightsContents:
    """What :func:`read_weights_file` found: the model string, format version, metadata
    (a dict) and the arrays by key, each checked."""

    model_string: str
    format_version: int
    metadata: dict
    arrays: dict[str, np.ndarray]


def read_weights_header(reader: NpzReader, model_from_name: Callable[[], str | None],
                        max_version: int) -> tuple[str, int, dict]:
    """Model string, format version and metadata of an open weights file.

    ``model_from_name()`` gives the model string of a reference-project file, which carries it
    only in its file name (``None``: none there either).

    Raises:
        UserError: no model string anywhere, a format version that is not an integer or is
            newer than ``max_version``, or metadata that is not a JSON object.
    """
    model_string = reader.text("model", max_chars=10_000)
    if model_string is None:
        model_string = model_from_name()
        if model_string is None:
            raise UserError(f"{reader.name} has no model string: name it "
                            "weight_details<model string>.npz, e.g. "
                            "weight_detailsC(8,5)-P2-C(16,3)-P2-FC128-FC10.npz")
        return model_string, 0, {"source": "reference project"}
    version = reader.integer("format_version")
    version = 0 if version is None else version
    if version > max_version:
        raise UserError(f"{reader.name} has format version {version}; this cnn reads up to "
                        f"{max_version}: upgrade cnn")
    if version < 0:
        raise UserError(f"{reader.name} has format version {version}; expected 0 to "
                        f"{max_version}")
    return model_string, version, reader.json_object("metadata")


def read_weights_file(path: str | os.PathLike, shapes_for: Callable[[str], dict],
                      model_from_name: Callable[[], str | None], max_version: int
                      ) -> WeightsContents:
    """Read a weights file lazily and safely.

    Args:
        path: the ``.npz``.
        shapes_for: ``f(model_string) -> {key: shape}``, the arrays the model needs (it
            raises UserError for a bad model string); nothing else is read.
        model_from_name: model string of a file that carries none (see
            :func:`read_weights_header`).
        max_version: newest ``format_version`` understood.
    Returns:
        :class:`WeightsContents`; the arrays are finite real numbers of the expected shapes.
    Raises:
        UserError: for every problem, one line naming the file.
    """
    with NpzReader(path, "weights file") as reader:
        model_string, version, metadata = read_weights_header(reader, model_from_name,
                                                              max_version)
        try:
            shapes = shapes_for(model_string)
        except UserError as e:
            raise UserError(f"{reader.name}: {e}") from None
        for key, shape in shapes.items():
            member = reader.members.get(key)
            if member is None:
                raise UserError(f"{reader.name} does not fit {model_string}: it has no "
                                f"'{key}' array (expected shape {tuple(shape)})")
            if member.shape != tuple(shape):
                raise UserError(f"{reader.name} does not fit {model_string}: '{key}' has "
                                f"shape {member.shape} but the model needs {tuple(shape)}")
        arrays = {key: reader.array(key, shape, finite=True) for key, shape in shapes.items()}
    return WeightsContents(model_string, version, metadata, arrays)
