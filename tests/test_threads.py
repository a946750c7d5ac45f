"""The batch split over threads and the cache-blocked convolution give the same numbers as one
thread and one block: slices and blocks of every size, partial sums added in order, errors
raised, no nested splitting; and the glibc allocator setting takes."""

import threading

import numpy as np
import pytest
from test_gradients import check_module

from cnn.nn import conv as L
from cnn.nn import model_string as P
from cnn.nn.blocks import ResidualBlock
from cnn.nn.module import Tape
from cnn.parallel import threads
from cnn.parallel.allocator import keep_freed_memory


def test_batch_slices_cover_the_batch_in_order_and_respect_the_minimum(two_threads):
    for n in (1, 2, 3, 64, 65):
        slices = threads.batch_slices(n)
        assert len(slices) == min(2, n)
        assert np.array_equal(np.concatenate([np.arange(n)[s] for s in slices]), np.arange(n))
    assert threads.batch_slices(10, min_per_slice=6) == [slice(0, 10)]
    assert threads.batch_slices(12, min_per_slice=6) == [slice(0, 6), slice(6, 12)]


def test_parallel_map_keeps_order_and_runs_the_slices_on_two_threads(two_threads):
    seen = set()

    def work(s):
        seen.add(threading.get_ident())
        return s.start
    assert threads.parallel_map(work, [slice(0, 5), slice(5, 9)]) == [0, 5]
    assert len(seen) == 2


def test_parallel_map_raises_a_slice_error_after_every_slice_finished(two_threads):
    finished = []

    def work(i):
        if i == 1:
            raise KeyError("slice 1 failed")
        threading.Event().wait(0.05)
        finished.append(i)
    with pytest.raises(KeyError, match="slice 1 failed"):
        threads.parallel_map(work, [0, 1])
    assert finished == [0]


def test_a_worker_thread_does_not_split_again(two_threads):
    # a slice function that calls a split layer must not wait on the pool it runs in
    inner = threads.parallel_map(lambda i: threads.batch_slices(64), [0, 1])
    assert inner[0] == threads.batch_slices(64)  # the calling thread may split
    assert inner[1] == [slice(0, 64)]            # the worker may not


@pytest.mark.parametrize("n", [0, -1, 1.5])
def test_set_num_threads_rejects_counts_below_one_or_fractional(n):
    with pytest.raises(ValueError, match="whole number >= 1"):
        threads.set_num_threads(n)


def test_a_bad_environment_thread_count_is_named(monkeypatch):
    from cnn.errors import UserError

    monkeypatch.setenv("CNN_NUM_THREADS", "two")
    with pytest.raises(UserError, match="CNN_NUM_THREADS"):
        threads.default_num_threads()
    monkeypatch.setenv("CNN_NUM_THREADS", "3")
    assert threads.default_num_threads() == 3


def _run(module, x, g, n_threads, block=None, keep=None, monkeypatch=None):
    threads.set_num_threads(n_threads)
    if block is not None:
        monkeypatch.setattr(L, "IM2COL_BLOCK", block)
    if keep is not None:
        monkeypatch.setattr(L, "IM2COL_KEEP", keep)
    tape = Tape()
    out = module.forward(x, tape)
    dx = module.backward(g, tape)
    grads = {k: v.copy() for m in module.modules() for k, v in m.grads.items()}
    return out, dx, grads


@pytest.mark.parametrize("keep", [1, 1 << 30])
@pytest.mark.parametrize("c,f,k,s,p", [(3, 4, 3, 1, 1), (2, 5, 3, 2, 1), (1, 4, 5, 1, 0),
                                       (3, 2, 3, 1, 3), (4, 3, 1, 2, 0), (4, 2, 3, 1, 2)])
def test_convolution_is_the_same_over_threads_and_cache_blocks(c, f, k, s, p, keep,
                                                               monkeypatch):
    # one thread and one block against two threads and one image per block: with keep=1 the
    # im2col is rebuilt block by block for the weight gradient, else each slice is one block
    # that keeps its columns; the full convolution for stride 1, p < k and F <= C, the
    # per-offset input gradient for stride 2, p >= k or F > C
    before = threads.get_num_threads()
    rng = np.random.default_rng(0)
    conv = L.Conv2D(c, f, k, s, p, rng=rng).astype(np.float64)
    conv.params["bias"] = rng.standard_normal(f)
    x = rng.standard_normal((7, 9, 8, c))
    g = rng.standard_normal((7,) + conv.output_shape(x.shape[1:]))
    try:
        one = _run(conv, x, g, 1, block=1 << 30, keep=1 << 30, monkeypatch=monkeypatch)
        split = _run(conv, x, g, 2, block=1, keep=keep, monkeypatch=monkeypatch)
    finally:
        threads.set_num_threads(before)
    for a, b in zip(one[:2], split[:2]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    for key in one[2]:
        np.testing.assert_allclose(one[2][key], split[2][key], rtol=1e-12, atol=1e-12)


def test_gradients_hold_with_two_threads_and_one_image_per_block(two_threads, monkeypatch):
    monkeypatch.setattr(L, "IM2COL_BLOCK", 1)
    monkeypatch.setattr(L, "IM2COL_KEEP", 1)  # the columns rebuilt block by block
    rng = np.random.default_rng(1)
    shape = P.layer_shapes([P.Residual(4, 2)], (6, 6, 3))[0]
    block = ResidualBlock(P.Residual(4, 2), 1, 3, shape, rng)
    check_module(block, rng.standard_normal((4, 6, 6, 3)), rng, rtol=1e-4, atol=1e-7)
    conv = L.Conv2D(2, 3, 3, 1, 2, rng=rng)  # padding 2 < k: the full-convolution input gradient
    check_module(conv, rng.standard_normal((3, 5, 4, 2)), rng)


def test_the_allocator_setting_takes_on_glibc():
    import platform
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt is glibc's")
    assert keep_freed_memory() is True
    assert keep_freed_memory() is True  # once per process, then a no-op


def test_the_command_line_refuses_a_bad_thread_count_in_one_line(tmp_path):
    import os
    import subprocess
    import sys

    env = dict(os.environ, CNN_NUM_THREADS="0")
    result = subprocess.run([sys.executable, "-m", "cnn", "summary", "--model", "C(2,3)-FC10"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "cnn: error: CNN_NUM_THREADS must be a whole number >= 1, got '0'; set it to e.g. 2 or "
        "unset it to use every CPU"]


def test_two_threads_making_the_first_call_set_the_pool_up_once(monkeypatch):
    before = threads.get_num_threads()
    monkeypatch.setattr(threads, "_num_threads", None)
    calls = []
    real = threads.set_num_threads
    monkeypatch.setattr(threads, "set_num_threads", lambda n: (calls.append(n), real(n)))
    barrier = threading.Barrier(2)

    def first_call():
        barrier.wait()
        threads.get_num_threads()
    workers = [threading.Thread(target=first_call) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(calls) == 1
    real(before)


def test_the_callers_numpy_error_state_holds_in_the_worker(two_threads):
    # np.errstate around a training run must reach the slices run on the worker thread
    import warnings

    big = np.float32(3e38)

    def overflow(i):
        return big * np.float32(10)
    with np.errstate(over="raise"):
        with pytest.raises(FloatingPointError):
            threads.parallel_map(overflow, [0, 1])
    with np.errstate(over="ignore"), warnings.catch_warnings():
        warnings.simplefilter("error")
        assert all(np.isinf(threads.parallel_map(overflow, [0, 1])))
