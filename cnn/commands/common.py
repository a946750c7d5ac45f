"""Options and look-ups that several subcommands (and the menu) share."""

from __future__ import annotations

import argparse
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UserError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WEIGHTS_DIR = "weight_output"


@dataclass(frozen=True)
class WeightsInfo:
    """A weights file found in ``weight_output/``: its path, model string and the top-1 test
    accuracy its metadata records (``None`` when it records none)."""

    path: Path
    model: str
    accuracy: float | None


def weights_folders() -> list[Path]:
    """``./weight_output`` then the project's own ``weight_output`` (for an editable install
    run from elsewhere), without duplicates."""
    folders = [Path.cwd() / WEIGHTS_DIR, PROJECT_ROOT / WEIGHTS_DIR]
    unique = []
    for f in folders:
        if f.is_dir() and f.resolve() not in [u.resolve() for u in unique]:
            unique.append(f)
    return unique


def read_weights_info(path: Path) -> WeightsInfo | None:
    """Model string and recorded accuracy of a weights file, without building the model;
    ``None`` if the file cannot be read."""
    from ..weights import REFERENCE_NAME

    try:
        with np.load(path, allow_pickle=False) as data:
            if "model" in data.files:
                meta = json.loads(str(data["metadata"])) if "metadata" in data.files else {}
                return WeightsInfo(path, str(data["model"]), meta.get("accuracy"))
    except (OSError, ValueError, zipfile.BadZipFile, EOFError):
        return None
    match = REFERENCE_NAME.search(path.name)
    return WeightsInfo(path, match.group(1), None) if match else None


def list_weights(folder: Path | None = None) -> list[WeightsInfo]:
    """Readable weights files in ``folder`` (default: :func:`weights_folders`), sorted by
    file name."""
    folders = [folder] if folder else weights_folders()
    found = []
    for f in folders:
        for path in sorted(Path(f).glob("*.npz")):
            info = read_weights_info(path)
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


def add_weights_option(parser: argparse.ArgumentParser) -> None:
    """``--weights PATH`` (default: the best file in weight_output/)."""
    parser.add_argument("--weights", metavar="PATH", default=None,
                        help="weights .npz or .onnx file (default: the most accurate one in "
                             "weight_output/)")


def add_data_option(parser: argparse.ArgumentParser) -> None:
    """``--data PATH`` to a keras-format mnist.npz."""
    parser.add_argument("--data", metavar="PATH", default=None,
                        help="keras-format mnist.npz (default: $CNN_MNIST_DATA, then "
                             "~/.keras/datasets/mnist.npz, then a download)")


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def percent(x: float) -> str:
    """``0.9504 -> '95.04%'``."""
    return f"{100 * x:.2f}%"
