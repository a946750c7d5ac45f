"""The worker-process plumbing of data parallelism (cnn.parallel.workers): a worker that stops
answering is killed after the timeout and the step is finished here with the same numbers
(issue 28); the shared memory leaves no name behind; the timeout's setting is checked."""

import contextlib
import os
import signal

import numpy as np
import pytest

from cnn.errors import UserError
from cnn.nn import data_parallel
from cnn.nn.data_parallel import DataParallel
from cnn.nn.model import Sequential
from cnn.nn.optim import Adam
from cnn.parallel import threads, workers
from cnn.tasks.train import fit

PLAIN = "C(4,3)-P2-C(6,3)-P2-FC16-FC10"
BN = "C(4,3,same)-BN-R(4)-R(6,s2)-GAP-FC10"


def grads_of(model):
    return {name: owner.grads[key].copy() for name, owner, key in model.named_slots()}


def stop(worker):
    os.kill(worker.process.pid, signal.SIGSTOP)


def resume_if_alive(worker):
    if worker.process.poll() is None:
        os.kill(worker.process.pid, signal.SIGCONT)


@pytest.fixture
def short_timeout(monkeypatch):
    monkeypatch.delenv("CNN_WORKER_TIMEOUT", raising=False)
    monkeypatch.setattr(workers, "REPLY_TIMEOUT", 0.5)
    yield
    data_parallel.shutdown()  # the next test starts workers again


@pytest.mark.parametrize("model_string", [PLAIN, BN])
def test_a_stopped_worker_is_killed_and_the_step_finished_here(two_threads, short_timeout,
                                                               model_string):
    rng = np.random.default_rng(40)
    model = Sequential(model_string, rng).astype(np.float64)
    x, y = rng.standard_normal((40, 28, 28, 1)), rng.integers(0, 10, 40)
    parallel = DataParallel(model)
    # the same step with the workers failed from the start: this process alone
    with pytest.warns(RuntimeWarning, match="worker process failed"):
        data_parallel._fail(RuntimeError("test"))
    buffers = [dict(m.buffers) for m in model.modules()]
    loss, logits = parallel.gradients(x, y)
    expected = grads_of(model)
    for module, saved in zip(model.modules(), buffers):
        module.buffers.update(saved)
    data_parallel.shutdown()
    parallel = DataParallel(model)
    (stopped,) = data_parallel._workers
    stop(stopped)  # as SIGSTOP, a debugger or swapping would
    try:
        with pytest.warns(RuntimeWarning, match="worker process failed.*no answer within 0.5 s"):
            got_loss, got_logits = parallel.gradients(x, y)
        assert stopped.process.poll() is not None  # killed, not left stopped
    finally:
        resume_if_alive(stopped)
    assert data_parallel._workers == [] and data_parallel._failed is not None
    assert got_loss == loss
    np.testing.assert_array_equal(got_logits, logits)
    for name, got in grads_of(model).items():
        np.testing.assert_array_equal(got, expected[name], err_msg=name)


def test_training_with_a_stopped_worker_finishes_with_the_single_process_weights(
        subset, short_timeout):
    (x, y), _ = subset
    results = []
    before = threads.get_num_threads()
    try:
        for n in (1, 2):
            threads.set_num_threads(n)
            rng = np.random.default_rng(41)
            model = Sequential(PLAIN, rng)
            stopped = None
            if n == 2:
                DataParallel(model, 64)  # the worker fit will use, set up for this network
                (stopped,) = data_parallel._workers
                stop(stopped)
            try:
                expect = (pytest.warns(RuntimeWarning, match="no answer within")
                          if stopped else contextlib.nullcontext())
                with expect:
                    fit(model, x[:320], y[:320], optimizer=Adam(model.parameters(), 1e-3),
                        rng=rng, epochs=1, batch_size=64, progress=False)
            finally:
                if stopped is not None:
                    resume_if_alive(stopped)
            if stopped is not None:
                assert stopped.process.poll() is not None
            results.append(model.state_dict())
    finally:
        threads.set_num_threads(before)
    for key in results[0]:
        np.testing.assert_allclose(results[1][key], results[0][key], rtol=1e-4, atol=1e-5,
                                   err_msg=key)


