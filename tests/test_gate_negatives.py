"""scripts/make_gate_negatives.py: the not-a-digit gate's training negatives."""

from __future__ import annotations

import subprocess
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from conftest import load_script
from scipy import ndimage

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "make_gate_negatives.py"
neg = load_script(SCRIPT)

N = 12  # images per kind in these tests


@pytest.fixture(scope="module")
def train(subset):
    """MNIST training images (2,000 real digits) and their labels."""
    (x, y), _ = subset
    return x, y


@pytest.fixture(scope="module")
def made(train):
    x, y = train
    return {kind: neg.make_negatives(kind, N, np.random.default_rng(5), x, mnist_labels=y)
            for kind in neg.KINDS}


def test_every_kind_shape_dtype_and_ink(made):
    assert set(made) == set(neg.KINDS) and len(neg.KINDS) == 8
    for kind, images in made.items():
        assert images.shape == (N, 28, 28) and images.dtype == np.uint8, kind
        assert (images.reshape(N, -1).max(axis=1) == 255).all(), kind  # ink stretched to 255
        assert (images.reshape(N, -1).min(axis=1) == 0).all(), kind  # black background


def test_mnist_normalisation_box_and_centre(made):
    for kind, images in made.items():
        for img in images:
            rows = np.flatnonzero(img.max(axis=1) > 0)
            cols = np.flatnonzero(img.max(axis=0) > 0)
            h, w = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
            assert max(h, w) >= 19 and h <= 21 and w <= 21, (kind, h, w)
            cy, cx = ndimage.center_of_mass(img.astype(np.float64))
            assert abs(cy - neg.CENTRE) <= 1.5 and abs(cx - neg.CENTRE) <= 1.5, (kind, cy, cx)


def test_kinds_differ_from_each_other_and_from_mnist(made, train):
    means = {kind: images.mean() for kind, images in made.items()}
    assert len({round(m) for m in means.values()}) >= 4  # sparse clutter .. dense textures
    assert means["clutter"] < means["textures"]
    x, _ = train
    assert not any(np.array_equal(img, d) for img in made["parts"] for d in x[:200])


def test_normalise_puts_any_drawing_in_mnist_form():
    ink = np.zeros((90, 60), np.float32)
    ink[10:80, 5:15] = 1.0  # a thick bar in a corner, 70 tall
    ink[70:80, 5:50] = 1.0
    img = neg.normalise(ink)
    rows = np.flatnonzero(img.max(axis=1) > 0)
    assert 19 <= rows[-1] - rows[0] + 1 <= 21
    assert np.allclose(ndimage.center_of_mass(img.astype(float)), neg.CENTRE, atol=1.5)
    assert neg.normalise(np.zeros((40, 40))) is None


def test_digit_like_spots_bars_and_rings_only():
    bar = np.zeros((28, 28), np.uint8)
    bar[4:24, 13:15] = 255
    ring = np.zeros((28, 28), np.uint8)
    yy, xx = np.mgrid[:28, :28]
    r = np.hypot(yy - 14, (xx - 14) * 1.4)
    ring[(r > 7) & (r < 10)] = 255
    flat = bar.T.copy()  # a horizontal bar is a minus, not a 1
    cross = np.maximum(bar, flat)
    assert neg.digit_like(bar) and neg.digit_like(ring)
    assert not neg.digit_like(flat) and not neg.digit_like(cross)
    assert not neg.digit_like(ring, rings=False)


def test_glyph_list_has_no_digits_nor_digit_like_letters():
    table = neg.glyph_list()
    chars = [c for v in table.values() for c in v]
    assert len(chars) > 500 and len(set(chars)) == len(chars)
    assert {"latin", "greek", "cyrillic", "hebrew", "arabic", "armenian", "georgian", "math",
            "arrows", "currency", "punctuation", "boxes"} <= set(table)
    assert "devanagari" not in table  # DejaVu lacks it: its .notdef boxes are not drawn
    for c in chars:
        assert unicodedata.category(c) not in ("Nd", "Nl", "No"), c
        assert unicodedata.digit(c, None) is None and unicodedata.numeric(c, None) is None, c
    assert not set("OoDQIliljJSsZzBbGgq0123456789٠١٢٣٤٥٦٧٨٩") & set(chars)
    assert {"A", "x", "Ж", "א", "→", "€"} <= set(chars)
    assert "٣" not in neg.candidate_glyphs()["arabic"]  # Arabic-Indic digits are not letters


