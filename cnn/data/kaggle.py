"""Kaggle "Digit Recognizer" CSV files: read ``train.csv`` / ``test.csv``, write submissions.

The competition's files (https://www.kaggle.com/c/digit-recognizer/data) hold MNIST digits as
rows of 784 pixel values, 0-255, white digit on black, row-major 28 x 28:

- ``train.csv``: header ``label,pixel0,...,pixel783``, 42,000 rows;
- ``test.csv``: header ``pixel0,...,pixel783``, 28,000 rows;
- a submission: header ``ImageId,Label``, one row per test image, ``ImageId`` counted from 1.

The rows are already in MNIST form, so no photo preprocessing applies. Files are read in chunks
of :data:`CHUNK_ROWS` rows (:func:`iter_csv_chunks`), so memory stays flat however long the
file is; a malformed cell stops the read with one :class:`~cnn.errors.UserError` naming the
row (1-based, header excluded, as a spreadsheet would show it less one) and the column.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Iterator

import numpy as np

from cnn.errors import UserError

PIXELS = 28 * 28
CHUNK_ROWS = 2000
SUBMISSION_HEADER = "ImageId,Label"


def is_csv(path: str | os.PathLike | None) -> bool:
    """Whether ``path`` names a CSV file (by its extension, case-insensitive)."""
    return path is not None and str(path).lower().endswith(".csv")


def _header(path: Path, first: str) -> bool:
    """Check the header line; returns whether the file has a ``label`` column.

    Raises:
        UserError: a header that is neither Kaggle's train nor test layout.
    """
    names = [c.strip().strip('"') for c in first.strip().split(",")]
    pixels = [f"pixel{i}" for i in range(PIXELS)]
    if names == pixels:
        return False
    if names == ["label", *pixels]:
        return True
    shown = ",".join(names[:3]) + (",..." if len(names) > 3 else "")
    raise UserError(f"'{path}': header '{shown}' ({len(names)} columns) is not Kaggle's "
                    f"digit-recognizer layout: expected 'label,pixel0,...,pixel783' (train.csv) "
                    f"or 'pixel0,...,pixel783' (test.csv)")


def _locate_bad_cell(path: Path, lines: list[str], first_row: int, columns: list[str]) -> str:
    """The one-line message for the first malformed row in ``lines`` (slow path, only run after
    the fast parse of a chunk failed)."""
    for offset, line in enumerate(lines):
        row = first_row + offset
        cells = line.rstrip("\r\n").split(",")
        if len(cells) != len(columns):
            return (f"'{path}' row {row}: {len(cells)} values, expected {len(columns)} "
                    f"({columns[0]},...,{columns[-1]})")
        for name, cell in zip(columns, cells):
            text = cell.strip()
            if not (text.isascii() and text.isdigit()):
                return (f"'{path}' row {row}, column {name}: {text[:20]!r} is not a whole "
                        f"number; {'labels are 0-9' if name == 'label' else 'pixels are 0-255'}")
            value = int(text)
            if name == "label" and value > 9:
                return f"'{path}' row {row}, column label: {value} is not a digit 0-9"
            if value > 255:
                return f"'{path}' row {row}, column {name}: {value} is outside 0-255"
    return f"'{path}' rows {first_row}-{first_row + len(lines) - 1}: cannot parse"


def _parse_chunk(path: Path, lines: list[str], first_row: int, columns: list[str]) -> np.ndarray:
    """Parse ``lines`` into an int64 ``(rows, len(columns))`` array, or raise one clear line."""
    try:
        values = np.loadtxt(io.StringIO("".join(lines)), delimiter=",", dtype=np.int64,
                            ndmin=2)
    except ValueError:
        raise UserError(_locate_bad_cell(path, lines, first_row, columns)) from None
    if values.shape != (len(lines), len(columns)) or values.min() < 0 or values.max() > 255 or (
            columns[0] == "label" and values[:, 0].max() > 9):
        raise UserError(_locate_bad_cell(path, lines, first_row, columns))
    return values


def iter_csv_chunks(path: str | os.PathLike, chunk_rows: int = CHUNK_ROWS
                    ) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """Read a Kaggle digit CSV in chunks.

    Args:
        path: ``train.csv`` (with labels) or ``test.csv`` layout, header first.
        chunk_rows: rows per chunk (memory is about ``chunk_rows * 785 * 8`` bytes).
    Yields:
        ``(images, labels)``: uint8 ``(n, 28, 28)`` white-on-black digits and uint8 ``(n,)``
        labels 0-9 (``None`` for a file without a ``label`` column), ``n <= chunk_rows``.
    Raises:
        UserError: a missing, non-regular or unreadable file, a wrong header, a row with the
            wrong number of values, a value that is not a whole number, a pixel outside 0-255
            or a label outside 0-9 (naming the row and column), or a file with no rows.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"CSV file '{path}' not found (or not a regular file); give the path "
                        "of Kaggle's train.csv or test.csv")
    try:
        with open(path, encoding="utf-8", newline="") as f:
            first = f.readline(1 << 16)
            if not first:
                raise UserError(f"'{path}' is empty; expected Kaggle's digit-recognizer CSV")
            labelled = _header(path, first)
            columns = (["label"] if labelled else []) + [f"pixel{i}" for i in range(PIXELS)]
            row, lines = 1, []
            for line in f:
                if not line.strip():
                    continue
                lines.append(line)
                if len(lines) == chunk_rows:
                    yield _split(_parse_chunk(path, lines, row, columns), labelled)
                    row, lines = row + len(lines), []
            if lines:
                yield _split(_parse_chunk(path, lines, row, columns), labelled)
            elif row == 1:
                raise UserError(f"'{path}' has a header but no rows")
    except UnicodeDecodeError:
        raise UserError(f"'{path}' is not a text CSV file (not UTF-8); expected Kaggle's "
                        "digit-recognizer CSV") from None
    except OSError as e:
        raise UserError(f"cannot read CSV file '{path}': {e.strerror or e}") from None


