"""``cnn predict``: the accuracy counts every labelled file (no answer = wrong), the JSON says
how many files got an answer, and ``--debug-steps`` writes each preprocessing stage without
ever replacing a file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from cnn.cli import main
from cnn.io.catalog import list_weights

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "custom_test_images"

pytestmark = pytest.mark.skipif(not list_weights(ROOT / "weight_output"),
                                reason="no shipped weights in weight_output/")


@pytest.fixture
def folder(tmp_path):
    """Two labelled files: a sample the model reads right, and a blank page with no answer;
    plus an unlabelled readable file."""
    d = tmp_path / "photos"
    d.mkdir()
    shutil.copy(IMAGES / "7_1.jpg", d / "7_1.jpg")
    shutil.copy(IMAGES / "3_3.png", d / "sample.png")
    cv2.imwrite(str(d / "4_blank.png"), np.full((120, 160), 228, np.uint8))
    return d


def test_accuracy_line_counts_files_without_an_answer_as_wrong(folder, capsys):
    status = main(["predict", str(folder)])
    out, _ = capsys.readouterr()
    assert status == 0  # the blank page is answered "not a digit" (issue 13), not an error
    assert "4_blank.png  -> not a digit" in out
    assert "accuracy: 1/2 labelled files (1 without an answer) = 50.00%" in out
    status = main(["predict", str(folder), "--no-reject"])
    out, _ = capsys.readouterr()
    assert status == 1  # without rejection the blank page is a file that could not be read
    assert "accuracy: 1/2 labelled files (1 without an answer) = 50.00%" in out


def test_json_carries_answered_unanswered_and_the_honest_accuracy(folder, capsys):
    main(["predict", str(folder), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert result["answered"] == 2 and result["unanswered"] == 1
    assert result["labelled"] == 2
    assert result["accuracy"] == pytest.approx(0.5)
    assert result["answered"] + result["unanswered"] == len(result["predictions"])


def test_debug_steps_writes_every_stage_and_the_chosen_input(folder, tmp_path, capsys):
    steps = tmp_path / "steps"
    main(["predict", str(folder), "--debug-steps", str(steps)])
    capsys.readouterr()
    names = sorted(p.name for p in steps.iterdir())
    for stage in ("1_gray", "2_ink_bright_padded", "3_flattened_local", "4_threshold_local",
                  "5_lines_removed_local", "6_boxes_removed_local"):
        assert f"7_1_{stage}.png" in names
    chosen = [n for n in names if n.startswith("7_1_7_candidate") and n.endswith("_chosen.png")]
    assert len(chosen) == 1
    seen = cv2.imread(str(steps / chosen[0]), cv2.IMREAD_UNCHANGED)
    assert seen.shape == (28, 28) and seen.max() == 255
    # The blank page that got no answer still shows its stages: why it failed.
    assert "4_blank_1_gray.png" in names and "4_blank_3_flattened_local.png" in names


def test_debug_steps_never_replaces_an_existing_file(folder, tmp_path, capsys):
    steps = tmp_path / "steps"
    steps.mkdir()
    mine = steps / "7_1_1_gray.png"
    mine.write_bytes(b"a file of mine")
    main(["predict", str(folder / "7_1.jpg"), "--debug-steps", str(steps)])
    main(["predict", str(folder / "7_1.jpg"), "--debug-steps", str(steps)])
    capsys.readouterr()
    assert mine.read_bytes() == b"a file of mine"
    assert (steps / "7_1_1_gray_1.png").exists() and (steps / "7_1_1_gray_2.png").exists()
    first = (steps / "7_1_4_threshold_local.png").read_bytes()
    assert (steps / "7_1_4_threshold_local_1.png").read_bytes() == first
