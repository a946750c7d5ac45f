"""``cnn evaluate`` end to end: the shipped models meet the accuracies issue 3 asks for on the
10,000 MNIST test images, and the JSON report and plots are what the help promises."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import full_mnist_path

from cnn.cli import main
from cnn.io.catalog import list_weights

ROOT = Path(__file__).resolve().parents[1]
SUBSET = ROOT / "tests" / "data" / "mnist_subset.npz"
TARGETS = {  # top-1 each shipped model must reach (issue 3)
    "C(8,5)-P2-C(16,3)-P2-FC128-FC10": 0.990,
    "C(8,5)-P2-C(16,3)-P2-C(32,3)-P2-FC256-FC10": 0.990,
    "C(16,3)-P2-C(32,3)-P2-C(64,3)-P2-FC512-FC10": 0.993,
    # ResNet-lite: issue 15 asks for 0.996 (the default file reaches 0.9967, see README)
    "C(16,3,same)-BN-R(16)-R(32,s2)-R(64,s2)-GAP-FC10": 0.996,
}
# model string -> the shipped file with the highest recorded top-1 (sorted up: the best wins)
SHIPPED = {w.model: w.path for w in sorted(list_weights(ROOT / "weight_output"),
                                           key=lambda w: w.accuracy or 0.0)}


@pytest.mark.slow  # 5-8 s a model on the full test set; CI runs it (.ci/run: -m slow)
@pytest.mark.parametrize("model", list(TARGETS))
def test_shipped_model_meets_its_accuracy_on_the_full_test_set(model, capsys):
    data = full_mnist_path()
    if data is None:
        pytest.skip("full MNIST not found: set CNN_MNIST_DATA")
    assert model in SHIPPED, f"weight_output/ should ship {model}"
    assert Path(SHIPPED[model]).stat().st_size < 2 * 1024 * 1024
    assert main(["evaluate", "--weights", str(SHIPPED[model]), "--data", str(data), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 10000
    assert report["accuracy"] >= TARGETS[model]
    assert report["errors"] == round((1 - report["accuracy"]) * 10000)


def test_json_report_is_consistent_and_plots_are_written(tmp_path, capsys):
    weights = SHIPPED.get("C(8,5)-P2-C(16,3)-P2-FC128-FC10")
    if weights is None:
        pytest.skip("no shipped small model")
    status = main(["evaluate", "--weights", str(weights), "--data", str(SUBSET), "--json",
                   "--plots", str(tmp_path)])
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert status == 0
    matrix = np.array(report["confusion_matrix"])
    assert matrix.shape == (10, 10) and matrix.sum() == report["n"] == 1000
    assert np.trace(matrix) == report["n"] - report["errors"]
    assert report["accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum())
    precision = np.diag(matrix) / matrix.sum(axis=0)
    recall = np.diag(matrix) / matrix.sum(axis=1)
    assert report["macro_precision"] == pytest.approx(precision.mean())
    assert report["macro_recall"] == pytest.approx(recall.mean())
    assert report["seconds"] > 0
    for name in ("confusion_matrix.png", "misclassified.png"):
        image = cv2.imread(str(tmp_path / name))
        assert image is not None and image.size > 0


def test_weights_of_another_model_are_one_line_naming_the_array(tmp_path, capsys):
    weights = SHIPPED.get("C(8,5)-P2-C(16,3)-P2-FC128-FC10")
    if weights is None:
        pytest.skip("no shipped small model")
    wrong = tmp_path / "weight_detailsC(8,5)-P2-C(16,3)-P2-FC64-FC10.npz"
    with np.load(weights, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files if k not in ("model", "metadata")}
    np.savez(wrong, **arrays)  # a reference-style file whose name promises FC64
    assert main(["evaluate", "--weights", str(wrong), "--data", str(SUBSET)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cnn: error: ") and "weight_5" in err[0]
