"""The MNIST loader: where it looks, how it downloads and verifies, what it rejects."""

import hashlib

import numpy as np
import pytest
from conftest import SUBSET

from cnn.data import mnist as data
from cnn.errors import UserError


@pytest.fixture
def no_env(monkeypatch, tmp_path):
    """No CNN_MNIST_DATA and an empty keras cache in a temporary home."""
    monkeypatch.delenv("CNN_MNIST_DATA", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    return tmp_path


def test_load_mnist_returns_keras_layout_from_an_explicit_path(no_env):
    (x_train, y_train), (x_test, y_test) = data.load_mnist(SUBSET)
    assert x_train.shape == (2000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (2000,) and y_test.shape == (1000,)
    assert list(y_train[:10]) == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]  # MNIST's first ten labels


def test_environment_variable_is_used_when_no_path_is_given(no_env, monkeypatch):
    monkeypatch.setenv("CNN_MNIST_DATA", str(SUBSET))
    assert data.find_mnist() == SUBSET


def test_explicit_path_wins_over_the_environment_variable(no_env, monkeypatch, tmp_path):
    monkeypatch.setenv("CNN_MNIST_DATA", str(tmp_path / "missing.npz"))
    assert data.find_mnist(SUBSET) == SUBSET


def test_keras_cache_is_used_before_downloading(no_env):
    cache = data.keras_cache_path()
    cache.parent.mkdir(parents=True)
    cache.write_bytes(SUBSET.read_bytes())
    assert data.find_mnist(download=False) == cache


def test_download_verifies_checksum_and_caches_atomically(no_env):
    url = SUBSET.as_uri()
    digest = hashlib.sha256(SUBSET.read_bytes()).hexdigest()
    dest = data.download_mnist(url=url, sha256=digest)
    assert dest == data.keras_cache_path() and dest.read_bytes() == SUBSET.read_bytes()
    assert not dest.with_name(dest.name + ".part").exists()


def test_download_with_wrong_checksum_is_discarded(no_env):
    with pytest.raises(UserError, match="expected 0000"):
        data.download_mnist(url=SUBSET.as_uri(), sha256="0000")
    assert not data.keras_cache_path().exists()
    assert list(data.keras_cache_path().parent.iterdir()) == []


def test_offline_without_a_file_says_how_to_pass_one(no_env):
    with pytest.raises(UserError, match="--data PATH") as err:
        data.download_mnist(url="http://127.0.0.1:9/mnist.npz", timeout=2)
    assert "\n" not in str(err.value)


def test_missing_explicit_path_is_a_user_error(no_env, tmp_path):
    with pytest.raises(UserError, match="not found"):
        data.load_mnist(tmp_path / "nope.npz")


@pytest.mark.parametrize("change,message", [
    (lambda a: a.pop("y_test"), "no 'y_test' array"),
    (lambda a: a.update(x_train=a["x_train"].astype(np.float32)), "'x_train' should be uint8"),
    (lambda a: a.update(x_test=a["x_test"][:, :14]), "'x_test' should be uint8 \\(N, 28, 28\\)"),
    (lambda a: a.update(y_train=a["y_train"][:5]), "'y_train' should be integer"),
    (lambda a: a.update(y_test=a["y_test"] + 5), "labels outside 0-9"),
])
def test_malformed_mnist_file_is_rejected_with_the_key_named(no_env, tmp_path, change, message):
    with np.load(SUBSET) as d:
        arrays = {k: d[k] for k in d.files}
    change(arrays)
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(UserError, match=message):
        data.load_mnist(path)


def test_full_mnist_matches_the_published_checks(full_mnist):
    (x_train, y_train), (x_test, _) = full_mnist
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.mean() == pytest.approx(33.318421449829934)
    assert np.bincount(y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
