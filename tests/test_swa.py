"""Stochastic weight averaging: the cyclical schedule, the running mean of the weights, the
batch-norm statistics recomputed for them (against PyTorch's ``update_bn`` where torch is
installed) and ``cnn train --swa`` end to end."""

from pathlib import Path

import numpy as np
import pytest

from cnn.nn.batchnorm import BatchNorm
from cnn.nn.model import Sequential, to_input
from cnn.nn.schedule import make_schedule, swa_cycles
from cnn.tasks.swa import WeightAverage, update_batchnorm

SUBSET = Path(__file__).parent / "data" / "mnist_subset.npz"
MODEL = "C(4,3)-BN-GAP-FC10"


def test_swa_cycles_follow_the_run_then_fall_from_the_peak_every_epoch():
    before = make_schedule("cosine", 0.1, steps_per_epoch=10, epochs=2)
    lr = swa_cycles(before, start=20, steps_per_epoch=10, swa_lr=0.01)
    assert [lr(s) for s in range(20)] == [before(s) for s in range(20)]
    cycle = [lr(s) for s in range(20, 30)]
    assert cycle[0] == pytest.approx(0.01)
    assert all(a > b for a, b in zip(cycle, cycle[1:]))  # falls within the epoch
    assert 1e-4 < cycle[-1] < 0.001  # near a hundredth at the epoch's end
    assert [lr(s) for s in range(30, 40)] == pytest.approx(cycle)  # and again
    whole = swa_cycles(None, start=0, steps_per_epoch=10, swa_lr=0.01)
    assert [whole(s) for s in range(10)] == pytest.approx(cycle)


@pytest.mark.parametrize("args", [(None, 10, 10, 0.01), (None, 0, 0, 0.01),
                                  (None, 0, 10, 0.0), (None, -1, 10, 0.01),
                                  (lambda step: 0.1, 15, 10, 0.01)])
def test_swa_cycles_refuse_bad_arguments(args):
    with pytest.raises(ValueError):
        swa_cycles(*args)


def _models(n):
    return [Sequential(MODEL, np.random.default_rng(seed)) for seed in range(n)]


def test_weight_average_is_the_mean_of_the_parameters_and_leaves_buffers_alone():
    models = _models(3)
    for seed, m in enumerate(models):
        norm = next(x for x in m.modules() if isinstance(x, BatchNorm))
        norm.buffers["running_mean"] = np.full(4, seed, np.float32)
    average = WeightAverage()
    for m in models:
        average.update(m)
    assert average.count == 3
    target = _models(1)[0]
    buffers = {k: v for k, v in target.state_dict().items() if "running" in k}
    average.apply(target)
    state = target.state_dict()
    for key, value in state.items():
        if "running" in key:
            np.testing.assert_array_equal(value, buffers[key])
        else:
            expected = np.mean([m.state_dict()[key] for m in models], axis=0)
            np.testing.assert_allclose(value, expected, rtol=1e-6, atol=1e-7)
            assert value.dtype == np.float32


def test_weight_average_refuses_nothing_averaged_and_another_model():
    with pytest.raises(ValueError, match="no weights"):
        WeightAverage().apply(_models(1)[0])
    average = WeightAverage()
    average.update(_models(1)[0])
    other = Sequential("C(8,3)-BN-GAP-FC10", np.random.default_rng(0))
    with pytest.raises(ValueError, match="do not match"):
        average.apply(other)
    with pytest.raises(ValueError, match="do not match"):
        average.update(other)
    assert average.count == 1


def _batch_norm_inputs(model, images, seed, batches):
    """The first convolution's outputs for the given batch sizes, in the order of a
    permutation drawn with ``seed`` (update_batchnorm's first draw)."""
    order = np.random.default_rng(seed).permutation(len(images))
    ends = np.cumsum(batches)
    assert ends[-1] == len(images)
    conv = model.block(1)
    return [conv.forward(to_input(images[order[b - n:b]], model.input_shape))
            for n, b in zip(batches, ends)]


@pytest.mark.parametrize("n, batch_size, sizes", [
    (10, 4, [4, 4, 2]), (9, 4, [4, 5]),  # a last batch of one image joins the one before
    (8, 8, [8])])