def _split(values: np.ndarray, labelled: bool) -> tuple[np.ndarray, np.ndarray | None]:
    pixels = values[:, 1:] if labelled else values
    images = pixels.astype(np.uint8).reshape(-1, 28, 28)
    return images, (values[:, 0].astype(np.uint8) if labelled else None)


def load_csv(path: str | os.PathLike, require_labels: bool = False
             ) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a whole Kaggle digit CSV (chunk by chunk, then stacked).

    Args:
        path: ``train.csv`` or ``test.csv`` layout.
        require_labels: raise if the file has no ``label`` column (training and evaluation).
    Returns:
        uint8 images ``(N, 28, 28)`` in [0, 255], white digit on black, and uint8 labels
        ``(N,)`` or ``None``. Kaggle's train.csv: N = 42,000 (33 MB of images).
    Raises:
        UserError: as :func:`iter_csv_chunks`, or no labels where they are required.
    """
    images, labels = [], []
    for x, y in iter_csv_chunks(path):
        if y is None and require_labels:
            raise UserError(f"'{path}' has no label column (Kaggle's test.csv layout); training "
                            "and evaluation need train.csv's 'label,pixel0,...,pixel783'")
        images.append(x)
        labels.append(y)
    return np.concatenate(images), (None if labels[0] is None else np.concatenate(labels))


def submission_text(digits: np.ndarray) -> str:
    """Kaggle's submission format for predicted digits, ``ImageId`` counted from 1.

    Args:
        digits: integer ``(N,)`` predictions 0-9, in the order of test.csv's rows.
    Returns:
        ``"ImageId,Label\\n1,2\\n2,0\\n..."`` with a final newline.
    """
    rows = (f"{i},{int(d)}" for i, d in enumerate(digits, start=1))
    return "\n".join([SUBMISSION_HEADER, *rows]) + "\n"


def read_submission(path: str | os.PathLike) -> np.ndarray:
    """Read a submission written by :func:`submission_text`: int64 ``(N,)`` labels in ImageId
    order.

    Raises:
        UserError: a wrong header, or ImageIds that are not 1..N in order.
    """
    with open(path, encoding="utf-8") as f:
        header = f.readline().strip()
        if header != SUBMISSION_HEADER:
            raise UserError(f"'{path}': header {header!r}, expected {SUBMISSION_HEADER!r}")
        table = np.loadtxt(f, delimiter=",", dtype=np.int64, ndmin=2)
    if len(table) and not np.array_equal(table[:, 0], np.arange(1, len(table) + 1)):
        raise UserError(f"'{path}': ImageId should run 1..{len(table)} in order")
    return table[:, 1] if len(table) else np.zeros(0, np.int64)
