"""Shared fixtures: the committed MNIST subset, the full MNIST file, reference weights."""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
from pathlib import Path

import numpy as np
import pytest

# Tests press Ctrl-C in the processes they start (training, the menu). A shell that starts pytest
# in the background leaves SIGINT ignored, and an ignored signal stays ignored across exec, so
# those processes would never see it: give this process a handler, which exec resets to default.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

ROOT = Path(__file__).resolve().parents[1]
SUBSET = ROOT / "tests" / "data" / "mnist_subset.npz"
SHARED = ROOT.parent / "shared"
# The reference project's three weight files: $CNN_REFERENCE_WEIGHTS, else ../shared beside
# the checkout (as in CI); the tests that need them skip, saying so, where neither exists.
REFERENCE_DIR = Path(os.environ.get("CNN_REFERENCE_WEIGHTS") or SHARED / "reference_weights")


def load_script(path: Path, name: str | None = None):
    """A script or benchmark file (``scripts/*.py``, ``benchmarks/*.py``: not a package
    module) executed as a module named ``name`` (default: the file's stem) and registered in
    ``sys.modules`` under it (a dataclass in the file looks its module up there)."""
    name = name or path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def test_digits():
    """MNIST test digits of the committed subset, grouped by label: dict digit -> uint8
    ``(K, 28, 28)``."""
    with np.load(SUBSET) as d:
        x, y = d["x_test"], d["y_test"]
    return {k: x[y == k] for k in range(10)}


@pytest.fixture(scope="session")
def make_numbers():
    """``scripts/make_numbers.py`` loaded as a module (its number-page generator)."""
    return load_script(ROOT / "scripts" / "make_numbers.py")


@pytest.fixture(scope="session")
def subset():
    """Real MNIST cut: ``(x_train, y_train), (x_test, y_test)``, 2,000 / 1,000 images."""
    with np.load(SUBSET) as d:
        return (d["x_train"], d["y_train"]), (d["x_test"], d["y_test"])


def full_mnist_path() -> Path | None:
    """The full keras-layout MNIST: $CNN_MNIST_DATA (set by .ci/run) or ../shared/data."""
    env = os.environ.get("CNN_MNIST_DATA")
    for candidate in (env, SHARED / "data" / "mnist.npz"):
        if candidate and Path(candidate).is_file():
            with np.load(candidate) as d:
                if d["x_train"].shape[0] == 60000:
                    return Path(candidate)
    return None


@pytest.fixture(scope="session")
def full_mnist():
    """Full MNIST arrays; skips where the 60,000-image file is not available."""
    path = full_mnist_path()
    if path is None:
        pytest.skip("full MNIST not found: set CNN_MNIST_DATA to a keras mnist.npz")
    from cnn.data.mnist import load_mnist

    return load_mnist(path)


def v1_weights(model) -> dict:
    """The model's arrays in the version-1 file layout (``weight_<t>`` / ``bias_<t>``), for
    tests that write version-1 files."""
    from cnn.io.weights import file_keys

    keys = file_keys(model, 1)
    return {keys[k]: v for k, v in model.state_dict().items()}


@pytest.fixture
def two_threads():
    """cnn's layers on two threads for the test, the previous count restored after."""
    from cnn.parallel import threads

    before = threads.get_num_threads()
    threads.set_num_threads(2)
    yield
    threads.set_num_threads(before)
