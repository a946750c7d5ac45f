"""The weights files cnn can find: the shipped ones and the user's ``weight_output/``.

Shipped folders (weights, sample images, visualization input) are the checkout's own folders
or, after a regular install, the package data they are installed as (see setup.py).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from cnn.errors import UserError
from cnn.text import printable

PROJECT_ROOT = Path(__file__).resolve().parents[2]


WEIGHTS_DIR = "weight_output"


@dataclass(frozen=True)
class WeightsInfo:
    """A weights file found in ``weight_output/``: its path, model string and the top-1 test
    accuracy its metadata records (``None`` when it records none)."""

    path: Path
    model: str
    accuracy: float | None


SHIPPED_PACKAGES = {  # top-level folder of the checkout -> package it is installed as
    "weight_output": "cnn._shipped_weights",
    "custom_test_images": "cnn._samples",
    "feature_visualize": "cnn._visualize_input",
}


def shipped_folder(name: str) -> Path | None:
    """Where a folder shipped with cnn lies: the checkout's own ``<name>/`` (a checkout or an
    editable install), else the package data of a regular install (``pip install .`` or the
    wheel map ``weight_output/`` to ``cnn/_shipped_weights/``, ``custom_test_images/`` to
    ``cnn/_samples/`` and ``feature_visualize/input.jpg`` to ``cnn/_visualize_input/``, see
    pyproject.toml); ``None`` if neither exists."""
    if (PROJECT_ROOT / name).is_dir():
        return PROJECT_ROOT / name
    installed = Path(__file__).resolve().parents[1] / SHIPPED_PACKAGES[name].split(".")[1]
    return installed if installed.is_dir() else None


def weights_folders() -> list[Path]:
    """``./weight_output`` then the shipped ``weight_output`` (:func:`shipped_folder`: the
    checkout's, or the installed package's), without duplicates."""
    folders = [Path.cwd() / WEIGHTS_DIR, shipped_folder(WEIGHTS_DIR)]
    unique = []
    for f in folders:
        if f is not None and f.is_dir() and f.resolve() not in [u.resolve() for u in unique]:
            unique.append(f)
    return unique


_warned: set[str] = set()


def read_weights_info(path: Path, warn: bool = False) -> WeightsInfo | None:
    """Model string and recorded accuracy of a weights file, after checking that it loads
    (:func:`cnn.io.weights.load_model`: readable, fits its model, finite weights); ``None`` if it
    does not, with a one-line warning on stderr when ``warn`` (once per file and process)."""
    from cnn.io.npz import clean_accuracy
    from cnn.io.weights import load_model

    try:
        model = load_model(path)
    except UserError as e:
        if warn and str(path) not in _warned:
            _warned.add(str(path))
            print(f"cnn: warning: skipping {printable(path.name)}: {printable(e)}",
                  file=sys.stderr)
        return None
    return WeightsInfo(Path(path), model.model_string,
                       clean_accuracy(model.metadata.get("accuracy")))


def list_weights(folder: Path | None = None) -> list[WeightsInfo]:
    """Usable weights files in ``folder`` (default: :func:`weights_folders`), sorted by file
    name; a file that cannot be used is skipped with a one-line warning on stderr."""
    folders = [folder] if folder else weights_folders()
    found = []
    for f in folders:
        for path in sorted(Path(f).glob("*.npz")):
            info = read_weights_info(path, warn=True)
            if info is not None:
                found.append(info)
    return found


def default_weights() -> Path:
    """The shipped weights file with the highest recorded test accuracy.

    Raises:
        UserError: when ``weight_output/`` holds no readable weights file.
    """
    found = [w for w in list_weights() if w.accuracy is not None] or list_weights()
    if not found:
        raise UserError("no weights file found in weight_output/: pass --weights PATH or "
                        "train one with 'cnn train --model ...'")
    return max(found, key=lambda w: w.accuracy or 0.0).path
