"""scripts/make_numbers_d.py: the fourth, held-out generator of number pictures.

Runs in-process on the committed MNIST subset (tests/data/mnist_subset.npz, its 1,000 test
digits), frames of at most 640 px, numbers of 2-3 digits: the files and the index are written
as the other generators write them, the labels are the MNIST test digits named in the index,
held_out.txt lists every condition, the seed fixes the bytes, a subset of conditions gives the
same pictures as the whole run, bad arguments end in one error line with exit status 2, and a
folder that already holds files is refused without --overwrite. The number reader is never run
on these pictures.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import load_script

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "make_numbers_d.py"
SUBSET = ROOT / "tests" / "data" / "mnist_subset.npz"

gen = load_script(SCRIPT)


def run(out: Path, *extra: str) -> int:
    return gen.main(["--out", str(out), "--data", str(SUBSET), "--max-width", "640",
                     "--max-digits", "3", *extra])


def read_index(out: Path) -> list[dict]:
    with open(out / "index.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("numbers_d")
    assert run(out, "--seed", "7", "--per-condition", "1") == 0
    return out, read_index(out)


def test_index_has_the_columns_of_the_other_generators_and_one_row_per_file(generated):
    out, rows = generated
    header = (out / "index.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "file,condition,label,mnist_test_indices"
    assert sorted(r["condition"] for r in rows) == sorted(gen.CONDITIONS)
    pictures = sorted(p.name for p in out.iterdir() if p.suffix in (".jpg", ".png"))
    assert pictures == sorted(r["file"] for r in rows)
    for r in rows:
        ext = "png" if r["condition"] == "fax" else "jpg"
        assert r["file"] == f"{r['label']}_{r['condition']}_000.{ext}"


def test_labels_are_the_mnist_test_digits_named_in_the_index(generated):
    _, rows = generated
    with np.load(SUBSET) as d:
        y_test = d["y_test"]
    for r in rows:
        idx = [int(i) for i in r["mnist_test_indices"].split()]
        assert 2 <= len(idx) <= 3 and len(set(idx)) == len(idx)
        assert all(0 <= i < len(y_test) for i in idx)
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


def test_pictures_decode_at_the_promised_sizes_and_formats(generated):
    out, rows = generated
    for r in rows:
        raw = (out / r["file"]).read_bytes()
        img = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_UNCHANGED)
        assert img is not None, r["file"]
        if r["condition"] == "fax":                  # a 1-bit page saved as a grey PNG
            assert raw[:4] == b"\x89PNG" and img.ndim == 2
            assert set(np.unique(img).tolist()) <= {0, 255}
            assert (img == 0).mean() > 0.002       # the number's ink survived the threshold
        else:
            assert raw[:2] == b"\xff\xd8" and img.ndim == 3 and img.shape[2] == 3
        if r["condition"] == "webcam":
            assert img.shape[:2] == (480, 640)
        assert 240 <= min(img.shape[:2]) and max(img.shape[:2]) <= 640


def test_same_seed_same_bytes_other_seed_other_pictures(tmp_path):
    args = ("--per-condition", "1", "--conditions", "crumpled,fax")
    assert run(tmp_path / "a", "--seed", "3", *args) == 0
    assert run(tmp_path / "b", "--seed", "3", *args) == 0
    assert run(tmp_path / "c", "--seed", "4", *args) == 0
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    for n in names:
        assert (tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes()
    assert (tmp_path / "a" / "index.csv").read_text() != (tmp_path / "c" / "index.csv").read_text()


def test_a_subset_of_conditions_gives_the_same_pictures_as_the_whole_run(generated, tmp_path):
    out, rows = generated
    assert run(tmp_path, "--seed", "7", "--per-condition", "1",
               "--conditions", "receipt,webcam") == 0
    sub = read_index(tmp_path)
    assert [r["condition"] for r in sub] == ["receipt", "webcam"]
    whole = {r["file"]: r for r in rows}
    for r in sub:
        assert whole[r["file"]] == r
        assert (tmp_path / r["file"]).read_bytes() == (out / r["file"]).read_bytes()
    assert (tmp_path / "held_out.txt").read_text().split() == list(gen.CONDITIONS)


@pytest.mark.parametrize("extra, words", [
    (("--conditions", "fax,bogus"), "bogus"),
    (("--conditions", ""), "--conditions"),
    (("--per-condition", "0"), "--per-condition 0"),
    (("--min-digits", "4"), "--min-digits 4"),          # more than --max-digits 3
    (("--data", "/nonexistent/mnist.npz"), "/nonexistent/mnist.npz"),
    (("--seed", "abc"), "abc"),
    (("--seed", "-1"), "--seed -1"),
    (("--max-width", "300"), "--max-width 300"),
])
def test_bad_arguments_give_one_error_line_and_status_2(tmp_path, capsys, extra, words):
    with pytest.raises(SystemExit) as stop:
        code = run(tmp_path / "out", *extra)
        raise SystemExit(code)
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0] and "Traceback" not in err[0]
    assert err[0].startswith("make_numbers_d.py: error: ")
    assert not (tmp_path / "out").exists()


def test_a_file_that_is_not_mnist_is_refused_in_one_line(tmp_path, capsys):
    bad = tmp_path / "not_mnist.npz"
    np.savez(bad, x_test=np.zeros((5, 8, 8), np.uint8), y_test=np.zeros(5, np.uint8))
    assert gen.main(["--out", str(tmp_path / "out"), "--data", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "(5, 8, 8)" in err[0]


def test_the_command_line_reports_errors_without_a_traceback(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path / "o"),
                           "--conditions", "bogus", "--data", str(SUBSET)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "bogus" in done.stderr


def test_non_empty_out_is_refused_without_overwrite(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("keep me")
    assert run(tmp_path, "--per-condition", "1", "--conditions", "planner") == 2
    assert "--overwrite" in capsys.readouterr().err
    assert not (tmp_path / "index.csv").exists()
    assert run(tmp_path, "--per-condition", "1", "--conditions", "planner", "--overwrite") == 0
    assert (tmp_path / "index.csv").exists() and (tmp_path / "notes.txt").read_text() == "keep me"
    assert len(read_index(tmp_path)) == 1


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "a_file"
    target.write_text("x")
    assert run(target, "--per-condition", "1") == 2
    assert "is a file" in capsys.readouterr().err


def test_the_writer_gives_an_ink_map_of_the_requested_digit_height():
    with np.load(SUBSET) as d:
        x_test = d["x_test"]
    digits = [x_test[i] for i in (0, 1, 2, 3)]
    for kind in gen.PENS:
        pen = gen._draw_pen(np.random.default_rng(1), kind)
        ink = gen.write_number(np.random.default_rng(2), digits, 40.0, pen)
        assert ink.dtype == np.float32 and ink.min() >= 0 and ink.max() <= 1
        rows = np.nonzero(ink.max(1) > 0.3)[0]
        assert 0.9 * 40 < rows[-1] - rows[0] < 2.0 * 40, kind       # one line of ~40 px
        assert 4 * 0.5 * 40 < ink.shape[1] < 4 * 1.6 * 40, kind
    again = gen.write_number(np.random.default_rng(2), digits, 40.0, pen)
    assert np.array_equal(ink, again)


def test_a_thicker_pen_lays_down_more_ink():
    with np.load(SUBSET) as d:
        digits = [d["x_test"][i] for i in (4, 5, 6)]
    ink = {}
    for kind in ("ballpoint", "marker"):
        pen = {**gen._draw_pen(np.random.default_rng(0), kind), "skip": 0.0}
        ink[kind] = float(gen.write_number(np.random.default_rng(9), digits, 60.0, pen).sum())
    assert ink["marker"] > 1.8 * ink["ballpoint"]
