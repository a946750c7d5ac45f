"""Data-parallel training steps (cnn.nn.data_parallel): one worker process per extra thread gives
the gradients of one pass over the whole batch, follows the model's weights, passes its errors
on, survives Ctrl-C and a lost worker, and is used only where the layers treat every example
alone."""

import os
import signal
import sys
import threading
import warnings

import numpy as np
import pytest

from cnn.nn import data_parallel
from cnn.nn.batchnorm import BatchNorm
from cnn.nn.data_parallel import DataParallel
from cnn.nn.losses import softmax_cross_entropy
from cnn.nn.model import Sequential
from cnn.nn.module import Tape
from cnn.nn.optim import Adam
from cnn.parallel import threads
from cnn.tasks.train import fit

PLAIN = "C(4,3)-P2-C(6,3)-P2-FC16-FC10"


def whole_batch_grads(model, x, y, smoothing=0.0):
    tape = Tape()
    logits = model.forward(x, tape)
    loss, dlogits = softmax_cross_entropy(logits, y, smoothing)
    model.backward(dlogits, tape)
    return loss, logits, {name: owner.grads[key].copy() for name, owner, key in model.named_slots()}


@pytest.mark.parametrize("n", [33, 64])
def test_replica_gradients_equal_one_pass_over_the_batch(two_threads, n):
    rng = np.random.default_rng(0)
    model = Sequential(PLAIN, rng).astype(np.float64)
    x, y = rng.standard_normal((n, 28, 28, 1)), rng.integers(0, 10, n)
    loss, logits, expected = whole_batch_grads(model, x, y, 0.1)
    parallel = DataParallel(model)
    got_loss, got_logits = parallel.gradients(x, y, 0.1)
    assert got_loss == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(got_logits, logits, rtol=1e-12)
    for name, owner, key in model.named_slots():
        np.testing.assert_allclose(owner.grads[key], expected[name], rtol=1e-10, atol=1e-14,
                                   err_msg=name)


