"""Kaggle digit-recognizer CSVs: written from the committed MNIST subset in Kaggle's exact
layout, read back, and every kind of malformed cell named by row and column."""

from __future__ import annotations

import numpy as np
import pytest

from cnn.data.kaggle import iter_csv_chunks, load_csv, read_submission, submission_text
from cnn.errors import UserError

HEADER_PIXELS = ",".join(f"pixel{i}" for i in range(784))


def write_kaggle_csv(path, images, labels=None):
    """Kaggle's train.csv (labels given) or test.csv layout, header included."""
    flat = images.reshape(len(images), -1).astype(np.int64)
    header = ("label," if labels is not None else "") + HEADER_PIXELS
    rows = flat if labels is None else np.column_stack([labels, flat])
    with open(path, "w") as f:
        f.write(header + "\n")
        np.savetxt(f, rows, fmt="%d", delimiter=",")
    return path


def test_train_csv_round_trips_the_mnist_subset(subset, tmp_path):
    (x, y), _ = subset
    path = write_kaggle_csv(tmp_path / "train.csv", x[:300], y[:300])
    images, labels = load_csv(path, require_labels=True)
    assert images.dtype == np.uint8 and images.shape == (300, 28, 28)
    np.testing.assert_array_equal(images, x[:300])
    np.testing.assert_array_equal(labels, y[:300])


def test_chunks_are_bounded_and_cover_every_row(subset, tmp_path):
    (x, y), _ = subset
    path = write_kaggle_csv(tmp_path / "train.csv", x[:250], y[:250])
    chunks = list(iter_csv_chunks(path, chunk_rows=64))
    assert [len(c[0]) for c in chunks] == [64, 64, 64, 58]
    np.testing.assert_array_equal(np.concatenate([c[0] for c in chunks]), x[:250])


def test_test_csv_has_no_labels_and_is_refused_for_training(subset, tmp_path):
    _, (x, _) = subset
    path = write_kaggle_csv(tmp_path / "test.csv", x[:20])
    images, labels = load_csv(path)
    assert labels is None
    np.testing.assert_array_equal(images, x[:20])
    with pytest.raises(UserError, match="no label column"):
        load_csv(path, require_labels=True)


@pytest.mark.parametrize("row_text, expected", [
    ("3," + ",".join(["0"] * 783), r"row 2: 784 values, expected 785"),
    ("3," + ",".join(["0"] * 700 + ["256"] + ["0"] * 83), r"row 2, column pixel700: 256 is outside 0-255"),
    ("3," + ",".join(["0"] * 10 + ["x"] + ["0"] * 773), r"row 2, column pixel10: 'x' is not a whole number"),
    ("3," + ",".join(["0"] * 5 + ["-1"] + ["0"] * 778), r"row 2, column pixel5: '-1' is not a whole number"),
    ("12," + ",".join(["0"] * 784), r"row 2, column label: 12 is not a digit 0-9"),
    ("3," + ",".join(["0"] * 3 + ["1.5"] + ["0"] * 780), r"row 2, column pixel3: '1.5' is not a whole number"),
])
def test_a_malformed_row_is_named_by_row_and_column(tmp_path, row_text, expected):
    good = "1," + ",".join(["0"] * 784)
    path = tmp_path / "train.csv"
    path.write_text("label," + HEADER_PIXELS + "\n" + good + "\n" + row_text + "\n" + good + "\n")
    with pytest.raises(UserError, match=expected):
        load_csv(path)


def test_wrong_header_empty_file_and_no_rows_are_one_line_errors(tmp_path):
    bad = tmp_path / "other.csv"
    bad.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(UserError, match="not Kaggle's digit-recognizer layout"):
        load_csv(bad)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(UserError, match="is empty"):
        load_csv(empty)
    header_only = tmp_path / "header.csv"
    header_only.write_text(HEADER_PIXELS + "\n")
    with pytest.raises(UserError, match="no rows"):
        load_csv(header_only)
    with pytest.raises(UserError, match="not found"):
        load_csv(tmp_path / "missing.csv")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(UserError):
        load_csv(binary)


def test_submission_has_kaggle_header_and_ids_from_one(tmp_path):
    digits = np.array([2, 0, 9, 9, 7])
    text = submission_text(digits)
    assert text.splitlines()[:3] == ["ImageId,Label", "1,2", "2,0"]
    path = tmp_path / "submission.csv"
    path.write_text(text)
    np.testing.assert_array_equal(read_submission(path), digits)
