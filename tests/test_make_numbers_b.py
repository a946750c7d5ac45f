"""scripts/make_numbers_b.py: the second, held-out generator of number photos (issue 29).

Runs in-process on the committed MNIST subset (tests/data/mnist_subset.npz, its 1,000 test
digits), small frames (--max-width 640), short numbers: the labels are the digits used, the
seed fixes the bytes, the index has make_numbers.py's columns, bad arguments end in one error
line with exit status 2, and every condition adds something to the plain photo.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import load_script

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "make_numbers_b.py"
SUBSET = ROOT / "tests" / "data" / "mnist_subset.npz"


def load_generator():
    return load_script(SCRIPT)


gen = load_generator()


def run(out: Path, *extra: str) -> int:
    return gen.main(["--out", str(out), "--data", str(SUBSET), "--max-width", "640",
                     "--max-digits", "3", *extra])


def read_index(folder: Path) -> list[dict]:
    with open(folder / "index.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def subset():
    with np.load(SUBSET) as data:
        return data["x_test"], data["y_test"]


@pytest.fixture(scope="module")
def every_condition(tmp_path_factory):
    out = tmp_path_factory.mktemp("numbers_b")
    assert run(out, "--per-condition", "1", "--seed", "3") == 0
    return out


def test_index_has_the_columns_of_make_numbers_and_one_row_per_photo(every_condition):
    with open(every_condition / "index.csv", newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    assert header == ["file", "condition", "label", "mnist_test_indices"]
    rows = read_index(every_condition)
    assert [r["condition"] for r in rows] == list(gen.CONDITIONS)
    assert sorted(r["file"] for r in rows) == sorted(p.name for p in every_condition.glob("*.jpg"))
    held = (every_condition / "held_out.txt").read_text().split()
    assert held == list(gen.CONDITIONS)


def test_labels_are_the_mnist_test_digits_used(every_condition, subset):
    _, y_test = subset
    for row in read_index(every_condition):
        indices = [int(i) for i in row["mnist_test_indices"].split()]
        assert 2 <= len(indices) <= 3
        assert row["label"] == "".join(str(int(y_test[i])) for i in indices)
        assert row["file"] == f"{row['label']}_{row['condition']}_000.jpg"


def test_photos_are_640_wide_jpegs(every_condition):
    for row in read_index(every_condition):
        image = cv2.imread(str(every_condition / row["file"]))
        assert image is not None and image.shape[1] == 640


def test_the_seed_fixes_the_bytes_and_fewer_conditions_change_nothing(every_condition, tmp_path):
    assert run(tmp_path / "same", "--per-condition", "1", "--seed", "3",
               "--conditions", "marker") == 0
    assert run(tmp_path / "other", "--per-condition", "1", "--seed", "4",
               "--conditions", "marker") == 0
    (same,) = read_index(tmp_path / "same")
    (other,) = read_index(tmp_path / "other")
    first = (every_condition / same["file"]).read_bytes()
    assert (tmp_path / "same" / same["file"]).read_bytes() == first
    assert (tmp_path / "other" / other["file"]).read_bytes() != first


@pytest.mark.parametrize("args, message", [
    (["--conditions", "plain,fog"], "unknown condition fog"),
    (["--min-digits", "4", "--max-digits", "2"], "--min-digits"),
    (["--per-condition", "0"], "--per-condition"),
])
def test_bad_arguments_give_one_error_line_and_status_2(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        run(tmp_path / "x", *args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not (tmp_path / "x").exists()


def test_a_non_empty_folder_needs_overwrite(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(SystemExit) as exit_info:
        run(tmp_path, "--per-condition", "1", "--conditions", "plain")
    assert exit_info.value.code == 2
    assert "--overwrite" in capsys.readouterr().err
    assert run(tmp_path, "--per-condition", "1", "--conditions", "plain", "--overwrite") == 0
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_every_condition_changes_the_plain_photo(subset):
    # the same digits, frame and random stream: a condition that added nothing would give
    # the plain photo back
    x_test, _ = subset
    digits = [x_test[0], x_test[1], x_test[2]]

    def photo(condition):
        image, _, _ = gen.render_number(digits, condition, np.random.default_rng(11),
                                        frame=(640, 480))
        return cv2.resize(image, (160, 120), interpolation=cv2.INTER_AREA).astype(np.float32)

    plain = photo("plain")
    for condition in gen.CONDITIONS:
        if condition != "plain":
            assert np.abs(photo(condition) - plain).mean() > 3.0, condition


def test_marker_digits_touch_their_neighbours(subset):
    x_test, _ = subset
    digits = [x_test[k] for k in (3, 4, 5, 6)]
    number = gen.compose(digits, "marker", np.random.default_rng(2))
    unit = gen.UNIT
    box = number.box
    shape = (int((box[3] - box[1]) * unit) + 8, int((box[2] - box[0]) * unit) + 8)
    origin = (box[0] * unit - 4, box[1] * unit - 4)

    def pieces(glyphs, affines):
        cov = gen.line_coverage(glyphs, affines, unit, number.writer.pen * unit, origin, shape)
        return cv2.connectedComponents((cov > 0.5).astype(np.uint8))[0] - 1

    alone = sum(pieces([g], [a]) for g, a in zip(number.glyphs, number.affines))
    assert pieces(number.glyphs, number.affines) <= alone - (len(digits) - 1)


def test_comb_digits_sit_one_a_box(subset):
    x_test, _ = subset
    number = gen.compose([x_test[k] for k in (7, 8, 9)], "comb", np.random.default_rng(5))
    box_w, box_h, boxes, _ = number.comb
    assert boxes >= 3
    for k, (glyph, affine) in enumerate(zip(number.glyphs, number.affines)):
        centre = gen.transform(glyph.points, affine).mean(0)
        assert k * box_w < centre[0] < (k + 1) * box_w
        assert -box_h < centre[1] < 0


def test_the_exam_word_is_small_and_apart_from_the_number(subset):
    x_test, _ = subset
    rng = np.random.default_rng(8)
    number = gen.compose([x_test[k] for k in (10, 11)], "exam", rng)
    page = gen.Page(600, 1200, 4.0, 800.0, 300.0, 80.0, rng)
    for _ in range(5):
        _, word, (x0, y0, x1, y1) = gen.exam_print(page, number, rng)
        ink_left = number.to_page(page, number.box[0], 0)[0]
        assert word in gen.EXAM_WORDS and x1 > x0
        assert x1 <= ink_left - 0.6 * page.digit_px
        assert y1 - y0 <= 0.55 * page.digit_px        # capitals <= 40 %, plus a descender
