"""The weights files cnn can find: the shipped ones and the user's ``weight_output/``.

Shipped folders (weights, sample images, visualization input) are the checkout's own folders
or, after a regular install, the package data they are installed as (see setup.py).

Which weights files are *shipped* is named, not guessed: ``weight_output/shipped.json`` (the
manifest) lists each file with its SHA-256 and its role: ``default`` (what a command uses
without ``--weights``), ``member`` (with the default, the ensemble ``--weights shipped``),
``gate`` (the not-a-digit networks) or ``line`` (the network that tells one digit from several,
for the number reader's segments and whole-line test: :mod:`cnn.tasks.numbers`). A file is
shipped only if its name and hash match the manifest; anything else in ``weight_output/``
(what ``cnn train`` writes there) is the user's, listed as such and never packed into the
wheel (setup.py reads the same manifest).
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from cnn.errors import UserError
from cnn.text import printable

PROJECT_ROOT = Path(__file__).resolve().parents[2]


WEIGHTS_DIR = "weight_output"
MANIFEST = "shipped.json"
ROLES = ("default", "member", "gate", "line")
SHIPPED_KEYWORD = "shipped"  # --weights shipped: the default and the members, as an ensemble


@dataclass(frozen=True)
class WeightsInfo:
    """A weights file found in ``weight_output/``: its path, model string, the top-1 test
    accuracy its metadata records (``None`` when it records none), and its role in the
    manifest (``"default"``, ``"member"``; ``None`` for a file of the user's)."""

    path: Path
    model: str
    accuracy: float | None
    role: str | None = None

    @property
    def shipped(self) -> bool:
        return self.role is not None


@dataclass(frozen=True)
class ShippedFile:
    """One entry of the manifest: the file's path, its role and its SHA-256 (hex)."""

    path: Path
    role: str
    sha256: str


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


def read_manifest(folder: Path | None = None) -> list[ShippedFile]:
    """The entries of ``<folder>/shipped.json`` (default: the shipped ``weight_output/``), in
    the manifest's order; ``[]`` when there is no manifest.

    Raises:
        UserError: a manifest that is not the JSON this module writes (a broken install).
    """
    folder = folder if folder is not None else shipped_folder(WEIGHTS_DIR)
    if folder is None or not (folder / MANIFEST).is_file():
        return []
    return list(_read_manifest(folder / MANIFEST)[0])


@functools.lru_cache(maxsize=8)
def _read_manifest(path: Path) -> tuple[tuple[ShippedFile, ...], dict]:
    """The manifest's entries and its whole document, read and checked once per path."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        entries = tuple(ShippedFile(path.parent / e["file"], e["role"], e["sha256"])
                        for e in doc["files"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UserError(f"the manifest of shipped weights '{path}' is unreadable ({e}); "
                        "reinstall cnn") from None
    if any(e.role not in ROLES for e in entries):
        raise UserError(f"the manifest '{path}' names a role outside {', '.join(ROLES)}; "
                        "reinstall cnn")
    return entries, doc


def shipped_gate_threshold() -> float | None:
    """The not-a-digit threshold of the shipped gates used together (``gate_threshold`` in the
    manifest: it applies to the mean of their P(not a digit), :mod:`cnn.tasks.reject`), or
    ``None`` when the manifest gives none.

    Raises:
        UserError: a manifest whose ``gate_threshold`` is not a number in (0, 1].
    """
    folder = shipped_folder(WEIGHTS_DIR)
    if folder is None or not (folder / MANIFEST).is_file():
        return None
    value = _read_manifest(folder / MANIFEST)[1].get("gate_threshold")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise UserError(f"the manifest '{folder / MANIFEST}' gives gate_threshold {value!r}, "
                        "not a probability; reinstall cnn")
    return float(value)


@functools.lru_cache(maxsize=64)
def _sha256(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def role_of(path: Path) -> str | None:
    """The manifest role of ``path`` if it is a shipped file (its place and its SHA-256 match
    an entry), else ``None``: a file the user trained or copied, even under a shipped name."""
    path = Path(path)
    try:
        resolved, stat = path.resolve(), path.stat()
    except OSError:
        return None
    for entry in read_manifest():
        if entry.path.resolve() == resolved:
            same = _sha256(resolved, stat.st_size, stat.st_mtime_ns) == entry.sha256
            return entry.role if same else None
    return None


def shipped_files(*roles: str) -> list[Path]:
    """The shipped files with one of ``roles`` (all roles if none given), present and intact
    (their hash matches the manifest), in the manifest's order."""
    return [e.path for e in read_manifest()
            if (not roles or e.role in roles) and e.path.is_file() and role_of(e.path)]


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
                       clean_accuracy(model.metadata.get("accuracy")), role_of(Path(path)))


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
    """The shipped default (the manifest's ``default`` entry); without a manifest (a copy of
    cnn without its weights), the readable file with the highest recorded test accuracy.

    Raises:
        UserError: when there is no manifest and ``weight_output/`` holds no readable file.
    """
    default = shipped_files("default")
    if default:
        return default[0]
    found = [w for w in list_weights() if w.accuracy is not None] or list_weights()
    if not found:
        raise UserError("no weights file found in weight_output/: pass --weights PATH or "
                        "train one with 'cnn train --model ...'")
    return max(found, key=lambda w: w.accuracy or 0.0).path
