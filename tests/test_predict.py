"""``cnn predict`` end to end on real image files: the shipped samples with the shipped default
model, files that cannot be used (each gets its line, the batch goes on, exit 1), the JSON
output, the confidence flag, and the PNGs it writes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from cnn.cli import main
from cnn.io.catalog import default_weights, list_weights
from cnn.tasks.predict import label_from_name

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "custom_test_images"
SHIPPED = list_weights(ROOT / "weight_output")

needs_shipped = pytest.mark.skipif(not SHIPPED, reason="no shipped weights in weight_output/")


def run_json(args, capsys):
    status = main(["predict", "--json", *args])
    captured = capsys.readouterr()
    return status, json.loads(captured.out), captured.err


@needs_shipped
def test_default_model_has_the_best_recorded_selection_score():
    """The default is chosen by the documented selection score (clean MNIST, the corruption
    suite, both hard-photo styles, the writer sets: benchmarks/robustness.py --score), not by
    clean accuracy alone; it is a robust-trained, calibrated file."""
    entries = json.loads((ROOT / "weight_output" / "shipped.json").read_text())["files"]
    scored = [e for e in entries if "selection_score" in e]
    assert len(scored) >= 2
    assert max(scored, key=lambda e: e["selection_score"])["role"] == "default"
    with np.load(default_weights()) as f:
        meta = json.loads(str(f["metadata"]))
    assert meta["augment"] == "robust" and 0.2 < meta["temperature"] < 5


@pytest.mark.slow  # end to end; CI runs it (.ci/run: -m slow)
@needs_shipped
def test_shipped_samples_are_read_right_by_the_default_model(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    status, result, _ = run_json([], capsys)  # custom_test_images/ by default
    assert status == 0
    preds = result["predictions"]
    assert len(preds) == len(list(IMAGES.glob("[0-9]_*.*"))) >= 30
    assert {p["label"] for p in preds} == set(range(10))
    assert result["accuracy"] >= 0.97
    right = sum(p["digit"] == p["label"] for p in preds)
    assert result["accuracy"] == pytest.approx(right / len(preds))


@needs_shipped
def test_json_predictions_carry_the_documented_fields(capsys):
    status, result, _ = run_json([str(IMAGES / "3_1.jpg"), str(IMAGES / "0_3.png")], capsys)
    assert status == 0
    for p in result["predictions"]:
        assert {"file", "digit", "confidence", "probabilities", "label"} <= set(p)
        assert len(p["probabilities"]) == 10
        assert sum(p["probabilities"]) == pytest.approx(1.0, abs=1e-4)
        assert p["confidence"] == pytest.approx(max(p["probabilities"]))
        assert p["digit"] == int(np.argmax(p["probabilities"]))
    assert [p["label"] for p in result["predictions"]] == [3, 0]


@needs_shipped
def test_unusable_files_get_one_line_each_and_the_batch_goes_on(tmp_path, capsys):
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(IMAGES / "7_1.jpg", folder / "7_1.jpg")
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.png").write_text("not an image")
    (folder / "cut.jpg").write_bytes((IMAGES / "2_1.jpg").read_bytes()[:2000])
    cv2.imwrite(str(folder / "blank.png"), np.full((200, 200), 230, np.uint8))
    status = main(["predict", str(folder)])
    out, err = capsys.readouterr()
    assert status == 1
    lines = out.splitlines()
    assert any(line.startswith("7_1.jpg") and "-> 7" in line for line in lines)
    for name, reason in [("empty.png", "empty"), ("notes.png", "not an image"),
                         ("cut.jpg", "truncated")]:
        line = next(line for line in lines if line.startswith(name))
        assert "error:" in line and reason in line
    blank = next(line for line in lines if line.startswith("blank.png"))
    assert "-> not a digit" in blank and "no digit found" in blank  # a blank page is rejected
    assert "accuracy: 1/1" in out
    assert "3 file(s) could not be read" in err
    assert "Traceback" not in out + err


@needs_shipped
def test_min_confidence_flags_answers_below_it(capsys):
    files = [str(IMAGES / name) for name in ("8_1.jpg", "9_4.png", "1_3.png")]
    _, everything, _ = run_json(files + ["--min-confidence", "1"], capsys)
    _, nothing, _ = run_json(files + ["--min-confidence", "0"], capsys)
    for p in everything["predictions"]:
        assert p["uncertain"] == (p["confidence"] < 1.0)
    assert any(p["uncertain"] for p in everything["predictions"])
    assert not any(p["uncertain"] for p in nothing["predictions"])


@needs_shipped
def test_save_transformed_and_plot_write_one_png_per_image(tmp_path, capsys):
    files = [str(IMAGES / "4_1.jpg"), str(IMAGES / "6_3.png")]
    status = main(["predict", *files, "--save-transformed", str(tmp_path / "seen"),
                   "--plot", str(tmp_path / "plots")])
    capsys.readouterr()
    assert status == 0
    for stem in ("4_1", "6_3"):
        seen = cv2.imread(str(tmp_path / "seen" / f"{stem}.png"), cv2.IMREAD_UNCHANGED)
        assert seen.shape == (28, 28) and seen.dtype == np.uint8
        assert seen.max() == 255 and seen[0].max() == 0  # white digit, black border
        plot = cv2.imread(str(tmp_path / "plots" / f"{stem}_prediction.png"))
        assert plot is not None and plot.shape[1] > plot.shape[0]


@pytest.mark.parametrize("args, message", [
    (["no_such_folder"], "'no_such_folder' not found"),
    (["custom_test_images", "--min-confidence", "2"], "--min-confidence 2.0 should be between"),
])
def test_bad_arguments_are_one_line_and_status_2(args, message, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(["predict", *args]) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cnn: error: ")
    assert message in lines[0] and out == ""


def test_empty_folder_is_one_line_and_status_2(tmp_path, capsys):
    (tmp_path / "readme.txt").write_text("no images here")
    assert main(["predict", str(tmp_path)]) == 2
    assert "has no image files" in capsys.readouterr().err


@pytest.mark.parametrize("name, label", [
    ("7_anything.jpg", 7), ("7.png", 7), ("3-photo.png", 3), ("0 scan.jpg", 0),
    ("12.png", None), ("photo_7.jpg", None), ("seven.png", None),
])
def test_label_comes_from_a_leading_digit_only(name, label):
    assert label_from_name(Path(name)) == label