def test_replicas_follow_weights_loaded_into_the_model(two_threads):
    rng = np.random.default_rng(1)
    model = Sequential(PLAIN, rng)
    parallel = DataParallel(model)
    x, y = rng.random((40, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, 40)
    parallel.gradients(x, y)
    model.load_state_dict(Sequential(PLAIN, np.random.default_rng(2)).state_dict())  # new arrays
    _, _, expected = whole_batch_grads(model, x, y)
    parallel.gradients(x, y)
    for name, owner, key in model.named_slots():
        np.testing.assert_allclose(owner.grads[key], expected[name], rtol=1e-4, atol=1e-6,
                                   err_msg=name)


@pytest.mark.parametrize("model_string, batch, expected", [
    (PLAIN, 64, True),
    (PLAIN, 16, True),
    (PLAIN, 8, False),                                   # below MIN_BATCH
    ("C(4,3)-BN-P2-FC10", 64, True),                     # batch norm, synchronized
    ("C(4,3,same)-BN-R(4)-GAP-FC10", 64, True),
    ("C(4,3)-P2-D0.25-FC10", 64, False),                 # dropout masks
])
def test_every_network_without_dropout_runs_data_parallel(two_threads, model_string, batch,
                                                          expected):
    assert data_parallel.supports(Sequential(model_string), batch) is expected


def test_one_thread_never_runs_data_parallel():
    before = threads.get_num_threads()
    threads.set_num_threads(1)
    try:
        assert not data_parallel.supports(Sequential(PLAIN), 256)
    finally:
        threads.set_num_threads(before)


def test_fit_trains_the_same_weights_data_parallel_or_not(subset):
    (x, y), _ = subset
    results = []
    before = threads.get_num_threads()
    try:
        for n in (1, 2):
            threads.set_num_threads(n)
            rng = np.random.default_rng(3)
            model = Sequential(PLAIN, rng)
            assert data_parallel.supports(model, 64) is (n == 2)
            fit(model, x[:640], y[:640], optimizer=Adam(model.parameters(), 1e-3), rng=rng,
                epochs=1, batch_size=64, progress=False)
            results.append(model.state_dict())
            if n == 2:  # and it did run in a worker process
                assert data_parallel._workers and data_parallel._failed is None
    finally:
        threads.set_num_threads(before)
    for key in results[0]:
        np.testing.assert_allclose(results[1][key], results[0][key], rtol=1e-4, atol=1e-5,
                                   err_msg=key)


def test_more_threads_after_setup_get_their_workers():
    before = threads.get_num_threads()
    rng = np.random.default_rng(4)
    model = Sequential(PLAIN, rng).astype(np.float64)
    x, y = rng.standard_normal((48, 28, 28, 1)), rng.integers(0, 10, 48)
    _, _, expected = whole_batch_grads(model, x, y)
    try:
        threads.set_num_threads(2)
        parallel = DataParallel(model)
        threads.set_num_threads(3)
        parallel.gradients(x, y)
        assert len(data_parallel._workers) >= 2
    finally:
        threads.set_num_threads(before)
    for name, owner, key in model.named_slots():
        np.testing.assert_allclose(owner.grads[key], expected[name], rtol=1e-10, atol=1e-14)


def float64_case(seed=5, n=40):
    rng = np.random.default_rng(seed)
    model = Sequential(PLAIN, rng).astype(np.float64)
    return model, rng.standard_normal((n, 28, 28, 1)), rng.integers(0, 10, n)


def grads_of(model):
    return {name: owner.grads[key].copy() for name, owner, key in model.named_slots()}


def test_a_workers_error_is_raised_here_as_its_own_type(two_threads):
    model, x, y = float64_case()
    parallel = DataParallel(model)
    assert len(data_parallel._workers) == 1 and data_parallel._failed is None
    x_bad = x.copy()
    x_bad[30:] = 1e308  # only the worker's slice (20..39) overflows
    with np.errstate(over="raise", invalid="raise"):
        with pytest.raises(FloatingPointError):
            parallel.gradients(x_bad, y)
    assert data_parallel._failed is None  # a worker's error is not a lost worker
    _, _, expected = whole_batch_grads(model, x, y)  # and the next step is right again
    parallel.gradients(x, y)
    for name, got in grads_of(model).items():
        np.testing.assert_allclose(got, expected[name], rtol=1e-10, atol=1e-14, err_msg=name)


def assert_grads(model, expected):
    for name, got in grads_of(model).items():
        np.testing.assert_allclose(got, expected[name], rtol=1e-10, atol=1e-14, err_msg=name)


def test_the_workers_follow_a_new_parameter_dtype_and_a_larger_batch(two_threads):
    rng = np.random.default_rng(10)
    model = Sequential(PLAIN, rng)
    parallel = DataParallel(model, 16)  # float32, room for slices of 8
    model.astype(np.float64)
    x, y = rng.standard_normal((64, 28, 28, 1)), rng.integers(0, 10, 64)
    _, _, expected = whole_batch_grads(model, x, y)
    parallel.gradients(x, y)
    assert_grads(model, expected)  # float64 throughout: agrees to 1e-10


def test_ctrl_c_while_a_worker_gets_the_network_drops_it(two_threads, monkeypatch):
    data_parallel.shutdown()
    original = data_parallel._Worker.reply

    def interrupted(self):
        raise KeyboardInterrupt
    monkeypatch.setattr(data_parallel._Worker, "reply", interrupted)
    model, x, y = float64_case(11)
    with pytest.raises(KeyboardInterrupt):
        DataParallel(model)
    assert data_parallel._workers == []
    monkeypatch.setattr(data_parallel._Worker, "reply", original)
    _, _, expected = whole_batch_grads(model, x, y)
    DataParallel(model).gradients(x, y)
    assert len(data_parallel._workers) == 1
    assert_grads(model, expected)


def test_an_error_between_two_workers_drops_the_one_already_busy(monkeypatch):
    before = threads.get_num_threads()
    model, x, y = float64_case(12, n=48)
    try:
        threads.set_num_threads(3)
        parallel = DataParallel(model, 48)
        first, second = data_parallel._workers[:2]
        original = data_parallel._Worker.request

        def failing(self, kind, *args):
            if self is second and kind == b"G":
                raise ValueError("no room")
            return original(self, kind, *args)
        monkeypatch.setattr(data_parallel._Worker, "request", failing)
        with pytest.raises(ValueError, match="no room"):
            parallel.gradients(x, y)
        monkeypatch.undo()
        assert first.process.poll() is not None and first not in data_parallel._workers
        assert second in data_parallel._workers  # it had nothing out
        _, _, expected = whole_batch_grads(model, x, y)
        parallel.gradients(x, y)
    finally:
        threads.set_num_threads(before)
    assert_grads(model, expected)


def test_two_trainings_in_two_threads_take_turns_with_the_workers(two_threads):
    cases = [float64_case(13), float64_case(14)]
    expected = [whole_batch_grads(model, x, y)[2] for model, x, y in cases]
    errors = []

    def train(model, x, y):
        try:
            parallel = DataParallel(model)
            for _ in range(3):
                parallel.gradients(x, y)
        except BaseException as error:  # reported below
            errors.append(error)
    workers = [threading.Thread(target=train, args=case) for case in cases]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert not errors
    for (model, _, _), grads in zip(cases, expected):
        assert_grads(model, grads)


BN_MODELS = ["C(4,3)-BN-P2-FC16-BN-FC10", "C(4,3,same)-BN-R(4)-R(6,s2)-GAP-FC10"]


def buffers_of(model):
    return {f"{i}.{k}": v.copy() for i, m in enumerate(model.modules()) for k, v in m.buffers.items()}


@pytest.mark.parametrize("model_string", BN_MODELS)
@pytest.mark.parametrize("n, dtype", [(16, np.float64), (41, np.float64), (64, np.float32)])
def test_synchronized_batch_norm_gives_the_whole_batchs_step(two_threads, model_string, n,
                                                             dtype):
    """Gradients, logits, loss and the running statistics as one pass over the whole batch."""
    rng = np.random.default_rng(20)
    model = Sequential(model_string, rng).astype(dtype)
    twin = Sequential(model_string).astype(dtype)
    twin.load_state_dict(model.state_dict(), dtype=dtype)
    x = rng.standard_normal((n, 28, 28, 1)).astype(dtype)
    y = rng.integers(0, 10, n)
    loss, logits, expected = whole_batch_grads(twin, x, y, 0.1)
    parallel = DataParallel(model)
    got_loss, got_logits = parallel.gradients(x, y, 0.1)
    assert len(data_parallel._workers) == 1 and data_parallel._failed is None
    tight = dtype == np.float64
    rtol, atol = (1e-10, 1e-12) if tight else (2e-3, 2e-4)
    assert got_loss == pytest.approx(loss, rel=1e-12 if tight else 1e-5)
    np.testing.assert_allclose(got_logits, logits, rtol=rtol, atol=atol)
    for name, got in grads_of(model).items():
        np.testing.assert_allclose(got, expected[name], rtol=rtol, atol=atol, err_msg=name)
    for key, value in buffers_of(twin).items():
        np.testing.assert_allclose(buffers_of(model)[key], value, rtol=1e-12 if tight else 1e-5,
                                   err_msg=key)


def test_synchronized_batch_norm_takes_two_exchanges_per_layer_and_step(two_threads,
                                                                         monkeypatch):
    # one for the mean and variance together, one for the backward pass's sums (issue 33)
    rng = np.random.default_rng(25)
    model = Sequential(BN_MODELS[1], rng)
    x, y = rng.standard_normal((32, 28, 28, 1)).astype(np.float32), rng.integers(0, 10, 32)
    parallel = DataParallel(model, 32)
    original = data_parallel._Worker.reply
    asked = []

    def counted(self, expected=b"K"):
        asked.append(expected)
        return original(self, expected)
    monkeypatch.setattr(data_parallel._Worker, "reply", counted)
    parallel.gradients(x, y)
    layers = sum(isinstance(m, BatchNorm) for m in model.modules())
    assert layers == 6 and asked.count(b"P") == 2 * layers


def test_batch_moments_from_slices_far_apart_match_the_whole_batchs():
    # Chan et al.'s combination: slices whose means differ by 1e4 times their spread
    rng = np.random.default_rng(26)
    bn = BatchNorm(3)
    parts = [rng.standard_normal((n, 3)) * 0.01 + shift for n, shift in ((5, 100.0), (7, -3.0),
                                                                         (4, 100.5))]
    sent = []

    def moments(part, total):
        centred = part - part.mean(0)
        return bn._batch_moments(total, len(part), part.mean(0), (centred ** 2).sum(0))
    for part in parts:  # what each slice sends
        moments(part, lambda partial: sent.append(partial) or np.ones_like(partial))
    got = {i: moments(part, lambda _: np.sum(sent, axis=0)) for i, part in enumerate(parts)}
    whole = np.concatenate(parts)
    for i, (m, mean, var, delta) in got.items():
        assert m == len(whole)
        np.testing.assert_allclose(mean, whole.mean(0), rtol=1e-13)
        np.testing.assert_allclose(var, whole.var(0), rtol=1e-9)
        np.testing.assert_allclose(delta, whole.mean(0) - parts[i].mean(0), rtol=1e-12)


def test_batch_norm_in_eval_mode_steps_here_with_the_running_statistics(two_threads):
    rng = np.random.default_rng(24)
    model = Sequential(BN_MODELS[0], rng).astype(np.float64)
    model.eval()
    for m in model.modules():  # running statistics the workers' replicas do not have
        if m.buffers:
            m.buffers["running_mean"] = rng.standard_normal(m.buffers["running_mean"].shape)
    x, y = rng.standard_normal((40, 28, 28, 1)), rng.integers(0, 10, 40)
    _, logits, expected = whole_batch_grads(model, x, y)
    _, got_logits = DataParallel(model).gradients(x, y)
    np.testing.assert_allclose(got_logits, logits, rtol=1e-10)
    assert_grads(model, expected)


def test_a_worker_lost_mid_step_with_batch_norm_redoes_the_step_here(two_threads, monkeypatch):
    rng = np.random.default_rng(21)
    model = Sequential(BN_MODELS[1], rng).astype(np.float64)
    x, y = rng.standard_normal((40, 28, 28, 1)), rng.integers(0, 10, 40)
    parallel = DataParallel(model)
    parallel.gradients(x, y)  # the workers set up for float64
    twin = Sequential(BN_MODELS[1]).astype(np.float64)
    twin.load_state_dict(model.state_dict(), dtype=np.float64)  # weights and buffers
    _, _, expected = whole_batch_grads(twin, x, y)
    original = data_parallel._Worker.reply
    asked = []

    def killed_at_the_end(self, expected=b"K"):  # the worker dies after this process's slice
        asked.append(expected)  # (whose running statistics are updated by then)
        if expected == b"K":
            self.process.kill()
            self.process.wait()
        return original(self, expected)
    monkeypatch.setattr(data_parallel._Worker, "reply", killed_at_the_end)
    try:
        with pytest.warns(RuntimeWarning, match="worker process failed"):
            parallel.gradients(x, y)
    finally:
        monkeypatch.undo()
        data_parallel.shutdown()
    assert asked[0] == b"P" and asked[-1] == b"K"  # it died mid-step, after the exchanges
    assert_grads(model, expected)
    for key, value in buffers_of(twin).items():  # updated once, not twice
        np.testing.assert_allclose(buffers_of(model)[key], value, rtol=1e-12, err_msg=key)


def test_a_workers_error_in_mid_step_reaches_this_process(two_threads):
    model = Sequential(BN_MODELS[0], np.random.default_rng(22)).astype(np.float64)
    rng = np.random.default_rng(23)
    x, y = rng.standard_normal((40, 28, 28, 1)), rng.integers(0, 10, 40)
    parallel = DataParallel(model)
    x_bad = x.copy()
    x_bad[30:] = 1e308  # the worker's slice overflows before its first exchange
    with np.errstate(over="raise", invalid="raise"):
        with pytest.raises(FloatingPointError):
            parallel.gradients(x_bad, y)
    assert data_parallel._failed is None
    _, _, expected = whole_batch_grads(model, x, y)
    parallel.gradients(x, y)  # and the next step is right
    assert_grads(model, expected)


def test_a_lost_worker_leaves_the_same_numbers_and_one_warning(two_threads):
    model, x, y = float64_case(6)
    parallel = DataParallel(model)
    loss, logits = parallel.gradients(x, y)
    expected = grads_of(model)
    try:
        for worker in data_parallel._workers:
            worker.process.kill()
            worker.process.wait()
        with pytest.warns(RuntimeWarning, match="worker process failed"):
            got_loss, got_logits = parallel.gradients(x, y)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # warned once, not every step
            parallel.gradients(x, y)
    finally:
        data_parallel.shutdown()  # and the next use starts workers again
    assert got_loss == loss
    np.testing.assert_array_equal(got_logits, logits)
    for name, got in grads_of(model).items():
        np.testing.assert_array_equal(got, expected[name], err_msg=name)
    DataParallel(model)
    assert len(data_parallel._workers) == 1


def test_a_worker_that_cannot_start_falls_back_to_this_process(two_threads, monkeypatch):
    data_parallel.shutdown()
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    model, x, y = float64_case(7)
    _, _, expected = whole_batch_grads(model, x, y)
    try:
        with pytest.warns(RuntimeWarning, match="worker process failed"):
            parallel = DataParallel(model)
        parallel.gradients(x, y)
    finally:
        monkeypatch.undo()
        data_parallel.shutdown()
    assert data_parallel._workers == []
    for name, got in grads_of(model).items():
        np.testing.assert_allclose(got, expected[name], rtol=1e-10, atol=1e-14, err_msg=name)


def test_ctrl_c_mid_step_stops_the_busy_worker_and_the_next_step_is_right(two_threads,
                                                                         monkeypatch):
    model, x, y = float64_case(8)
    parallel = DataParallel(model)
    busy = data_parallel._workers[0]

    def interrupted(*args):
        raise KeyboardInterrupt
    monkeypatch.setattr(data_parallel, "slice_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        parallel.gradients(x, y)
    monkeypatch.undo()
    assert busy.process.poll() is not None and busy not in data_parallel._workers
    _, _, expected = whole_batch_grads(model, x, y)
    parallel.gradients(x, y)
    for name, got in grads_of(model).items():
        np.testing.assert_allclose(got, expected[name], rtol=1e-10, atol=1e-14, err_msg=name)


def test_workers_ignore_ctrl_c_and_exit_when_told(two_threads):
    model, x, y = float64_case(9)
    parallel = DataParallel(model)
    worker = data_parallel._workers[0]
    worker.process.send_signal(signal.SIGINT)  # as a terminal's Ctrl-C reaches the group
    parallel.gradients(x, y)
    assert worker.process.poll() is None
    data_parallel.shutdown()
    assert worker.process.returncode == 0  # it left on its own when its socket closed


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_trains_with_its_own_workers_not_its_parents(two_threads):
    model, x, y = float64_case(30)
    parallel = DataParallel(model)
    parents = list(data_parallel._workers)
    _, _, expected = whole_batch_grads(model, x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        pid = os.fork()
    if pid == 0:  # the child: train one step and report through the exit status
        ok = False
        try:
            parallel.gradients(x, y)
            ok = (all(w not in data_parallel._workers for w in parents)
                  and all(np.allclose(got, expected[name], rtol=1e-10, atol=1e-14)
                          for name, got in grads_of(model).items()))
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    parallel.gradients(x, y)  # the parent's workers still answer it
    assert data_parallel._workers == parents and data_parallel._failed is None
    assert_grads(model, expected)
