"""scripts/make_numbers_c.py: the third, held-out generator of number photos (issue 29).

Runs in-process on the committed MNIST subset (tests/data/mnist_subset.npz, its 1,000 test
digits), 480 px frames, numbers of 2-3 digits: the labels are the MNIST test digits named in the
index, the seed fixes the bytes, the index has the other generators' columns and held_out.txt
lists every condition, bad arguments end in one error line with exit status 2, the conditions
look different from one another, and chalk is light on a dark board.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import load_script

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "make_numbers_c.py"
SUBSET = ROOT / "tests" / "data" / "mnist_subset.npz"


def load_generator():
    return load_script(SCRIPT)


gen = load_generator()


def run(out: Path, *extra: str) -> int:
    return gen.main(["--out", str(out), "--data", str(SUBSET), "--max-width", "480",
                     "--max-digits", "3", *extra])


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("numbers_c")
    assert run(out, "--seed", "7", "--per-condition", "1") == 0
    with open(out / "index.csv", newline="", encoding="utf-8") as f:
        return out, list(csv.DictReader(f))


def test_index_has_the_columns_of_the_other_generators_and_one_row_per_file(generated):
    out, rows = generated
    header = (out / "index.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "file,condition,label,mnist_test_indices"
    assert sorted(r["condition"] for r in rows) == sorted(gen.CONDITIONS)
    pictures = sorted(p.name for p in out.iterdir() if p.suffix in (".jpg", ".png"))
    assert pictures == sorted(r["file"] for r in rows)
    for r in rows:
        ext = "png" if r["condition"] == "screen" else "jpg"
        assert r["file"] == f"{r['label']}_{r['condition']}_000.{ext}"
        assert cv2.imread(str(out / r["file"])) is not None


def test_labels_are_the_mnist_test_digits_named_in_the_index(generated):
    _, rows = generated
    with np.load(SUBSET) as d:
        y_test = d["y_test"]
    for r in rows:
        idx = [int(i) for i in r["mnist_test_indices"].split()]
        assert 2 <= len(idx) <= 3 and len(set(idx)) == len(idx)
        assert r["label"] == "".join(str(int(y_test[i])) for i in idx)


def test_held_out_lists_every_condition(generated):
    out, _ = generated
    listed = (out / "held_out.txt").read_text(encoding="utf-8").split()
    assert listed == list(gen.CONDITIONS)
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from read_numbers import held_out_conditions
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    assert held_out_conditions(out) == set(gen.CONDITIONS)


def test_same_seed_same_bytes_other_seed_other_pictures(tmp_path):
    args = ("--per-condition", "1", "--conditions", "scan,chalk")
    assert run(tmp_path / "a", "--seed", "3", *args) == 0
    assert run(tmp_path / "b", "--seed", "3", *args) == 0
    assert run(tmp_path / "c", "--seed", "4", *args) == 0
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    for n in names:
        assert (tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes()
    assert (tmp_path / "a" / "index.csv").read_text() != (tmp_path / "c" / "index.csv").read_text()


@pytest.mark.parametrize("extra, words", [
    (("--conditions", "scan,bogus"), "bogus"),
    (("--per-condition", "0"), "--per-condition 0"),
    (("--min-digits", "4"), "--min-digits 4"),          # more than --max-digits 3
    (("--data", "/nonexistent/mnist.npz"), "/nonexistent/mnist.npz"),
    (("--seed", "abc"), "abc"),
])
def test_bad_arguments_give_one_error_line_and_status_2(tmp_path, capsys, extra, words):
    with pytest.raises(SystemExit) as stop:
        code = run(tmp_path / "out", *extra)
        raise SystemExit(code)
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0] and "Traceback" not in err[0]
    assert not (tmp_path / "out").exists()


def test_non_empty_out_is_refused_without_overwrite(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("keep me")
    assert run(tmp_path, "--per-condition", "1", "--conditions", "scan") == 2
    assert "--overwrite" in capsys.readouterr().err
    assert not (tmp_path / "index.csv").exists()
    assert run(tmp_path, "--per-condition", "1", "--conditions", "scan", "--overwrite") == 0
    assert (tmp_path / "index.csv").exists() and (tmp_path / "notes.txt").exists()


def luminance(path: Path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_GRAYSCALE).astype(np.float32)


def test_every_condition_looks_different(generated):
    out, rows = generated
    features = {}
    for r in rows:
        img = cv2.imread(str(out / r["file"])).astype(np.float32)
        gray = img.mean(2)
        features[r["condition"]] = np.concatenate([
            img.reshape(-1, 3).mean(0), img.reshape(-1, 3).std(0),
            np.percentile(gray, [1, 50, 99])])
    conds = list(features)
    for i, a in enumerate(conds):
        for b in conds[i + 1:]:
            assert np.abs(features[a] - features[b]).max() > 8, (a, b)


def test_chalk_is_light_on_a_dark_board_and_the_scan_dark_on_white(tmp_path):
    assert run(tmp_path, "--seed", "11", "--per-condition", "3",
               "--conditions", "chalk,scan") == 0
    for path in sorted(tmp_path.glob("*_chalk_*.jpg")):
        y = luminance(path)
        board, chalk = np.median(y), np.percentile(y, 99.5)
        assert board < 90 and chalk > board + 60, path.name
    for path in sorted(tmp_path.glob("*_scan_*.jpg")):
        y = luminance(path)
        paper, ink = np.median(y), np.percentile(y, 0.5)
        assert paper > 180 and ink < paper - 60, path.name


def test_the_legibility_filter_keeps_most_digits_and_drops_ambiguous_ones():
    with np.load(SUBSET) as d:
        x, y = d["x_test"], d["y_test"]
    keep = gen.legible(x, y)
    assert 0.75 * len(x) < len(keep) < len(x)
    assert np.all(np.diff(keep) > 0)
    # a digit relabelled as something else has neighbours that disagree with it
    y_bad = y.copy()
    y_bad[keep[0]] = (y[keep[0]] + 1) % 10
    assert keep[0] not in set(gen.legible(x, y_bad).tolist())
