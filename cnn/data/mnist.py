"""MNIST: find, download, verify and validate the keras ``mnist.npz`` file.

Where the data comes from, in order:

1. an explicit path (``cnn ... --data PATH``);
2. the ``CNN_MNIST_DATA`` environment variable;
3. the keras cache, ``~/.keras/datasets/mnist.npz`` (as ``keras.datasets.mnist.load_data``);
4. a download of the keras file from :data:`MNIST_URL`, checked against :data:`MNIST_SHA256`
   and written atomically into that cache.

The data set is LeCun, Cortes & Burges, "The MNIST database of handwritten digits" (1998).
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from pathlib import Path

import numpy as np

from cnn.errors import UserError
from cnn.files import regular_file
from cnn.io.npz import NpzReader

MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
ENV_VAR = "CNN_MNIST_DATA"
KEYS = ("x_train", "y_train", "x_test", "y_test")
HOW_TO_PASS = "pass --data PATH"  # how messages say to give the file (the menu says its own)


def keras_cache_path() -> Path:
    """``~/.keras/datasets/mnist.npz`` (``$KERAS_HOME/datasets`` when that is set)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets" / "mnist.npz"


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download_mnist(dest: str | os.PathLike | None = None, url: str = MNIST_URL,
                   sha256: str = MNIST_SHA256, timeout: float = 30.0) -> Path:
    """Download the keras MNIST file, verify its SHA-256 and move it atomically into ``dest``.

    Args:
        dest: target path (default: :func:`keras_cache_path`).
        url: where to fetch it; any ``urllib`` URL (``file://`` works, for tests).
        sha256: expected hex digest of the file.
    Returns:
        the path written.
    Raises:
        UserError: no network, or a file whose checksum does not match (it is discarded).
    """
    dest = Path(dest) if dest else keras_cache_path()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as f:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                f.write(chunk)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise UserError(
            f"MNIST not found locally and the download from {url} failed ({e}); "
            f"{HOW_TO_PASS} (a keras mnist.npz) or set {ENV_VAR}=PATH") from None
    digest = sha256_file(tmp)
    if digest != sha256:
        tmp.unlink(missing_ok=True)
        raise UserError(f"downloaded MNIST from {url} has SHA-256 {digest}, expected {sha256}; "
                        f"the file was discarded, try again or {HOW_TO_PASS}")
    os.replace(tmp, dest)
    return dest


def find_mnist(path: str | os.PathLike | None = None, download: bool = True) -> Path:
    """Resolve where MNIST is: ``path``, ``$CNN_MNIST_DATA``, the keras cache, or a download.

    Raises:
        UserError: a given path (argument or variable) that does not exist, or no file found
            and the download failed or was not allowed.
    """
    for given, what in ((path, "--data"), (os.environ.get(ENV_VAR), ENV_VAR)):
        if given is not None and (given != "" or what == "--data"):
            if os.fspath(given) == "":
                raise UserError(f"the MNIST path (from {what}) is empty; pass the path of a "
                                "keras-format mnist.npz")
            # os.path.expanduser leaves '~nosuchuser/...' as it is (Path.expanduser raises)
            given = Path(os.path.expanduser(os.fspath(given)))
            if not os.path.lexists(given):
                raise UserError(f"MNIST file '{given}' (from {what}) not found; pass the path "
                                "of a keras-format mnist.npz")
            try:
                return regular_file(given, "MNIST file")
            except UserError as e:
                raise UserError(f"{e} (from {what})") from None
    cache = keras_cache_path()
    if cache.is_file():
        return cache
    if not download:
        raise UserError(f"MNIST not found: {HOW_TO_PASS} (a keras mnist.npz) or set {ENV_VAR}")
    return download_mnist(cache)


def validate_mnist(arrays: dict[str, np.ndarray], source: str = "MNIST file") -> None:
    """Check keys, shapes, dtypes and label range of a keras-layout MNIST dict.

    Expects ``x_*`` uint8 ``(N, 28, 28)`` and ``y_*`` integer ``(N,)`` with values 0-9.

    Raises:
        UserError: naming the first key that is missing or wrong.
    """
    for key in KEYS:
        if key not in arrays:
            raise UserError(f"{source} has no '{key}' array; expected keys {', '.join(KEYS)} "
                            "(keras mnist.npz layout)")
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (28, 28):
            raise UserError(f"{source}: 'x_{split}' should be uint8 (N, 28, 28), "
                            f"got {x.dtype} {x.shape}")
        if not np.issubdtype(y.dtype, np.integer) or y.shape != (x.shape[0],):
            raise UserError(f"{source}: 'y_{split}' should be integer ({x.shape[0]},), "
                            f"got {y.dtype} {y.shape}")
        if len(y) and (y.min() < 0 or y.max() > 9):
            raise UserError(f"{source}: 'y_{split}' has labels outside 0-9 "
                            f"({int(y.min())}..{int(y.max())})")


def load_mnist(path: str | os.PathLike | None = None, download: bool = True):
    """Load MNIST as keras does: ``(x_train, y_train), (x_test, y_test)``.

    Args:
        path: a keras-format ``mnist.npz``; see the module docstring for the fallbacks.
        download: allow the download when no local file is found.
    Returns:
        ``x_*``: uint8 arrays ``(N, 28, 28)``, white digit (255) on black (0);
        ``y_*``: uint8 labels ``(N,)`` in 0-9. Full MNIST: 60,000 train, 10,000 test.
    Raises:
        UserError: no file, an unreadable file, or arrays of the wrong shape or dtype.
    """
    file = find_mnist(path, download)
    with NpzReader(file, "MNIST file") as data:
        for key in KEYS:  # shapes and dtypes from the headers, before any data is read
            member = data.members.get(key)
            if member is None:
                raise UserError(f"MNIST file '{file}' has no '{key}' array; expected keys "
                                f"{', '.join(KEYS)} (keras mnist.npz layout)")
            if key.startswith("x") and (member.dtype != np.uint8 or len(member.shape) != 3
                                        or member.shape[1:] != (28, 28)):
                raise UserError(f"MNIST file '{file}': '{key}' should be uint8 (N, 28, 28), "
                                f"got {member.dtype} {member.shape}")
        arrays = {k: data.array(k) for k in KEYS}
    validate_mnist(arrays, source=f"MNIST file '{file}'")
    return ((arrays["x_train"], arrays["y_train"].astype(np.uint8)),
            (arrays["x_test"], arrays["y_test"].astype(np.uint8)))