@pytest.mark.parametrize("value", ["0", "-1", "soon", "inf", "nan"])
def test_a_bad_timeout_setting_is_one_clear_error_before_any_worker_starts(two_threads,
                                                                           monkeypatch, value):
    data_parallel.shutdown()
    monkeypatch.setenv("CNN_WORKER_TIMEOUT", value)
    with pytest.raises(UserError, match=f"CNN_WORKER_TIMEOUT must be a number of seconds > 0, "
                                        f"got '{value}'"):
        DataParallel(Sequential(PLAIN))
    assert data_parallel._workers == []


def test_the_timeout_setting_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("CNN_WORKER_TIMEOUT", " 2.5 ")
    assert workers.reply_timeout() == 2.5
    monkeypatch.delenv("CNN_WORKER_TIMEOUT")
    assert workers.reply_timeout() == workers.REPLY_TIMEOUT == 60.0


def test_the_shared_memory_keeps_no_name_once_the_worker_has_it(two_threads):
    model = Sequential(BN, np.random.default_rng(42))
    DataParallel(model)
    (worker,) = data_parallel._workers
    assert worker.memory is not None and worker.views["sums"].size == 2 * 6 + 1
    if os.path.isdir("/dev/shm"):
        assert not [name for name in os.listdir("/dev/shm")
                    if name.startswith(f"cnn_dp_{os.getpid()}_")]
    with pytest.raises(FileNotFoundError):  # unlinked: nothing for another process to open
        workers.attach_memory(worker.memory.name)


def test_array_layout_places_each_array_on_its_own_cache_line():
    layout = workers.ArrayLayout()
    layout.add("a", (3,), np.float32)
    layout.add("b", (2, 5), np.float64)
    layout.add("c", (0,), np.int64)
    assert [offset for offset, _, _ in layout.arrays.values()] == [0, 64, 192]
    assert layout.size == 256
    buffer = bytearray(layout.size)
    views = workers.ArrayLayout.views(layout.arrays, buffer)
    views["b"][...] = np.arange(10).reshape(2, 5)
    assert np.frombuffer(buffer, np.float64, 10, 64).tolist() == list(range(10))
    assert views["a"].dtype == np.float32 and views["c"].shape == (0,)


def test_a_workers_error_comes_back_as_its_own_type_or_with_its_traceback():
    try:
        raise FloatingPointError("overflow in multiply")
    except FloatingPointError as error:
        report = workers.error_report(error)
    assert type(workers.error_from(report)) is FloatingPointError
    assert str(workers.error_from(report)) == "overflow in multiply"
    odd = dict(report, type="SomethingElse")
    got = workers.error_from(odd)
    assert type(got) is RuntimeError and "overflow in multiply" in str(got)


def test_environment_sets_values_for_children_and_puts_back_what_was_there(monkeypatch):
    import subprocess
    import sys

    from cnn.parallel.workers import environment

    monkeypatch.setenv("CNN_TEST_KEPT", "before")
    monkeypatch.delenv("CNN_TEST_NEW", raising=False)
    with environment({"CNN_TEST_KEPT": "inside", "CNN_TEST_NEW": "x"}):
        seen = subprocess.run([sys.executable, "-c", "import os; print(os.environ['CNN_TEST_KEPT'],"
                               " os.environ['CNN_TEST_NEW'])"], capture_output=True, text=True)
    assert seen.stdout.split() == ["inside", "x"]
    assert os.environ["CNN_TEST_KEPT"] == "before" and "CNN_TEST_NEW" not in os.environ
    try:
        with environment({"CNN_TEST_NEW": "y"}):
            raise KeyError("boom")
    except KeyError:
        pass
    assert "CNN_TEST_NEW" not in os.environ  # restored on an error too
