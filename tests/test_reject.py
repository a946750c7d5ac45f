"""'Not a digit' (``cnn.tasks.reject``): the rule, predict's and evaluate's reports, and the shipped
gate on real digits and on generated non-digits."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import load_script

from cnn.cli import main
from cnn.errors import UserError
from cnn.io.catalog import shipped_gate_threshold
from cnn.io.weights import save_model
from cnn.nn.model import Sequential
from cnn.tasks.ensemble import expand_weights
from cnn.tasks.reject import (
    Rejector,
    find_gate,
    find_gates,
    find_line_gate,
    is_line_gate,
    rejection_report,
    split_not_digit,
)

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "custom_test_images"
GATE = find_gate()
needs_gate = pytest.mark.skipif(GATE is None, reason="no gate in weight_output/reject/")


def eleven_class_file(tmp_path, bias: float) -> Path:
    """An 11-class network whose class-10 logit is pushed by ``bias``."""
    model = Sequential("C(4,5)-P2-FC11", np.random.default_rng(0), num_classes=11)
    model.blocks[-1].fc.params["bias"][10] = bias
    return save_model(model, tmp_path / f"m{bias}.npz")


def predict_json(args, capsys):
    status = main(["predict", "--json", *args])
    out = capsys.readouterr().out
    return status, json.loads(out)


def test_split_not_digit_renormalises_the_ten_digits():
    p = np.array([[0.1] * 5 + [0.0] * 5 + [0.5]], np.float32)
    digits, not_digit = split_not_digit(p)
    np.testing.assert_allclose(digits.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(digits[0, :5], 0.2, rtol=1e-6)
    assert not_digit.tolist() == [0.5]
    same, none = split_not_digit(p[:, :10])
    assert none is None and same is not None


def test_rejection_report_counts_both_kinds_of_mistake():
    rejected = np.array([True, False, True, False])
    labels = np.array([3, 4, 10, 10])
    digits = np.array([3, 4, 1, 2])
    r = rejection_report(rejected, labels, digits)
    assert r["digit_rejection_rate"] == 0.5 and r["non_digit_rejection_rate"] == 0.5
    assert r["accuracy_with_rejection"] == 0.5  # 4 right, 10 right; 3 rejected, 10 answered


def test_an_eleven_class_model_rejects_with_digit_null_and_a_reason(tmp_path, capsys):
    weights = eleven_class_file(tmp_path, 50.0)
    status, result = predict_json([str(IMAGES / "7_1.jpg"), "--weights", str(weights)], capsys)
    p = result["predictions"][0]
    assert status == 0 and result["rejected"] == 1
    assert p["digit"] is None and p["rejected"] is True and "not a digit" in p["reason"]
    assert p["not_digit"] == pytest.approx(1.0) and len(p["probabilities"]) == 10
    assert result["accuracy"] == 0.0  # a rejected digit counts wrong


def test_the_threshold_option_moves_the_decision(tmp_path, capsys):
    weights = eleven_class_file(tmp_path, 2.0)
    args = [str(IMAGES / "7_1.jpg"), "--weights", str(weights)]
    _, low = predict_json(args + ["--reject-threshold", "0.01"], capsys)
    p_not = low["predictions"][0]["not_digit"]
    assert 0.01 < p_not < 0.99 and low["predictions"][0]["rejected"]
    _, high = predict_json(args + ["--reject-threshold", "0.99"], capsys)
    assert not high["predictions"][0]["rejected"] and high["predictions"][0]["digit"] is not None
    _, off = predict_json([str(IMAGES / "7_1.jpg"), "--weights",
                           str(eleven_class_file(tmp_path, 50.0)), "--no-reject"], capsys)
    assert off["predictions"][0]["digit"] in range(10) and off["rejected"] == 0


@pytest.mark.parametrize("bad", ["0", "1.5", "x"])
def test_a_threshold_outside_0_1_is_a_usage_error(bad, capsys):
    with pytest.raises(SystemExit) as e:
        main(["predict", "--reject-threshold", bad])
    assert e.value.code == 2 and "expected a number in (0, 1]" in capsys.readouterr().err


def test_a_blank_page_is_rejected_and_a_broken_file_is_an_error(tmp_path, capsys):
    cv2.imwrite(str(tmp_path / "blank.png"), np.full((200, 200), 230, np.uint8))
    (tmp_path / "broken.png").write_text("not an image")
    status, result = predict_json([str(tmp_path)], capsys)
    by_name = {Path(p["file"]).name: p for p in result["predictions"]}
    assert by_name["blank.png"]["rejected"] and by_name["blank.png"]["error"] is None
    assert "no digit found" in by_name["blank.png"]["reason"]
    assert by_name["broken.png"]["error"] and not by_name["broken.png"]["rejected"]
    assert status == 1


def test_a_gate_must_have_eleven_classes(tmp_path, capsys):
    ten = save_model(Sequential("C(4,5)-P2-FC10", np.random.default_rng(0)), tmp_path / "t.npz")
    assert main(["predict", str(IMAGES / "7_1.jpg"), "--reject-weights", str(ten)]) == 2
    assert "ends in FC11" in capsys.readouterr().err


def test_the_gate_folder_is_not_part_of_the_weights_ensemble(tmp_path):
    folder = tmp_path / "weight_output"
    (folder / "reject").mkdir(parents=True)
    ten = save_model(Sequential("C(4,5)-P2-FC10", np.random.default_rng(0)), folder / "a.npz")
    eleven_class_file(folder / "reject", 1.0)
    assert expand_weights([folder]) == [ten]


def test_several_gates_decide_by_the_mean_of_their_not_a_digit_probability(tmp_path):
    sure, unsure = eleven_class_file(tmp_path, 50.0), eleven_class_file(tmp_path, -1.0)
    images = np.random.default_rng(1).random((5, 28, 28)).astype(np.float32)
    one = [Rejector.default(0.5, w).not_digit_probability(images, np.zeros((5, 10)))
           for w in (sure, unsure)]
    both = Rejector.default(0.6, [sure, unsure])
    p = both.not_digit_probability(images, np.zeros((5, 10), np.float32))
    np.testing.assert_allclose(p, (one[0] + one[1]) / 2, rtol=1e-5)
    assert one[0].min() > 0.99 and one[1].max() < 0.5 < p.min()  # the mean, not either alone
    rejected, _ = both.judge(images, np.zeros((5, 10), np.float32))
    assert rejected.tolist() == (p >= 0.6).tolist()
    assert "the mean of 2 gates" in both.describe()


def test_several_gates_of_ones_own_need_a_threshold(tmp_path, capsys):
    a, b = eleven_class_file(tmp_path, 1.0), eleven_class_file(tmp_path, 2.0)
    with pytest.raises(UserError, match="--reject-threshold"):
        Rejector.default(None, [a, b])
    args = ["predict", str(IMAGES / "7_1.jpg"), "--reject-weights", str(a),
            "--reject-weights", str(b)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "2 rejection gates" in err and len(err.strip().splitlines()) == 1
    assert main(["predict", "--json", *args[1:], "--reject-threshold", "0.99"]) == 0
    assert json.loads(capsys.readouterr().out)["predictions"][0]["digit"] is not None


@needs_gate
def test_the_shipped_gates_decide_together_at_the_manifests_threshold():
    gates = find_gates()
    rejector = Rejector.default()
    assert len(gates) == 2  # weight_output/shipped.json: two gates, trained on other negatives
    assert rejector.threshold == shipped_gate_threshold()
    assert [Path(n) for n in rejector.gate.names] == gates
    assert rejector.gate.num_classes == 11
    # the same files, in another order and named relative to the working folder: the same pair
    relative = [Path(os.path.relpath(g)) for g in reversed(gates)]
    assert Rejector.default(None, relative).threshold == shipped_gate_threshold()


def make_non_digits(out: Path, seed: int, per_kind: int, style: str = "a") -> None:
    module = load_script(ROOT / "scripts" / "make_non_digits.py", "mnd")
    assert module.main(["--out", str(out), "--seed", str(seed), "--per-kind", str(per_kind),
                        "--style", style]) == 0


@needs_gate
def test_the_shipped_gate_rejects_none_of_the_sample_digits(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    _, result = predict_json([], capsys)
    assert result["rejected"] == 0
    assert result["accuracy"] >= 0.97


@pytest.mark.slow  # end to end; CI runs it (.ci/run: -m slow)
@needs_gate
def test_the_shipped_gate_rejects_generated_non_digits(tmp_path, capsys):
    # A seed and style never used for training the gate (README "Not a digit").
    make_non_digits(tmp_path / "nd", seed=4242, per_kind=6, style="b")
    capsys.readouterr()
    _, result = predict_json([str(tmp_path / "nd")], capsys)
    n = len(result["predictions"])
    assert n == 48 and result["rejected"] / n >= 0.85  # 92-93 % on 640-image sets (README)


@needs_gate
def test_the_line_gate_tells_pairs_of_digits_from_one_digit(subset):
    # Strings and pairs of MNIST *test* digits, normalised together as the number reader
    # normalises a whole line (drawn as make_gate_negatives.py draws the line gate's training
    # strings and pairs of training digits; 30 % of the pairs overlaid, which often looks like
    # one digit).
    negatives = load_script(ROOT / "scripts" / "make_gate_negatives.py", "mgn")
    _, (x_test, y_test) = subset
    strings, pairs = (negatives.make_negatives(kind, 200, np.random.default_rng(3), x_test,
                                               mnist_labels=y_test)
                      for kind in ("strings", "pairs"))
    rejector = Rejector.default()
    assert find_line_gate() is not None and rejector.line_gate is not None
    several = rejector.several_probability(strings.astype(np.float32) / 255)
    one = rejector.several_probability(x_test.astype(np.float32) / 255)
    assert several.shape == (200,) and one.shape == (len(x_test),)
    assert (several > 0.5).mean() >= 0.85  # 93.5 %
    assert (rejector.several_probability(pairs.astype(np.float32) / 255) > 0.5).mean() >= 0.6
    assert (one > 0.5).mean() <= 0.01  # 0.2 % of the 1,000 test digits
    # It rejects nothing: "not a digit" is the gates' alone, on pairs as on digits.
    images = np.concatenate([pairs, x_test[:100]]).astype(np.float32) / 255
    raw = np.zeros((len(images), 10), np.float32)
    with_line, p_with = rejector.judge(images, raw)
    without, p_without = replace(rejector, line_gate=None).judge(images, raw)
    np.testing.assert_array_equal(with_line, without)
    np.testing.assert_array_equal(p_with, p_without)
    assert Rejector(None).several_probability(pairs[:3]) is None
    assert rejector.describe().endswith("; the number reader's line gate on")


@needs_gate
def test_the_line_gate_is_not_a_not_a_digit_gate(tmp_path, capsys, monkeypatch):
    line = find_line_gate()
    assert is_line_gate(line) and not any(is_line_gate(g) for g in find_gates())
    with pytest.raises(UserError, match="line gate"):
        Rejector.default(0.5, [line])
    assert main(["predict", str(IMAGES), "--reject-weights", str(line),
                 "--reject-threshold", "0.5"]) != 0
    assert "line gate" in capsys.readouterr().err
    # A folder of one's own gates: the fallback takes a gate, never a line gate (its name
    # sorts first here).
    folder = tmp_path / "weight_output" / "reject"
    folder.mkdir(parents=True)
    (folder / "a_line.npz").write_bytes(line.read_bytes())
    gate = eleven_class_file(folder, 0.0)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("cnn.io.catalog.shipped_files", lambda *roles: [])
    assert find_gates() == [gate]


@needs_gate
def test_the_shipped_gate_wrongly_rejects_at_most_one_percent_of_mnist_test(full_mnist):
    rejector = Rejector.default()
    (_, _), (x_test, _) = full_mnist
    rejected, p = rejector.judge(x_test, np.zeros((len(x_test), 10), np.float32))
    assert rejected.mean() <= 0.01
    assert p.shape == (10000,)


@pytest.mark.slow  # the classifier and both gates on the full test set; CI runs it
@needs_gate
def test_evaluate_reports_the_rejection_rate_beside_top1(full_mnist, capsys):
    assert main(["evaluate", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["accuracy"] >= 0.99
    assert 0 <= report["digit_rejection_rate"] <= 0.01
    assert report["accuracy_with_rejection"] == pytest.approx(
        report["accuracy"] - report["digit_rejection_rate"], abs=0.01)
    assert report["reject_threshold"] == Rejector.default().threshold
