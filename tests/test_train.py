"""Training: it learns, it is reproducible, Ctrl-C keeps the last finished epoch."""

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, full_mnist_path

from cnn.data.augment import augment_batch
from cnn.io.weights import load_model
from cnn.nn.model import Sequential
from cnn.nn.optim import Adam
from cnn.tasks.train import evaluate, fit

TINY = "C(8,5)-P2-FC10"


def train_tiny(subset, epochs=2, seed=0, augment=None, model_string=TINY):
    (x, y), _ = subset
    rng = np.random.default_rng(seed)
    model = Sequential(model_string, rng)
    history = fit(model, x, y, optimizer=Adam(model.parameters(), 2e-3), rng=rng, epochs=epochs,
                  batch_size=32, augment=augment, progress=False)
    return model, history


def test_training_on_real_digits_beats_chance_by_far(subset):
    model, history = train_tiny(subset)
    _, (x_test, y_test) = subset
    assert evaluate(model, x_test, y_test)["accuracy"] > 0.85
    assert history.epochs[1]["loss"] < history.epochs[0]["loss"]


def test_same_seed_gives_identical_weights(subset):
    a, _ = train_tiny(subset, epochs=1, seed=3)
    b, _ = train_tiny(subset, epochs=1, seed=3)
    c, _ = train_tiny(subset, epochs=1, seed=4)
    np.testing.assert_array_equal(a.state_dict()["1.conv.weight"], b.state_dict()["1.conv.weight"])
    assert not np.array_equal(a.state_dict()["1.conv.weight"], c.state_dict()["1.conv.weight"])


@pytest.mark.parametrize("model_string", [TINY, "C(4,3,s2,same)-BN-R(8,s2)-D0.2-GAP-FC10"])
def test_ctrl_c_keeps_the_whole_state_of_the_last_finished_epoch(subset, model_string):
    # weights and batch-norm running statistics alike
    one_epoch, _ = train_tiny(subset, epochs=1, seed=5, model_string=model_string)
    calls = {"n": 0}
    batches_per_epoch = -(-len(subset[0][0]) // 32)

    def interrupt_in_epoch_two(batch, rng):
        calls["n"] += 1
        if calls["n"] == batches_per_epoch + 10:
            raise KeyboardInterrupt
        return batch

    model, history = train_tiny(subset, epochs=3, seed=5, augment=interrupt_in_epoch_two,
                                model_string=model_string)
    assert history.interrupted and len(history.epochs) == 1
    for key, value in one_epoch.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[key], value, err_msg=key)


def test_history_records_validation_and_learning_rate_decay(subset):
    (x, y), (xv, yv) = subset
    rng = np.random.default_rng(0)
    model = Sequential(TINY, rng)
    opt = Adam(model.parameters(), 1e-3)
    history = fit(model, x[:500], y[:500], optimizer=opt, rng=rng, epochs=2, lr_decay=0.5,
                  validation=(xv, yv), progress=False)
    assert [e["lr"] for e in history.epochs] == [1e-3, 5e-4]
    assert all(0 < e["val_accuracy"] <= 1 for e in history.epochs)


def test_a_small_residual_network_learns_real_digits_and_validates_in_eval_mode(subset):
    model, history = train_tiny(subset, epochs=2, model_string="C(8,3,s2,same)-BN-R(8)-FC10")
    _, (x_test, y_test) = subset
    assert model.training  # fit leaves the mode as training set it; evaluate restores it
    assert evaluate(model, x_test, y_test)["accuracy"] > 0.8 and model.training
    bn = model.block(2).bn
    assert not np.allclose(bn.buffers["running_mean"], 0)  # the running statistics moved
    a = evaluate(model, x_test[:100], y_test[:100])["predictions"]
    b = evaluate(model, x_test[:50], y_test[:50])["predictions"]
    np.testing.assert_array_equal(a[:50], b)  # eval mode: no batch statistics


def test_fine_tuning_starts_from_the_init_file_and_records_it(tmp_path):
    from cnn.cli.commands.train import train_and_save
    from cnn.errors import UserError

    data = ROOT / "tests/data/mnist_subset.npz"
    model = "C(4,3,s2,same)-BN-R(8)-GAP-FC10"
    first = train_and_save(model, epochs=1, validation=200, data=data, plot=False, quiet=True,
                           out=tmp_path / "a.npz")
    start = load_model(first["weights"])
    tuned = train_and_save(None, init=first["weights"], epochs=1, lr=1e-6, validation=200,
                           data=data, plot=False, quiet=True, out=tmp_path / "b.npz")
    after = load_model(tuned["weights"])
    assert after.model_string == start.model_string and after.metadata["init"].endswith("a.npz")
    for name, owner, key in start.named_slots():  # a tiny lr: the weights barely move
        np.testing.assert_allclose(after.state_dict()[name], owner.state_dict()[key],
                                   atol=1e-3, err_msg=name)
    with pytest.raises(UserError, match="differs from the --init file's model"):
        train_and_save("C(8,5)-P2-FC10", init=first["weights"], data=data, quiet=True)


def test_augmentation_keeps_shape_dtype_and_label_but_changes_pixels(subset):
    (x, _), _ = subset
    out = augment_batch(x[:64], np.random.default_rng(0))
    assert out.shape == (64, 28, 28) and out.dtype == np.uint8
    assert not np.array_equal(out, x[:64])
    # ink mass stays within a factor (no digit erased or flooded)
    ratio = out.reshape(64, -1).sum(1) / x[:64].reshape(64, -1).sum(1)
    assert np.all((ratio > 0.5) & (ratio < 2.0))


def test_cli_train_writes_weights_curve_and_never_overwrites(tmp_path):
    out = tmp_path / "tiny.npz"
    out.write_bytes(b"keep me")
    cmd = [sys.executable, "-m", "cnn", "train", "--model", TINY, "--epochs", "1", "--limit", "1500",
           "--validation", "300", "--data", str(ROOT / "tests/data/mnist_subset.npz"),
           "--out", str(out), "--quiet"]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == b"keep me"
    written = tmp_path / "tiny_1.npz"
    assert f"weights saved to {written}" in result.stdout
    assert "test top-1 accuracy" in result.stdout and "s/epoch" in result.stdout
    assert (tmp_path / "tiny_1_loss.png").stat().st_size > 1000
    meta = load_model(written).metadata
    assert meta["epochs"] == 1 and meta["batch_size"] == 64 and meta["seed"] == 0
    assert meta["train_images"] == 1200 and 0 < meta["accuracy"] <= 1


@pytest.mark.slow
def test_one_epoch_of_the_small_model_on_full_mnist_reaches_98_2_percent(tmp_path):
    # the default recipe (onecycle, peak 3e-3) gives 98.45-98.54% over seeds 0-2; the old
    # default gave 97.61%, and issue 17 asks that this figure not fall
    data = full_mnist_path()
    if data is None:
        pytest.skip("full MNIST not found")
    out = tmp_path / "small.npz"
    cmd = [sys.executable, "-m", "cnn", "train", "--model", "C(8,5)-P2-C(16,3)-P2-FC128-FC10",
           "--epochs", "1", "--data", str(data), "--out", str(out), "--quiet"]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    evaluation = subprocess.run([sys.executable, "-m", "cnn", "evaluate", "--weights", str(out),
                                 "--data", str(data), "--json"], capture_output=True, text=True)
    report = json.loads(evaluation.stdout)
    assert report["n"] == 10000 and report["accuracy"] >= 0.982
