"""Learning-rate schedules and label smoothing: their values, against PyTorch's schedulers
and loss where torch is installed, and wired through ``fit`` and ``cnn train``."""

import math
from pathlib import Path

import numpy as np
import pytest

from cnn.nn.losses import softmax_cross_entropy
from cnn.nn.schedule import make_schedule

SUBSET = Path(__file__).parent / "data" / "mnist_subset.npz"


def test_step_schedule_multiplies_by_decay_once_per_epoch():
    lr = make_schedule("step", 0.1, steps_per_epoch=3, epochs=4, decay=0.5)
    assert [lr(s) for s in range(12)] == pytest.approx(
        [0.1] * 3 + [0.05] * 3 + [0.025] * 3 + [0.0125] * 3)


def test_cosine_warms_up_linearly_then_falls_to_zero():
    lr = make_schedule("cosine", 1.0, steps_per_epoch=10, epochs=10, warmup=10)
    assert lr(0) == pytest.approx(1 / 25)
    assert lr(5) == pytest.approx(1 / 25 + (1 - 1 / 25) / 2)
    assert lr(10) == pytest.approx(1.0)
    values = [lr(s) for s in range(10, 100)]
    assert all(a >= b for a, b in zip(values, values[1:]))  # monotone after the warm-up
    assert lr(55) == pytest.approx(0.5)  # half-way through the cosine
    assert 0 < lr(99) < 1e-3


def test_onecycle_peaks_at_thirty_percent_and_ends_near_zero():
    lr = make_schedule("onecycle", 1.0, steps_per_epoch=100, epochs=1)
    values = np.array([lr(s) for s in range(100)])
    assert values[0] == pytest.approx(1 / 25)
    assert values.argmax() == 29 and values.max() == pytest.approx(1.0)  # step 0.3 * 100 - 1
    assert values[-1] == pytest.approx(1 / 25 / 1e4)


@pytest.mark.parametrize("kind", ["nope", ""])
def test_unknown_schedule_is_refused(kind):
    with pytest.raises(ValueError, match="unknown schedule"):
        make_schedule(kind, 1.0, 10, 1)


def test_schedules_match_torch_schedulers():
    torch = pytest.importorskip("torch")
    steps, epochs = 7, 5
    w = torch.nn.Parameter(torch.zeros(1))

    def torch_lrs(make, per_step=True):
        opt = torch.optim.SGD([w], lr=0.3)
        sched = make(opt)
        out = []
        for _ in range(steps * epochs):
            out.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return out

    ours = make_schedule("onecycle", 0.3, steps, epochs)
    theirs = torch_lrs(lambda o: torch.optim.lr_scheduler.OneCycleLR(
        o, max_lr=0.3, total_steps=steps * epochs, anneal_strategy="cos",
        cycle_momentum=False))
    np.testing.assert_allclose([ours(s) for s in range(steps * epochs)], theirs, rtol=1e-9)
    ours = make_schedule("cosine", 0.3, steps, epochs)  # no warm-up: CosineAnnealingLR
    theirs = torch_lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, steps * epochs))
    np.testing.assert_allclose([ours(s) for s in range(steps * epochs)], theirs, rtol=1e-9,
                               atol=1e-12)


def test_label_smoothing_of_uniform_logits_is_still_log_k_and_eps_is_checked():
    loss, _ = softmax_cross_entropy(np.zeros((4, 10)), np.arange(4), 0.2)
    assert loss == pytest.approx(math.log(10))
    with pytest.raises(ValueError, match="label_smoothing"):
        softmax_cross_entropy(np.zeros((1, 10)), np.zeros(1, int), 1.0)


def test_label_smoothing_matches_torch_cross_entropy():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    logits = rng.standard_normal((8, 10))
    labels = rng.integers(0, 10, 8)
    t = torch.tensor(logits, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(t, torch.tensor(labels), label_smoothing=0.15)
    ref.backward()
    loss, dlogits = softmax_cross_entropy(logits, labels, 0.15)
    assert loss == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(dlogits, t.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_fit_sets_the_learning_rate_of_every_step_from_the_schedule(subset):
    from cnn.nn.model import Sequential
    from cnn.nn.optim import make_optimizer
    from cnn.tasks.train import fit

    (x, y), _ = subset
    x, y = x[:256], y[:256]
    rng = np.random.default_rng(0)
    model = Sequential("C(2,5)-P2-FC10", rng)
    opt = make_optimizer("sgd", model.parameters(), 0.1)
    seen = []
    lr = make_schedule("cosine", 0.1, steps_per_epoch=4, epochs=2, warmup=2)
    step = opt.step

    def recording_step():
        seen.append(opt.lr)
        step()
    opt.step = recording_step
    history = fit(model, x, y, optimizer=opt, rng=rng, epochs=2, batch_size=64, schedule=lr,
                  label_smoothing=0.1, progress=False)
    assert seen == pytest.approx([lr(s) for s in range(8)])
    assert history.epochs[-1]["lr"] == pytest.approx(lr(7))


def test_train_refuses_label_smoothing_of_one_in_one_line(tmp_path, capsys):
    from cnn.cli import main

    status = main(["train", "--model", "C(2,5)-P2-FC10", "--data", str(SUBSET), "--out",
                   str(tmp_path / "w.npz"), "--label-smoothing", "1"])
    err = capsys.readouterr().err
    assert status != 0 and err.count("\n") == 1 and "--label-smoothing 1" in err
    assert not list(tmp_path.iterdir())


def test_train_with_a_cosine_schedule_records_the_recipe_in_the_weights(tmp_path, capsys):
    from cnn.cli import main
    from cnn.io.weights import load_model

    out = tmp_path / "w.npz"
    assert main(["train", "--model", "C(2,5)-P2-FC10", "--data", str(SUBSET), "--limit", "500",
                 "--epochs", "2", "--schedule", "cosine", "--warmup", "0.5",
                 "--label-smoothing", "0.1", "--out", str(out), "--no-plot"]) == 0
    assert "cosine, 0.5 warm-up epochs" in capsys.readouterr().out
    meta = load_model(out).metadata
    assert (meta["schedule"], meta["warmup_epochs"], meta["label_smoothing"]) == ("cosine", 0.5, 0.1)


@pytest.mark.parametrize("extra, schedule, lr", [
    ([], "onecycle", 3e-3),                         # the default recipe
    (["--lr-decay", "0.5"], "step", 1e-3),          # --lr-decay: the step schedule, old lr
    (["--lr-decay", "1"], "step", 1e-3),
    (["--schedule", "step"], "step", 1e-3),
    (["--lr", "0.01"], "onecycle", 0.01),
    (["--lr", "1e-4", "--schedule", "cosine"], "cosine", 1e-4),
])
def test_train_defaults_to_onecycle_unless_a_decay_or_schedule_is_given(tmp_path, capsys, extra,
                                                                      schedule, lr):
    from cnn.cli import main
    from cnn.io.weights import load_model

    out = tmp_path / "w.npz"
    assert main(["train", "--model", "C(2,5)-P2-FC10", "--data", str(SUBSET), "--limit", "300",
                 "--out", str(out), "--no-plot", *extra]) == 0
    meta = load_model(out).metadata
    assert (meta["schedule"], meta["lr"]) == (schedule, lr)
