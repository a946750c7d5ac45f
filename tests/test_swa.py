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
                                  (None, 0, 10, 0.0), (None, -1, 10, 0.01)])
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
    with pytest.raises(ValueError, match="do not match"):
        average.apply(Sequential("C(8,3)-BN-GAP-FC10", np.random.default_rng(0)))


def _batch_norm_inputs(model, images, seed, batch_size):
    """The first convolution's outputs batch by batch, in update_batchnorm's order."""
    order = np.random.default_rng(seed).permutation(len(images))
    conv = model.block(1)
    starts = list(range(0, len(images), batch_size))
    if len(images) - starts[-1] < 2 and len(starts) > 1:
        starts.pop()
    ends = starts[1:] + [len(images)]
    return [conv.forward(to_input(images[order[a:b]], model.input_shape))
            for a, b in zip(starts, ends)]


@pytest.mark.parametrize("n, batch_size", [(10, 4), (9, 4), (8, 8)])
def test_update_batchnorm_gives_the_mean_of_the_batch_statistics(n, batch_size):
    images = np.random.default_rng(1).integers(0, 256, (n, 28, 28), dtype=np.uint8)
    model = _models(1)[0]
    norm = next(x for x in model.modules() if isinstance(x, BatchNorm))
    norm.buffers["running_mean"] += 5  # stale statistics are thrown away
    batches = _batch_norm_inputs(model, images, 7, batch_size)
    count = update_batchnorm(model, images, np.random.default_rng(7), batch_size=batch_size)
    assert count == len(batches)
    means = [b.reshape(-1, 4).mean(axis=0) for b in batches]
    variances = [b.reshape(-1, 4).var(axis=0, ddof=1) for b in batches]
    np.testing.assert_allclose(norm.buffers["running_mean"], np.mean(means, axis=0),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(norm.buffers["running_var"], np.mean(variances, axis=0),
                               rtol=1e-5, atol=1e-6)
    assert norm.momentum == 0.1 and not model.training


def test_update_batchnorm_matches_torch_update_bn():
    torch = pytest.importorskip("torch")
    images = np.random.default_rng(2).integers(0, 256, (23, 28, 28), dtype=np.uint8)
    model = _models(1)[0]
    batches = _batch_norm_inputs(model, images, 3, 5)
    update_batchnorm(model, images, np.random.default_rng(3), batch_size=5)
    ours = next(x for x in model.modules() if isinstance(x, BatchNorm))
    theirs = torch.nn.BatchNorm2d(4).double()
    loader = [torch.from_numpy(b.astype(np.float64)).permute(0, 3, 1, 2) for b in batches]
    torch.optim.swa_utils.update_bn(loader, theirs)
    np.testing.assert_allclose(ours.buffers["running_mean"], theirs.running_mean.numpy(),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.buffers["running_var"], theirs.running_var.numpy(),
                               rtol=1e-5, atol=1e-6)


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
    from cnn.io.weights import load_model

    snapshots = []

    class Recording(WeightAverage):
        def update(self, model):
            snapshots.append({k: v for k, v in model.state_dict().items()
                              if "running" not in k})
            super().update(model)

    monkeypatch.setattr(train_cmd, "WeightAverage", Recording)
    out = tmp_path / "swa.npz"
    result = train_cmd.train_and_save(MODEL, epochs=3, swa=2, data=str(SUBSET), limit=600,
                                      out=str(out), plot=False, quiet=True, seed=1)
    assert len(snapshots) == 2  # the last two of three epochs
    saved = load_model(out)
    for key, value in saved.state_dict().items():
        if "running" not in key:
            np.testing.assert_allclose(value, (snapshots[0][key] + snapshots[1][key]) / 2,
                                       rtol=1e-5, atol=1e-6)
    assert saved.metadata["swa_epochs"] == 2 and "Izmailov" in saved.metadata["swa"]
    assert saved.metadata["accuracy"] == result["report"]["accuracy"]
    tuned = tmp_path / "tuned.npz"
    train_cmd.train_and_save(None, init=str(out), epochs=1, swa=1, data=str(SUBSET),
                             limit=600, out=str(tuned), plot=False, quiet=True)
    recipe = load_model(tuned).metadata["init_recipe"]
    assert recipe["epochs"] == 3 and recipe["swa_epochs"] == 2 and recipe["seed"] == 1


@pytest.mark.parametrize("extra, message", [
    (["--epochs", "2", "--swa", "3"], "--swa 3 should be a whole number of epochs from 0"),
    (["--swa", "-1"], "expected a whole number >= 0"),
    (["--swa", "1", "--swa-lr", "0"], "expected a finite number > 0"),
])
def test_bad_swa_options_get_one_line(extra, message, tmp_path, capsys):
    from cnn.cli.main import main

    try:
        code = main(["train", "--model", MODEL, "--limit", "300", "--data", str(SUBSET),
                     "--out", str(tmp_path / "x.npz"), *extra])
    except SystemExit as stop:  # argparse's own refusal
        code = stop.code
    err = capsys.readouterr().err
    assert code != 0 and message in err and "Traceback" not in err
    assert not (tmp_path / "x.npz").exists()


def test_swa_is_refused_for_the_safe_fine_tuning_of_folders(tmp_path):
    from cnn.cli.commands.train import train_and_save
    from cnn.errors import UserError

    folder = Path(__file__).parent.parent / "custom_test_images"
    with pytest.raises(UserError, match="--swa is not part of the safe fine-tuning"):
        train_and_save(None, init="weight_output/weight_detailsC(8,5)-P2-C(16,3)-P2-FC128-FC10"
                       ".npz", data=[str(folder)], epochs=1, swa=1,
                       out=str(tmp_path / "t.npz"))