def test_update_batchnorm_gives_the_mean_of_the_batch_statistics(n, batch_size, sizes):
    images = np.random.default_rng(1).integers(0, 256, (n, 28, 28), dtype=np.uint8)
    model = _models(1)[0]
    norm = next(x for x in model.modules() if isinstance(x, BatchNorm))
    norm.buffers["running_mean"] += 5  # stale statistics are thrown away
    batches = _batch_norm_inputs(model, images, 7, sizes)
    count = update_batchnorm(model, images, np.random.default_rng(7), batch_size=batch_size)
    assert count == len(batches)
    means = [b.reshape(-1, 4).mean(axis=0) for b in batches]
    variances = [b.reshape(-1, 4).var(axis=0, ddof=1) for b in batches]
    np.testing.assert_allclose(norm.buffers["running_mean"], np.mean(means, axis=0),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(norm.buffers["running_var"], np.mean(variances, axis=0),
                               rtol=1e-5, atol=1e-6)
    assert norm.momentum == 0.1 and not model.training


def test_update_batchnorm_matches_torch_update_bn_on_a_resnet_lite():
    torch = pytest.importorskip("torch")
    from test_torch import torch_resnet_lite

    model_string = "C(8,3,same)-BN-P2-R(8)-R(16,s2)-D0.2-GAP-FC10"
    ours = Sequential(model_string, np.random.default_rng(5)).astype(np.float64)
    ours.block(6).drop.rate = 0.0  # dropout: identity, as in the torch forward below
    t = torch_resnet_lite().double()
    t.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()}, strict=False)

    class Forward(torch.nn.Module):  # the network as update_bn calls it: model(input)
        def __init__(self):
            super().__init__()
            self.t = t

        def forward(self, x):
            h = torch.relu(t["2"]["bn"](t["1"]["conv"](x)))
            h = torch.nn.functional.max_pool2d(h, 2, ceil_mode=True)
            return t["8"]["fc"](t["5"](t["4"](h)).mean(dim=(2, 3)))

    images = np.random.default_rng(2).integers(0, 256, (23, 28, 28), dtype=np.uint8)
    order = np.random.default_rng(3).permutation(len(images))
    loader = [torch.tensor(to_input(images[order[i:i + 5]]).astype(np.float64))
              .permute(0, 3, 1, 2) for i in range(0, 23, 5)]  # 5, 5, 5, 5, 3
    torch.optim.swa_utils.update_bn(loader, Forward())
    assert update_batchnorm(ours, images, np.random.default_rng(3), batch_size=5) == 5
    theirs = t.state_dict()
    running = [k for k in ours.state_dict() if "running" in k]
    assert len(running) == 12  # 6 batch norms: the stem, 2 per block, the s2 shortcut
    for key, value in ours.state_dict().items():
        if "running" in key:
            np.testing.assert_allclose(value, theirs[key].numpy(), rtol=1e-7, atol=1e-9,
                                       err_msg=key)


def test_update_batchnorm_refuses_no_images_and_tiny_batches():
    model = _models(1)[0]
    with pytest.raises(ValueError):
        update_batchnorm(model, np.zeros((0, 28, 28), np.uint8), np.random.default_rng(0))
    with pytest.raises(ValueError):
        update_batchnorm(model, np.zeros((4, 28, 28), np.uint8), np.random.default_rng(0),
                         batch_size=1)
    plain = Sequential("C(4,3)-GAP-FC10", np.random.default_rng(0))
    assert update_batchnorm(plain, np.zeros((4, 28, 28), np.uint8),
                            np.random.default_rng(0)) == 0


def test_train_with_swa_saves_the_average_of_the_last_epochs(tmp_path, monkeypatch):
    import cnn.cli.commands.train as train_cmd
    from cnn.data.mnist import sha256_file
    from cnn.io.weights import load_model
    from cnn.tasks.train import evaluate

    snapshots = []

    class Recording(WeightAverage):
        def update(self, model):
            snapshots.append(model.state_dict())
            super().update(model)

    monkeypatch.setattr(train_cmd, "WeightAverage", Recording)
    out = tmp_path / "swa.npz"
    result = train_cmd.train_and_save(MODEL, epochs=3, swa=2, data=str(SUBSET), limit=600,
                                      out=str(out), plot=False, quiet=True, seed=1)
    assert len(snapshots) == 2  # the last two of three epochs
    saved = load_model(out)
    for key, value in saved.state_dict().items():
        if "running" in key:  # recomputed for the averaged weights: the last epoch's no more
            assert not np.allclose(value, snapshots[1][key]), key
        else:
            np.testing.assert_allclose(value, (snapshots[0][key] + snapshots[1][key]) / 2,
                                       rtol=1e-5, atol=1e-6)
    assert saved.metadata["swa_epochs"] == 2 and "Izmailov" in saved.metadata["swa"]
    from cnn.data.mnist import load_mnist

    (_, _), (x_test, y_test) = load_mnist(SUBSET, download=False)
    assert evaluate(saved, x_test, y_test)["accuracy"] == result["report"]["accuracy"]
    # fine-tuned from it, all epochs SWA cycles: the recipe names the file it started from
    tuned = tmp_path / "tuned.npz"
    train_cmd.train_and_save(None, init=str(out), epochs=1, swa=1, swa_lr=5e-4,
                             data=str(SUBSET), limit=600, out=str(tuned), plot=False,
                             quiet=True)
    meta = load_model(tuned).metadata
    assert meta["lr"] == 5e-4 and meta["schedule"] == "swa" and meta["swa_epochs"] == 1
    assert meta["init_sha256"] == sha256_file(out)
    recipe = meta["init_recipe"]
    assert recipe["epochs"] == 3 and recipe["swa_epochs"] == 2 and recipe["seed"] == 1


