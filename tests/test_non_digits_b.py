"""scripts/make_non_digits_b.py: hand-drawn non-digits for testing "not a digit".

Small runs only (two images a kind); the MNIST kinds read the committed subset's test digits.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import load_script

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "make_non_digits_b.py"
SUBSET = ROOT / "tests" / "data" / "mnist_subset.npz"
NAME = re.compile(r"^nd_([a-z_]+)_(\d{3})\.(jpg|png)$")


@pytest.fixture(scope="module")
def gen():
    return load_script(SCRIPT)


@pytest.fixture(scope="module")
def digits():
    with np.load(SUBSET) as d:
        return d["x_test"], d["y_test"]


@pytest.fixture(scope="module")
def full_run(gen, tmp_path_factory):
    out = tmp_path_factory.mktemp("nd") / "all"
    assert gen.main(["--out", str(out), "--per-kind", "2", "--data", str(SUBSET)]) == 0
    return out


def _rows(out: Path) -> list[dict]:
    with open(out / "index.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_names_have_no_leading_digit_and_the_index_lists_every_file(gen, full_run):
    images = sorted(p.name for p in full_run.iterdir() if p.suffix in (".jpg", ".png"))
    assert len(images) == 2 * len(gen.KINDS)
    for name in images:
        m = NAME.match(name)
        assert m and m.group(1) in gen.KINDS and not name[0].isdigit()
    rows = _rows(full_run)
    assert sorted(r["file"] for r in rows) == images
    for r in rows:
        assert r["variant"] in gen.VARIANTS[r["kind"]]
        assert r["file"].endswith(".png" if r["style"] == "canvas" else ".jpg")
        if r["kind"] in gen.PHOTO_ONLY:
            assert r["style"] == "photo"
        n_mnist = {"two_digits": 2, "overlap": 2, "cut_digit": 1}.get(r["kind"], 0)
        assert len(r["mnist_test_index"].split()) == len(r["mnist_label"].split()) == n_mnist
        if r["kind"] == "overlap":
            a, b = map(int, r["mnist_label"].split())
            assert a != b and 1 not in (a, b)


def test_same_seed_same_bytes_a_subset_of_kinds_too_and_another_seed_differs(
        gen, full_run, tmp_path):
    again = tmp_path / "again"
    assert gen.main(["--out", str(again), "--per-kind", "2", "--kinds", "math,overlap",
                     "--data", str(SUBSET)]) == 0
    files = sorted(p.name for p in again.glob("nd_*"))
    assert len(files) == 4
    for name in files:
        assert (again / name).read_bytes() == (full_run / name).read_bytes()
    other = tmp_path / "other"
    assert gen.main(["--out", str(other), "--per-kind", "2", "--kinds", "math,overlap",
                     "--seed", "1", "--data", str(SUBSET)]) == 0
    assert all(not (other / n).exists() or (other / n).read_bytes() != (full_run / n).read_bytes()
               for n in files)


def _ink_fraction_canvas(image: np.ndarray) -> float:
    background = int(np.median(image[[0, 0, -1, -1], [0, -1, 0, -1]]))
    return float((np.abs(image.astype(int) - background) > 128).mean())


@pytest.mark.parametrize("style", ["canvas", "photo"])
def test_every_kind_draws_something_in_both_styles(gen, digits, style):
    for k, kind in enumerate(gen.KINDS):
        for variant in gen.VARIANTS[kind][:3]:
            rng = np.random.default_rng([7, k, len(variant)])
            image, ext, meta = gen.make_image(kind, variant, rng, digits, style=style)
            if style == "canvas" and kind not in gen.PHOTO_ONLY:
                assert ext == "png" and meta["style"] == "canvas"
                assert image.shape == (280, 280) and image.dtype == np.uint8
                corners = image[[0, 0, -1, -1], [0, -1, 0, -1]]
                assert set(corners.tolist()) <= {0, 255} or kind == "cut_digit"
                assert 0.004 < _ink_fraction_canvas(image) < 0.65, (kind, variant)
            else:
                assert ext == "jpg" and meta["style"] == "photo"
                h, w, c = image.shape
                assert c == 3 and 320 <= h <= 640 and 320 <= w <= 640
                grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(float)
                assert grey.std() > 3, (kind, variant)  # never a blank page
                if kind not in gen.PHOTO_ONLY:  # strokes: pixels far darker than the paper
                    dark = (np.median(grey) - grey) > 50
                    assert 0.001 < dark.mean() < 0.5, (kind, variant)


def test_photo_and_canvas_differ_in_kind(gen, digits):
    canvas, _, _ = gen.make_image("face", "sun", np.random.default_rng(1), digits, "canvas")
    photo, _, _ = gen.make_image("face", "sun", np.random.default_rng(1), digits, "photo")
    # the canvas has exactly two levels away from the stroke edges; the photo's paper varies
    assert np.mean((canvas == 0) | (canvas == 255)) > 0.8
    grey = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)
    paper = grey[grey > np.median(grey) - 20]
    assert paper.std() > 1.0 and len(np.unique(paper)) > 10


def test_letters_are_many_and_never_look_like_digits(gen):
    letters = set(gen.LETTERS)
    assert len(letters) >= 20
    assert not letters & set(gen.FORBIDDEN_LETTERS)
    rng = np.random.default_rng(0)
    for ch in sorted(letters):  # every skeleton is a list of (n, 2) strokes in about a unit box
        strokes = gen.LETTERS[ch](rng)
        pts = np.concatenate(strokes)
        assert pts.ndim == 2 and pts.shape[1] == 2 and np.isfinite(pts).all()
        assert -0.2 <= pts.min() and pts.max() <= 1.5, ch


def test_cut_digit_shows_30_to_50_percent_of_its_ink_and_touches_the_frame(gen, digits):
    x, y = digits
    for seed in range(6):
        rng = np.random.default_rng(seed)
        cov, (i,), visible = gen.draw_cut_digit(x, y, ("edge", "corner")[seed % 2], (320, 400),
                                                rng)
        assert 0.28 <= visible <= 0.52 and y[i] != 1
        border = np.concatenate([cov[0], cov[-1], cov[:, 0], cov[:, -1]])
        assert border.max() > 0.3  # the frame cuts through ink


def test_two_digits_are_side_by_side(gen, digits):
    x, y = digits
    for variant in ("apart", "touching"):
        cov, idx = gen.draw_two_digits(x, y, variant, (300, 400), np.random.default_rng(4))
        assert len(idx) == 2
        cols = np.flatnonzero(cov.max(0) > 0.3)
        rows = np.flatnonzero(cov.max(1) > 0.3)
        assert np.ptp(cols) > 1.3 * np.ptp(rows)  # wider than tall: two digits in a row


def test_bad_arguments_give_one_line_and_exit_2(gen, tmp_path, capsys):
    cases = [["--out", str(tmp_path / "a"), "--kinds", "letter"],
             ["--out", str(tmp_path / "b"), "--per-kind", "0"],
             ["--out", str(tmp_path / "c"), "--kinds", "overlap", "--data",
              str(tmp_path / "missing.npz")]]
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    cases.append(["--out", str(busy), "--kinds", "math", "--per-kind", "1"])
    for argv in cases:
        with pytest.raises(SystemExit) as exc:
            gen.main(argv)
        assert exc.value.code == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "error:" in err, err
    assert (busy / "notes.txt").exists() and not list(busy.glob("nd_*"))
    assert gen.main(["--out", str(busy), "--kinds", "math", "--per-kind", "1",
                     "--overwrite"]) == 0
    assert (busy / "nd_math_000.jpg").exists() or (busy / "nd_math_000.png").exists()


def test_cli_help_and_a_bad_type_from_the_repo_root():
    ok = subprocess.run([sys.executable, "scripts/make_non_digits_b.py", "--help"], cwd=ROOT,
                        capture_output=True, text=True, timeout=60, check=False)
    assert ok.returncode == 0 and "stain_only" in ok.stdout and "--per-kind" in ok.stdout
    bad = subprocess.run([sys.executable, "scripts/make_non_digits_b.py", "--out", "/tmp/x",
                          "--seed", "abc"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
