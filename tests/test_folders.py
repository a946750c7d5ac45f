"""Folders of one's own images as training and evaluation data (``cnn.data.folders``), fine-tuning
(``--init``, ``--freeze``, ``cnn.tasks.finetune``) and mixing MNIST with a folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from cnn.cli import main
from cnn.data import folders
from cnn.data.folders import NOISE_CLASS, labelled_files, load_folder
from cnn.data.sources import load_training_sources
from cnn.errors import UserError
from cnn.io.weights import load_model
from cnn.nn.model import Sequential
from cnn.tasks.finetune import trainable_parameters, with_classes

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "custom_test_images"
SUBSET = ROOT / "tests" / "data" / "mnist_subset.npz"
SMALL = "C(4,5)-P2-FC10"


def class_folders(root: Path, per_class: int = 2, noise: int = 0) -> Path:
    """DIR/0..9 with copies of the shipped samples, and DIR/noise with drawn scribbles."""
    import cv2

    for d in range(10):
        (root / str(d)).mkdir(parents=True)
        for k, src in enumerate(sorted(IMAGES.glob(f"{d}_*.*"))[:per_class]):
            shutil.copy(src, root / str(d) / f"{k}{src.suffix}")
    if noise:
        (root / "noise").mkdir()
        rng = np.random.default_rng(0)
        for k in range(noise):
            img = np.full((120, 120), 235, np.uint8)
            pts = rng.integers(10, 110, (6, 1, 2)).astype(np.int32)
            cv2.polylines(img, [pts], False, 20, 4)
            cv2.imwrite(str(root / "noise" / f"s{k}.png"), img)
    return root


def test_class_folders_and_named_files_give_labels_and_noise_is_class_10(tmp_path):
    root = class_folders(tmp_path / "set", per_class=1, noise=2)
    shutil.copy(IMAGES / "3_1.jpg", root / "3_extra.jpg")
    shutil.copy(IMAGES / "5_1.jpg", root / "noise_cat.jpg")
    shutil.copy(IMAGES / "5_1.jpg", root / "holiday.jpg")
    (root / "misc").mkdir()  # not a class: ignored
    shutil.copy(IMAGES / "5_1.jpg", root / "misc" / "x.jpg")
    files, skipped = labelled_files(root)
    labels = sorted(label for _, label in files)
    assert labels == sorted(list(range(10)) + [3, NOISE_CLASS, NOISE_CLASS, NOISE_CLASS])
    assert [Path(p).name for p, _ in skipped] == ["holiday.jpg"]


def test_unreadable_files_are_listed_skipped_and_missing_classes_reported(tmp_path):
    root = class_folders(tmp_path / "set", per_class=2)
    shutil.rmtree(root / "4")
    (root / "7" / "broken.png").write_text("not an image")
    (root / "7" / "empty.jpg").write_bytes(b"")
    fs = load_folder(root)
    assert len(fs.labels) == 18 and fs.counts()[7] == 2 and 4 not in fs.counts()
    assert sorted(Path(p).name for p, _ in fs.skipped) == ["broken.png", "empty.jpg"]
    text = "\n".join(fs.describe())
    assert "skipped 2 file(s)" in text and "no usable image of digit(s) 4" in text
    assert fs.images.dtype == np.uint8 and fs.images.shape == (18, 28, 28)


def test_a_folder_without_usable_images_is_one_clear_error(tmp_path):
    (tmp_path / "3").mkdir()
    (tmp_path / "3" / "a.png").write_text("nope")
    with pytest.raises(UserError, match="no usable labelled image.*1 file"):
        load_folder(tmp_path)


def test_images_are_preprocessed_once_per_process(tmp_path, monkeypatch):
    root = class_folders(tmp_path / "set", per_class=1)
    calls = []
    import cnn.vision.pipeline

    real = cnn.vision.pipeline.preprocess_file
    monkeypatch.setattr(cnn.vision.pipeline, "preprocess_file",
                        lambda path, polarity="auto": calls.append(path) or real(path, polarity))
    first = load_folder(root)
    second = load_folder(root)
    assert len(calls) == 10
    np.testing.assert_array_equal(first.images, second.images)


def test_mixing_mnist_and_a_folder_holds_out_a_tenth_per_class_and_repeats(tmp_path):
    root = class_folders(tmp_path / "set", per_class=5, noise=10)
    td = load_training_sources([str(SUBSET), str(root)], limit=500, repeat=3,
                               report=lambda line: None)
    # MNIST: 500 -> 450 train + 50 validation; folder: 60 images, 0 digits held out (int(0.5)),
    # 1 noise image held out (a tenth of 10).
    assert len(td.x_val) == 50 + 1
    assert len(td.x_train) == 450 + 3 * 59
    assert td.num_classes == 11 and td.x_test is not None
    assert (td.y_train == NOISE_CLASS).sum() == 3 * 9
    assert td.folder_val is not None and td.folder_val[1].tolist() == [NOISE_CLASS]


def test_freeze_keeps_the_first_tokens_fixed_and_trains_the_rest(subset):
    from cnn.nn.optim import Adam
    from cnn.tasks.train import fit

    (x, y), _ = subset
    model = Sequential("C(4,5)-P2-C(8,3)-P2-FC10", np.random.default_rng(0))
    before = model.state_dict()
    slots = trainable_parameters(model, freeze=3)
    assert {id(m) for m, _ in slots} == {id(model.blocks[4].fc)}
    opt = Adam(slots, 1e-3)
    fit(model, x[:256], y[:256], optimizer=opt, rng=np.random.default_rng(1), progress=False)
    after = model.state_dict()
    for key in ("1.conv.weight", "1.conv.bias", "3.conv.weight", "3.conv.bias"):
        np.testing.assert_array_equal(after[key], before[key])
    assert not np.allclose(after["5.fc.weight"], before["5.fc.weight"])
    assert len(trainable_parameters(model, 0)) == len(model.parameters())
    with pytest.raises(UserError, match="--freeze 5 must be between 0 and 4"):
        trainable_parameters(model, 5)


def test_widening_to_a_noise_class_keeps_the_digit_logits():
    model = Sequential(SMALL, np.random.default_rng(0))
    wide = with_classes(model, 11, np.random.default_rng(1))
    x = np.random.default_rng(2).random((5, 28, 28)).astype(np.float32)
    assert wide.model_string == "C(4,5)-P2-FC11"
    np.testing.assert_allclose(wide.logits(x)[:, :10], model.logits(x), rtol=1e-6, atol=1e-6)


def test_cli_trains_on_a_folder_then_fine_tunes_with_init_and_freeze(tmp_path, capsys):
    root = class_folders(tmp_path / "set", per_class=5, noise=10)
    out1, out2 = tmp_path / "a.npz", tmp_path / "b.npz"
    assert main(["train", "--model", "C(4,5)-P2-FC11", "--data", str(SUBSET), "--data",
                 str(root), "--limit", "300", "--out", str(out1), "--no-plot", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "set: 60 images (0: 5, 1: 5" in text and "noise: 10" in text
    first = load_model(out1, num_classes=None)
    assert main(["train", "--init", str(out1), "--freeze", "1", "--data", str(SUBSET), "--data",
                 str(root), "--limit", "300", "--repeat", "2", "--lr", "1e-4", "--out",
                 str(out2), "--no-plot", "--quiet"]) == 0
    second = load_model(out2, num_classes=None)
    assert second.metadata["init"] == str(out1) and second.metadata["freeze"] == 1
    assert second.metadata["classes"] == 11 and "folder" in second.metadata["data"]
    a, b = first.state_dict(), second.state_dict()
    np.testing.assert_array_equal(a["1.conv.weight"], b["1.conv.weight"])
    assert not np.array_equal(a["3.fc.weight"], b["3.fc.weight"])


def test_cli_init_adds_a_noise_class_to_a_ten_class_model(tmp_path, capsys):
    root = class_folders(tmp_path / "set", per_class=2, noise=4)
    out1, out2 = tmp_path / "a.npz", tmp_path / "b.npz"
    assert main(["train", "--model", SMALL, "--data", str(SUBSET), "--limit", "200",
                 "--out", str(out1), "--no-plot", "--quiet"]) == 0
    assert main(["train", "--init", str(out1), "--data", str(SUBSET), "--data", str(root),
                 "--limit", "200", "--out", str(out2), "--no-plot", "--quiet"]) == 0
    assert load_model(out2, num_classes=None).model_string == "C(4,5)-P2-FC11"


def test_cli_folder_with_noise_needs_an_eleven_class_model(tmp_path, capsys):
    root = class_folders(tmp_path / "set", per_class=1, noise=2)
    status = main(["train", "--model", SMALL, "--data", str(SUBSET), "--data", str(root),
                   "--out", str(tmp_path / "x.npz")])
    err = capsys.readouterr().err
    assert status != 0 and "should be FC11" in err and "Traceback" not in err


def test_cli_a_folder_too_small_to_hold_out_says_so(tmp_path, capsys):
    root = class_folders(tmp_path / "set", per_class=2)
    assert main(["train", "--model", SMALL, "--data", str(root)]) != 0
    assert "no class of" in capsys.readouterr().err


def test_cli_needs_a_model_or_init(capsys):
    assert main(["train", "--data", str(SUBSET)]) != 0
    assert "give --model STR" in capsys.readouterr().err


def test_evaluate_scores_a_folder_per_class_with_rejections(tmp_path, capsys):
    root = class_folders(tmp_path / "set", per_class=3, noise=4)
    model = Sequential("C(4,5)-P2-FC11", np.random.default_rng(0), num_classes=11)
    model.blocks[-1].fc.params["bias"][10] = 50.0  # rejects everything
    from cnn.io.weights import save_model

    weights = save_model(model, tmp_path / "m.npz")
    assert main(["evaluate", "--weights", str(weights), "--data", str(root), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 30 and len(report["confusion_matrix"]) == 10
    assert report["non_digits"] == 4 and report["non_digit_rejection_rate"] == 1.0
    assert report["digit_rejection_rate"] == 1.0
    assert report["accuracy_with_rejection"] == pytest.approx(4 / 34)


def test_the_folder_cache_is_keyed_by_modification(tmp_path):
    root = class_folders(tmp_path / "set", per_class=1)
    load_folder(root)
    n = len(folders._CACHE)
    target = next((root / "3").iterdir())
    shutil.copy(IMAGES / "8_1.jpg", target)
    load_folder(root)
    assert len(folders._CACHE) == n + 1


def test_a_long_list_of_skipped_files_is_cut_with_a_count(tmp_path, monkeypatch):
    root = class_folders(tmp_path / "set", per_class=1)
    for k in range(3):
        (root / "2" / f"bad{k}.png").write_text("nope")
    monkeypatch.setattr(folders, "LISTED", 1)
    lines = load_folder(root).describe()
    assert "skipped 3 file(s)" in lines[1] and lines[-1] == "  ... and 2 more"