def test_a_fine_tuned_file_does_not_claim_its_parents_recipe(tmp_path, monkeypatch):
    """The safe fine-tuning of folders (and the menu) keeps the parent's recipe apart."""
    from cnn.cli.commands.train import train_and_save
    from cnn.io.weights import load_model

    parent = tmp_path / "parent.npz"
    train_and_save(MODEL, epochs=2, swa=1, data=str(SUBSET), limit=600, out=str(parent),
                   plot=False, quiet=True, seed=3)
    folder = Path(__file__).parent.parent / "custom_test_images"
    child = tmp_path / "child.npz"
    train_and_save(None, init=str(parent), data=[str(folder)], epochs=1, out=str(child),
                   quiet=True, plot=False)
    meta = load_model(child).metadata
    for key in ("swa", "swa_epochs", "macro_precision", "test_loss", "train_loss", "scored_on",
                "validation_images", "temperature", "ece_validation_after"):
        assert key not in meta, key  # the parent's recipe, scores and calibration
    assert meta["init_recipe"]["swa_epochs"] == 1 and meta["init_recipe"]["seed"] == 3
    assert "finetune" in meta and meta["init"] == str(parent) and meta["classes"] == 10


@pytest.mark.parametrize("phase, kept", [
    ("swa", "the weights of epoch 2"),  # while the statistics are recomputed
    ("test", "the averaged weights of the last 2 epochs"),  # once the average is saved
])
def test_ctrl_c_after_the_last_epoch_says_which_weights_are_saved(tmp_path, phase, kept):
    import os
    import subprocess
    import sys

    from cnn.io.weights import load_model

    out = tmp_path / "w.npz"
    env = dict(os.environ, CNN_TEST_SIGINT_AT=phase, MPLBACKEND="Agg")
    result = subprocess.run(
        [sys.executable, "-m", "cnn", "train", "--model", MODEL, "--epochs", "2", "--swa", "2",
         "--limit", "600", "--data", str(SUBSET), "--out", str(out), "--no-plot", "-q"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 130 and "Traceback" not in result.stderr
    assert f"{kept} are saved in {out}" in result.stderr
    meta = load_model(out).metadata
    assert meta["epochs"] == 2 and ("swa_epochs" in meta) == (phase == "test")


@pytest.mark.parametrize("extra, message", [
    (["--epochs", "2", "--swa", "3"], "--swa 3 should be a whole number of epochs from 0"),
    (["--swa", "-1"], "expected a whole number >= 0"),
    (["--swa", "1", "--swa-lr", "0"], "expected a finite number > 0"),
    (["--swa-lr", "0.01"], "--swa-lr sets the learning rate of the --swa cycles"),
    (["--epochs", "2", "--swa", "2", "--lr", "0.01"], "every epoch is an SWA cycle"),
])
def test_bad_swa_options_get_one_line(extra, message, tmp_path, capsys):
    from cnn.cli.main import main

    try:
        code = main(["train", "--model", MODEL, "--limit", "300", "--data", str(SUBSET),
                     "--out", str(tmp_path / "x.npz"), *extra])
    except SystemExit as stop:  # argparse's own refusal
        code = stop.code
    err = capsys.readouterr().err
    assert code != 0 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.npz").exists()


@pytest.mark.parametrize("options", [dict(swa=1), dict(swa_lr=0.01), dict(swa=1, lr=0.01)])
def test_swa_is_refused_for_the_safe_fine_tuning_of_folders(tmp_path, options):
    # the first refusal names the real obstacle (not "give --swa K too", then this one)
    from cnn.cli.commands.train import train_and_save
    from cnn.errors import UserError

    folder = Path(__file__).parent.parent / "custom_test_images"
    with pytest.raises(UserError, match="--swa is not part of the safe fine-tuning"):
        train_and_save(None, init="weight_output/weight_detailsC(8,5)-P2-C(16,3)-P2-FC128-FC10"
                       ".npz", data=[str(folder)], epochs=1, out=str(tmp_path / "t.npz"),
                       **options)
    assert not (tmp_path / "t.npz").exists()