def test_deterministic_by_seed(train):
    x, y = train
    for kind in ("glyphs", "parts", "textures"):
        a = neg.make_negatives(kind, 5, np.random.default_rng(9), x, mnist_labels=y)
        b = neg.make_negatives(kind, 5, np.random.default_rng(9), x, mnist_labels=y)
        c = neg.make_negatives(kind, 5, np.random.default_rng(10), x, mnist_labels=y)
        assert np.array_equal(a, b) and not np.array_equal(a, c), kind


def test_parts_and_pairs_use_training_indices_below_55000(train):
    x, y = train
    big_x = np.tile(x, (30, 1, 1))  # 60,000 images, like the full x_train
    big_y = np.tile(y, 30)
    for kind in neg.MNIST_KINDS:
        used: list[int] = []
        neg.make_negatives(kind, 40, np.random.default_rng(2), big_x, mnist_labels=big_y,
                           used=used)
        assert len(used) >= 40 and max(used) < neg.TRAIN_LIMIT == 55000, kind
        assert min(used) >= 0 and len(set(used)) > 20, kind


def test_strings_are_several_digits_on_one_line_and_not_made_by_default(train):
    # The line gate's "several digits": wider than tall once normalised (a row of 2-4
    # digits), ink in two or more pieces for most; the not-a-digit gates' default kinds
    # leave them out.
    x, y = train
    strings = neg.make_negatives("strings", 40, np.random.default_rng(4), x, mnist_labels=y)
    wide = pieces = 0
    for img in strings:
        rows = np.flatnonzero(img.max(axis=1) > 0)
        cols = np.flatnonzero(img.max(axis=0) > 0)
        wide += cols[-1] - cols[0] > rows[-1] - rows[0]
        pieces += ndimage.label(img > 64)[1] >= 2
    assert wide >= 36 and pieces >= 20
    assert "strings" not in neg.DEFAULT_KINDS and set(neg.DEFAULT_KINDS) | {"strings"} == set(
        neg.KINDS)


def test_parts_never_cut_a_one(train):
    x, y = train
    used: list[int] = []
    neg.make_negatives("parts", 20, np.random.default_rng(3), x, mnist_labels=y, used=used)
    assert (y[used] != 1).all()


def test_bad_calls_raise_value_errors(train):
    x, _ = train
    with pytest.raises(ValueError, match="unknown kind 'letters'"):
        neg.make_negatives("letters", 3, np.random.default_rng(0))
    with pytest.raises(ValueError, match="need MNIST"):
        neg.make_negatives("parts", 3, np.random.default_rng(0), None)
    with pytest.raises(ValueError, match=r"\(N, 28, 28\)"):
        neg.make_negatives("pairs", 3, np.random.default_rng(0), x[:, :20])
    assert neg.make_negatives("shapes", 0, np.random.default_rng(0)).shape == (0, 28, 28)


def _run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], check=False,
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_script_writes_noise_folder_and_refuses_to_overwrite(tmp_path):
    data = ROOT / "tests" / "data" / "mnist_subset.npz"
    out = tmp_path / "neg"
    done = _run("--out", out, "--per-kind", 3, "--seed", 4, "--data", data)
    assert done.returncode == 0, done.stderr
    files = sorted(p.name for p in (out / "noise").glob("*.png"))
    assert len(files) == 21 and files[0] == "clutter_00000.png"
    assert done.stdout.strip().count("\n") == 0 and "21 images" in done.stdout
    import cv2

    img = cv2.imread(str(out / "noise" / "glyphs_00002.png"), cv2.IMREAD_UNCHANGED)
    assert img.shape == (28, 28) and img.dtype == np.uint8 and img.max() == 255

    again = _run("--out", out, "--per-kind", 3, "--data", data)
    assert again.returncode == 2 and "--overwrite" in again.stderr
    assert "Traceback" not in again.stderr and again.stderr.count("\n") == 1
    redo = _run("--out", out, "--per-kind", 2, "--kinds", "shapes", "--overwrite")
    assert redo.returncode == 0 and len(list((out / "noise").glob("*.png"))) == 2


@pytest.mark.parametrize("args, message", [
    (["--per-kind", "0"], "at least 1"),
    (["--kinds", "letters"], "invalid choice"),
    (["--kinds", "parts", "--data", "/nonexistent/mnist.npz"], "cannot read MNIST"),
])
def test_script_bad_arguments_one_line_exit_2(tmp_path, args, message):
    done = _run("--out", tmp_path / "o", *args)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1
    assert not (tmp_path / "o" / "noise").exists() or not any((tmp_path / "o" / "noise").iterdir())
