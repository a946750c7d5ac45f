"""benchmarks/robustness.py: a test set is generated once, stamped with its command, and a
folder made by another command (another seed) is refused rather than scored as if it were the
set asked for."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import load_script

ROOT = Path(__file__).resolve().parents[1]


def robustness():
    return load_script(ROOT / "benchmarks" / "robustness.py", "robustness_bench")


def test_a_set_is_stamped_with_its_command_and_another_seeds_folder_is_refused(tmp_path,
                                                                               monkeypatch):
    r = robustness()
    monkeypatch.setitem(r.SETS, "tiny", ("nondigits", ["make_non_digits.py", "--per-kind", "1",
                                                       "--seed", "5"], False))
    folder = r.generate("tiny", tmp_path / "tiny")
    assert (folder / ".generator").read_text().split() == r.set_command("tiny")
    assert len(list(folder.glob("nd_*"))) == 8 and not (tmp_path / "tiny.partial").exists()
    made = sorted(p.name for p in folder.iterdir())
    assert r.generate("tiny", folder) == folder  # reused as it is
    assert sorted(p.name for p in folder.iterdir()) == made
    monkeypatch.setitem(r.SETS, "tiny", ("nondigits", ["make_non_digits.py", "--per-kind", "1",
                                                       "--seed", "6"], False))
    with pytest.raises(SystemExit, match="--seed 5.*delete it"):
        r.generate("tiny", folder)
    assert r.set_command("nondigit_a")[-2:] == ["--seed", "1101"]  # not a gate's training seed
    assert r.set_command("photos_a")[-2:] == ["--seed", str(r.SEED)]


def test_a_number_read_in_a_picture_is_an_answer_not_a_rejection(tmp_path, monkeypatch):
    # a number answer leaves the digit field empty; it must count as a (wrong) answer: for a
    # non-digit not rejected, for a one-digit photo not turned away
    from cnn.tasks.predict import Prediction

    r = robustness()
    preds = [Prediction("nd_letter_000.png", digit=None, number="16"),
             Prediction("nd_letter_001.png", digit=None, rejected=True),
             Prediction("nd_shape_000.png", digit=None, number=None),
             Prediction("nd_shape_001.png", digit=4, number="4")]
    monkeypatch.setattr(r, "run_files", lambda files, model, rejector: preds)
    (tmp_path / "nd_letter_000.png").write_bytes(b"")  # listed, never read here
    monkeypatch.setitem(r.SETS, "tiny", ("nondigits", [], False))
    detail: dict = {}
    assert r.score_set("tiny", tmp_path, None, None, detail) == {"n": 4, "rejected": 0.5}
    assert detail["tiny"] == {"letter": 0.5, "shape": 0.5}
    photos = [Prediction("a.png", digit=None, number="71", label=7),
              Prediction("b.png", digit=None, rejected=True, label=7),
              Prediction("c.png", digit=7, number="7", label=7, probabilities=[0.1] * 10)]
    scored = r.score_predictions(photos)
    assert scored["accuracy"] == 1 / 3 and scored["turned_away"] == 1 / 3
