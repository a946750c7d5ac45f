"""scripts/make_non_digits_c.py: the third, held-out generator of non-digit pictures.

Runs in-process on small sets (one or two pictures a kind): file names never start with a digit
(``cnn predict`` would read a label), the same seed gives the same bytes, every kind draws
something (the picture is not flat), photos, scans and screenshots all occur, the index lists
every file, and a non-empty --out is refused without --overwrite (one error line, exit 2).
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import load_script

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "make_non_digits_c.py"


def load_generator():
    return load_script(SCRIPT)


gen = load_generator()


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("nondigits_c")
    assert gen.main(["--out", str(out), "--seed", "11", "--per-kind", "2"]) == 0
    with open(out / "index.csv", newline="", encoding="utf-8") as f:
        return out, list(csv.DictReader(f))


def test_index_lists_every_file_once_with_kind_variant_and_presentation(generated):
    out, rows = generated
    files = sorted(p.name for p in out.iterdir() if p.suffix in (".jpg", ".png"))
    assert sorted(r["file"] for r in rows) == files
    assert len(rows) == 2 * len(gen.KINDS)
    assert {r["kind"] for r in rows} == set(gen.KINDS)
    assert all(r["variant"] and r["presentation"] in gen.PRESENTATIONS for r in rows)


def test_no_file_name_starts_with_a_digit_and_names_carry_the_kind(generated):
    _, rows = generated
    for r in rows:
        assert not r["file"][0].isdigit()
        assert r["file"].startswith(f"ndc_{r['kind']}_")
        assert not any(c.isdigit() for c in r["file"].split("_")[0])


def test_every_picture_decodes_in_size_and_has_ink_or_contrast(generated):
    out, rows = generated
    for r in rows:
        img = cv2.imread(str(out / r["file"]), cv2.IMREAD_GRAYSCALE)
        assert img is not None, r["file"]
        assert 150 <= max(img.shape) <= 900, (r["file"], img.shape)
        smooth = cv2.blur(img, (3, 3)).astype(int)
        assert smooth.max() - smooth.min() >= 25, (r["file"], r["variant"])


def test_presentations_vary_and_screenshots_are_png(generated):
    _, rows = generated
    assert len({r["presentation"] for r in rows}) >= 2
    for r in rows:
        if r["presentation"] == "photo":
            assert r["file"].endswith(".jpg")
        if r["presentation"] == "screen":
            assert r["file"].endswith(".png")
    pres = {gen.make_picture(gen.picture_rng(3, "blank", i), "blank")[3] for i in range(12)}
    assert pres == set(gen.PRESENTATIONS)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    args = ["--kinds", "icon,blank", "--per-kind", "1"]
    assert gen.main(["--out", str(a), "--seed", "4", *args]) == 0
    assert gen.main(["--out", str(b), "--seed", "4", *args]) == 0
    assert gen.main(["--out", str(c), "--seed", "5", *args]) == 0
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    for n in names:
        assert (a / n).read_bytes() == (b / n).read_bytes(), n
    assert any(not (c / n).exists() or (c / n).read_bytes() != (a / n).read_bytes()
               for n in names if n != "index.csv")


def test_printed_text_never_uses_a_digit_or_a_digit_shaped_letter():
    for w in gen.UPPER_WORDS + gen.LOWER_WORDS + tuple(gen.SAFE_SINGLE):
        assert not set(w) & gen.DIGIT_LIKE and not any(c.isdigit() for c in w), w
    for i in range(6):
        _, _, variant, _ = gen.kind_print_letter(gen.picture_rng(0, "print_letter", i),
                                                 120, 160, True)
        text = variant.split(":")[-1]
        assert text and not set(text) & gen.DIGIT_LIKE, variant


def test_non_empty_out_is_refused_without_overwrite(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("x")
    assert gen.main(["--out", str(tmp_path), "--kinds", "blank", "--per-kind", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--overwrite" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]
    assert gen.main(["--out", str(tmp_path), "--kinds", "blank", "--per-kind", "1",
                     "--overwrite"]) == 0
    assert (tmp_path / "ndc_blank_000.png").exists() or (tmp_path / "ndc_blank_000.jpg").exists()


def test_bad_arguments_end_in_one_error_line(tmp_path, capsys):
    assert gen.main(["--out", str(tmp_path / "x"), "--kinds", "digits"]) == 2
    assert gen.main(["--out", str(tmp_path / "y"), "--per-kind", "0"]) == 2
    with pytest.raises(SystemExit) as e:
        gen.main([])  # --out is required
    assert e.value.code == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 3 and all(ln.startswith("make_non_digits_c.py: error:") for ln in lines)


def test_cursive_pen_model_moves_right_and_loops_where_asked():
    rng = np.random.default_rng(0)
    trace = gen.cursive(rng, "lel", 40.0)[0]
    assert trace[-1, 0] - trace[0, 0] > 3 * 40 * 0.5  # three letters, drifting right
    assert np.any(np.diff(trace[:, 0]) < 0)  # loop parameter > 1: the pen goes back (a loop)
    flat = gen.cursive(np.random.default_rng(0), "nn", 40.0)[0]
    assert flat[:, 1].min() > -1.5 * 40  # x-height letters stay below the ascender line
