"""The robust training recipe: augmentation, photo renderings, temperature scaling."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cnn.data.augment import AUGMENT_RECIPES, AUGMENTATIONS, robust_batch
from cnn.data.photo_render import render_photo, render_through_pipeline
from cnn.errors import UserError
from cnn.nn.losses import softmax
from cnn.nn.model import Sequential
from cnn.tasks.calibrate import (
    expected_calibration_error,
    fit_temperature,
    fold_temperature,
    uncertainty_ratio,
)


def test_robust_batch_keeps_shape_dtype_and_is_reproducible(subset):
    (x, _), _ = subset
    a = robust_batch(x[:64], np.random.default_rng(3))
    b = robust_batch(x[:64], np.random.default_rng(3))
    assert a.shape == (64, 28, 28) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert (a != x[:64]).any(axis=(1, 2)).mean() > 0.9  # nearly every digit changed


def test_robust_batch_clean_share_adds_no_background():
    blank = np.zeros((200, 28, 28), np.uint8)
    clean = robust_batch(blank, np.random.default_rng(0), clean=1.0)
    assert clean.max() == 0  # geometry and stroke changes alone keep a blank image blank
    damaged = robust_batch(blank, np.random.default_rng(0), clean=0.0)
    # offsets, background fields, lines, specks, noise: many blank images are no longer blank
    assert (damaged.max(axis=(1, 2)) > 20).mean() > 0.5


def test_robust_batch_keeps_the_digit_in_the_frame(subset):
    (x, _), _ = subset
    out = robust_batch(x[:256], np.random.default_rng(1), clean=1.0).astype(np.float64)
    mass = out.sum(axis=(1, 2))
    assert (mass > 0.3 * x[:256].sum(axis=(1, 2))).all()  # no digit warped out of view
    yy = (out.sum(axis=2) * np.arange(28)).sum(axis=1) / mass
    assert np.abs(yy - 14).max() < 7


def test_augmentations_have_recorded_recipes():
    assert set(AUGMENTATIONS) == set(AUGMENT_RECIPES) == {"basic", "robust"}


def test_render_photo_is_dark_ink_on_lighter_paper(subset):
    (x, _), _ = subset
    photo = render_photo(x[0], np.random.default_rng(0))
    assert photo.dtype == np.uint8 and 56 <= photo.shape[0] <= 168 * 4 // 3 + 1
    assert np.median(photo) > np.percentile(photo, 1) + 30  # paper lighter than the ink


def test_rendered_digits_stay_readable(subset):
    from cnn.io.catalog import default_weights
    from cnn.io.weights import load_model

    (x, y), _ = subset
    out = render_through_pipeline(x[:40], np.random.default_rng(5))
    assert out.shape == (40, 28, 28) and out.dtype == np.uint8
    model = load_model(default_weights())
    right = (model.predict_proba(out).argmax(axis=1) == y[:40]).mean()
    assert right >= 0.85  # the renderer changes the look, not the digit


def test_ece_is_small_for_calibrated_and_large_for_overconfident_answers():
    rng = np.random.default_rng(0)
    n = 20000
    conf = rng.uniform(0.1, 1.0, n)
    labels = np.zeros(n, int)
    correct = rng.random(n) < conf
    probs = np.zeros((n, 10))
    probs[:, 0] = np.where(correct, conf, 0.0)
    probs[:, 1] = np.where(correct, 1 - conf, conf)  # wrong: class 1 gets the top share
    probs[~correct, 0] = 1 - conf[~correct]
    assert expected_calibration_error(probs, labels) < 0.02
    sure = np.zeros((n, 10))
    sure[np.arange(n), np.where(correct, 0, 1)] = 1.0  # always 100 % sure, right at mean(conf)
    assert expected_calibration_error(sure, labels) > 0.3


def test_fit_temperature_recovers_a_known_temperature():
    rng = np.random.default_rng(1)
    z = rng.normal(0, 3, (5000, 10))
    labels = np.array([rng.choice(10, p=p) for p in softmax(z)])
    t = fit_temperature(z * 2.5, labels)  # logits 2.5x too sharp
    assert abs(t - 2.5) / 2.5 < 0.1


def test_fold_temperature_divides_the_logits_and_keeps_the_argmax(subset):
    (x, _), _ = subset
    model = Sequential("C(4,3)-P2-FC10", np.random.default_rng(0))
    model.metadata = {}
    model.eval()
    before = model.logits(x[:20])
    fold_temperature(model, 0.5)
    after = model.logits(x[:20])
    np.testing.assert_allclose(after, before / 0.5, rtol=1e-4, atol=1e-4)
    assert model.metadata["temperature"] == 0.5


def test_uncertainty_ratio_counts_flagged_errors():
    probs = np.array([[0.4, 0.35, 0.25] + [0] * 7, [0.9, 0.1] + [0] * 8, [0.95, 0.05] + [0] * 8,
                      [0.3, 0.7] + [0] * 8])
    r = uncertainty_ratio(probs, np.array([1, 0, 0, 0]))
    assert r["flagged"] == 1 and r["error_flagged"] == 1.0 and r["error_rest"] == 1 / 3


@pytest.mark.slow  # end to end; CI runs it (.ci/run: -m slow)
def test_train_robust_and_calibrate_records_the_recipe(tmp_path, subset):
    from cnn.cli.commands.train import train_and_save

    data = tmp_path / "mnist.npz"
    (x, y), (xt, yt) = subset
    np.savez(data, x_train=x, y_train=y, x_test=xt, y_test=yt)
    out = tmp_path / "w.npz"
    result = train_and_save("C(4,5)-P2-FC10", epochs=1, data=str(data), validation=300,
                            augment="robust", photos=50, calibrate=True, out=str(out),
                            plot=False, quiet=True)
    with np.load(result["weights"]) as f:
        meta = json.loads(str(f["metadata"]))
    assert meta["augment"] == "robust" and meta["augment_recipe"].startswith("robust:")
    assert meta["photo_renderings"] == 50 and meta["train_images"] == len(x) - 300 + 50
    assert meta["temperature"] > 0 and meta["ece_validation_after"] <= \
        meta["ece_validation_before"] + 1e-9


def test_calibrate_without_validation_is_refused(tmp_path, subset):
    from cnn.cli.commands.train import train_and_save

    data = tmp_path / "mnist.npz"
    (x, y), (xt, yt) = subset
    np.savez(data, x_train=x, y_train=y, x_test=xt, y_test=yt)
    with pytest.raises(UserError, match="--calibrate needs held-out images"):
        train_and_save("C(4,5)-P2-FC10", data=str(data), validation=0, calibrate=True,
                       out=str(tmp_path / "w.npz"), plot=False, quiet=True)


def test_calibrate_gate_turns_away_the_chosen_share_of_validation_digits(subset):
    from cnn.tasks.calibrate import calibrate_gate

    (x, y), _ = subset
    gate = Sequential("C(4,5)-P2-FC11", np.random.default_rng(0), num_classes=11)
    gate.metadata = {}
    cal = calibrate_gate(gate, x[:300], y[:300], np.random.default_rng(0), photos=30,
                         rate=0.05)
    assert cal["n"] == 630 and abs(cal["rejected"] - 0.05) < 0.02
    assert gate.metadata["reject_threshold"] == round(cal["threshold"], 4)
    with pytest.raises(ValueError, match="a gate gives 11"):
        calibrate_gate(Sequential("C(4,5)-P2-FC10", np.random.default_rng(0)), x[:10], y[:10],
                       np.random.default_rng(0))


def test_calibrate_weights_script_refuses_a_file_without_validation_split(tmp_path):
    import subprocess
    import sys

    from cnn.io.weights import save_model

    model = Sequential("C(4,5)-P2-FC10", np.random.default_rng(0))
    model.metadata = {"validation_images": 0}
    path = save_model(model, tmp_path / "w.npz")
    done = subprocess.run([sys.executable, "scripts/calibrate_weights.py", str(path), "--out",
                           str(tmp_path / "c.npz")], check=False, capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "needs a file trained with a validation split" in done.stderr
    assert not (tmp_path / "c.npz").exists()


def test_a_28_by_28_input_is_offered_to_the_network_as_it_is(subset):
    from cnn.vision.pipeline import to_mnist

    (x, _), _ = subset
    grey = (60 + x[7].astype(np.float32) * (195 / 255)).astype(np.uint8)  # white on grey
    even = to_mnist(grey, choose=lambda batch: np.full(len(batch), 0.5))
    np.testing.assert_allclose(even, grey / 255.0, atol=1e-6)  # equal scores: as it is wins
    segmented = to_mnist(grey)  # no scorer: the first segmented candidate, as before
    assert segmented.min() == 0.0 and not np.allclose(segmented, grey / 255.0, atol=0.05)
    big = cv2_resize(grey, 56)
    out = to_mnist(big, choose=lambda batch: np.full(len(batch), 0.5))
    assert out.min() == 0.0  # larger images are always segmented


def test_a_28_by_28_input_whose_light_part_is_half_of_it_is_offered_as_it_is(subset):
    # MNIST-C's "stripe" (Mu & Gilmer 2019) inverts the 7 columns at either side: half the
    # picture is light, so its median is the light level, and a contrast measured from the
    # median said the picture had no ink; it is measured from the darker quarter now, when
    # that quarter is flat as MNIST's background is.
    from cnn.vision.pipeline import _mnist_like, to_mnist

    (x, _), _ = subset
    striped = x[7].copy()
    striped[:, :7] = 255 - striped[:, :7]
    striped[:, 21:] = 255 - striped[:, 21:]
    assert np.median(striped) > 240  # the case: the light part is half or more

    def prefer_as_it_is(batch):
        return np.array([1.0 if np.allclose(c, striped / 255.0, atol=1e-6) else 0.1
                         for c in batch])

    out = to_mnist(striped, choose=prefer_as_it_is)
    np.testing.assert_allclose(out, striped / 255.0, atol=1e-6)
    # the same with an uneven dark part (a photo of paper reduced to 28 x 28): not offered
    uneven = striped.astype(np.float32) / 255
    uneven[:, 7:21] = np.maximum(uneven[:, 7:21], np.linspace(0.0, 0.3, 28)[:, None])
    assert _mnist_like(striped.astype(np.float32) / 255) and not _mnist_like(uneven)
    blank = np.full((28, 28), 200, np.uint8)
    blank[10:14, 10:14] = 210  # faint: no ink worth offering as it is
    with pytest.raises(UserError):
        to_mnist(blank, choose=lambda batch: np.ones(len(batch)))


def cv2_resize(image, side):
    import cv2

    return cv2.resize(image, (side, side), interpolation=cv2.INTER_LINEAR)
