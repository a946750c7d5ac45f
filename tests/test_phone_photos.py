"""scripts/make_phone_photos.py: simulated phone photos of MNIST test digits.

The generator runs in-process on the committed MNIST subset (tests/data/mnist_subset.npz, 1,000
test digits), one image per condition: the files carry the right label, index.csv matches
them, every condition writes a JPEG of the documented size, the seed fixes the bytes, and bad
arguments end in one error line with exit status 2.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import load_script
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "make_phone_photos.py"
SUBSET = ROOT / "tests" / "data" / "mnist_subset.npz"


def load_generator():
    return load_script(SCRIPT)


gen = load_generator()


def run(out: Path, *extra: str) -> None:
    assert gen.main(["--out", str(out), "--data", str(SUBSET), *extra]) == 0


def read_index(folder: Path) -> list[dict]:
    with open(folder / "index.csv", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def every_condition(tmp_path_factory):
    out = tmp_path_factory.mktemp("phone")
    run(out, "--per-condition", "1", "--seed", "0")
    return out


@pytest.fixture(scope="module")
def test_labels():
    with np.load(SUBSET) as data:
        return data["y_test"]


def test_files_are_named_with_their_label_and_listed(every_condition, test_labels):
    rows = read_index(every_condition)
    assert [r["condition"] for r in rows] == list(gen.CONDITIONS)
    names = sorted(p.name for p in every_condition.glob("*.jpg"))
    assert names == sorted(r["file"] for r in rows)
    for row in rows:
        label = int(test_labels[int(row["mnist_test_index"])])
        assert int(row["label"]) == label
        assert row["file"] == f"{label}_{row['condition']}_000.jpg"


def test_every_condition_writes_a_jpeg_of_the_documented_size(every_condition):
    for row in read_index(every_condition):
        with Image.open(every_condition / row["file"]) as im:
            assert im.format == "JPEG" and im.mode == "RGB", row["file"]
            w, h = im.size
            pixels = np.asarray(im.convert("L"), np.float32)
        assert gen.MIN_SIDE <= min(w, h) and max(w, h) <= gen.MAX_SIDE, (row["file"], w, h)
        assert w * h <= 3024 * 4032
        # not blank: the frame has structure (a digit, an edge, a texture)
        assert pixels.std() > 4.0, row["file"]


def test_conditions_look_different(every_condition):
    def mean_grey(condition):
        (path,) = every_condition.glob(f"*_{condition}_000.jpg")
        with Image.open(path) as im:
            return np.asarray(im.convert("L"), np.float32).mean()

    # a dark board under the same camera stays far darker than a whiteboard or a receipt
    assert mean_grey("chalkboard") < 0.6 * mean_grey("whiteboard")
    assert mean_grey("chalkboard") < 0.6 * mean_grey("receipt")


def test_same_seed_same_bytes_other_seed_other_bytes(every_condition, tmp_path):
    run(tmp_path / "a", "--per-condition", "1", "--seed", "0", "--conditions", "close,receipt")
    run(tmp_path / "b", "--per-condition", "1", "--seed", "1", "--conditions", "close,receipt")
    for row in read_index(tmp_path / "a"):
        # a subset of conditions gives the same images as the full run
        assert (tmp_path / "a" / row["file"]).read_bytes() == \
            (every_condition / row["file"]).read_bytes()
    a = [(tmp_path / "a" / r["file"]).read_bytes() for r in read_index(tmp_path / "a")]
    b = [(tmp_path / "b" / r["file"]).read_bytes() for r in read_index(tmp_path / "b")]
    assert all(x != y for x, y in zip(a, b))


def test_pen_width_sets_the_stroke_width(test_labels):
    with np.load(SUBSET) as data:
        digit = data["x_test"][1]
    thin_ink = gen.pen_stroke(digit, 200, 6).sum()
    thick_ink = gen.pen_stroke(digit, 200, 18).sum()
    assert 2.0 < thick_ink / thin_ink < 4.0


def test_thinning_leaves_a_one_pixel_line():
    bar = np.zeros((30, 60), bool)
    bar[10:20, 5:55] = True
    skeleton = gen.thin(bar)
    assert skeleton.any() and (skeleton & ~bar).sum() == 0
    assert skeleton.sum(axis=0).max() == 1    # one pixel thick across the bar


def script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=60, check=False)


def test_bad_arguments_give_one_line_and_status_2(tmp_path):
    bad = script("--out", str(tmp_path / "x"), "--data", str(SUBSET), "--conditions", "foggy")
    assert bad.returncode == 2
    assert "foggy" in bad.stderr and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()

    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    busy = script("--out", str(tmp_path / "full"), "--data", str(SUBSET))
    assert busy.returncode == 2 and "--overwrite" in busy.stderr
    assert "Traceback" not in busy.stderr and len(busy.stderr.strip().splitlines()) == 1

    missing = script("--out", str(tmp_path / "y"), "--data", str(tmp_path / "none.npz"))
    assert missing.returncode == 2 and "none.npz" in missing.stderr

    helped = script("--help")
    assert helped.returncode == 0 and "tablet_screen" in helped.stdout
