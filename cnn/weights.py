"""Weights files: save, load, and the one adapter for older layouts.

Format version 2 (written by this version): an ``.npz`` read with ``allow_pickle=False``,
holding the model's ``state_dict`` under dotted keys by token number, in PyTorch layout:

- ``<t>.conv.weight`` ``(F, C, k, k)``, ``<t>.conv.bias`` ``(F,)``;
- ``<t>.fc.weight`` ``(out, in)`` (a first FC's inputs in ``C, H, W`` order), ``<t>.fc.bias``;
- ``<t>.bn.weight`` / ``.bias`` / ``.running_mean`` / ``.running_var`` ``(C,)``;
- residual blocks: ``<t>.conv1``, ``<t>.bn1``, ``<t>.conv2``, ``<t>.bn2``, and when the shape
  changes ``<t>.proj`` (1x1 conv) and ``<t>.proj_bn``;

plus ``model`` (the canonical model string), ``format_version`` (2), ``normalization``
(``x/255``) and ``metadata`` (JSON), so the file alone rebuilds its model.

Older layouts load through :func:`upgrade_arrays`, the one adapter:

- version 1 (ours before residual blocks) and the reference NumPy CNN-MNIST project's files:
  ``weight_<t>`` / ``bias_<t>`` per token ``t`` (1-based, pooling counted), the same PyTorch
  layouts; reference files carry the model string only in their file name
  ``weight_details<model string>.npz`` and hold float64 arrays (cast to float32).
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from pathlib import Path

import numpy as np

from .errors import UserError
from .files import atomic_write
from .model import Sequential
from .parse import FC, Conv

FORMAT_VERSION = 2
NORMALIZATION = "x/255"  # input pixels: uint8 / 255 -> [0, 1], white digit on black
REFERENCE_NAME = re.compile(r"weight_details(.+?)(?:_\d+)?\.npz$", re.IGNORECASE)
META_KEYS = ("model", "format_version", "normalization", "metadata")


def default_weights_path(model_string: str, folder: str | os.PathLike = "weight_output") -> Path:
    """``<folder>/weight_details<model string>.npz``, the reference project's naming."""
    return Path(folder) / f"weight_details{model_string}.npz"


def upgrade_arrays(arrays: dict[str, np.ndarray], model: Sequential,
                   version: int) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Map a file's arrays to the current (version 2) state-dict keys.

    Args:
        arrays: the file's arrays (metadata entries may be present; they are ignored).
        model: the network the file describes (its tokens decide ``conv`` or ``fc``).
        version: the file's ``format_version`` (0 for the reference project's files).
    Returns:
        ``(state, names)``: the arrays under version-2 keys, and for each version-2 key the
        key the file used (for error messages that name the file's own array).
    """
    if version >= 2:
        return {k: v for k, v in arrays.items() if k not in META_KEYS}, {}
    state, names = {}, {}
    for t, spec in enumerate(model.specs, start=1):
        sub = "conv" if isinstance(spec, Conv) else "fc" if isinstance(spec, FC) else None
        if sub is None:
            continue
        for old, new in ((f"weight_{t}", f"{t}.{sub}.weight"), (f"bias_{t}", f"{t}.{sub}.bias")):
            names[new] = old
            if old in arrays:
                state[new] = arrays[old]
    return state, names


def save_model(model: Sequential, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write the model's weights file (format version 2) atomically, never replacing a file
    unless asked.

    Args:
        model: the network; its ``metadata`` dict is stored as JSON.
        path: target ``.npz`` path.
        overwrite: replace an existing file; otherwise a free name is chosen
            (``<stem>_1.npz``, ...).
    Returns:
        the path actually written.
    """
    arrays = model.state_dict()
    meta = dict(model.metadata, numpy_version=np.__version__)
    extra = {
        "model": np.array(model.model_string),
        "format_version": np.array(FORMAT_VERSION),
        "normalization": np.array(NORMALIZATION),
        "metadata": np.array(json.dumps(meta, sort_keys=True)),
    }
    return atomic_write(path, lambda f: np.savez(f, **arrays, **extra), overwrite=overwrite)


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, without pickle.

    Raises:
        UserError: missing or unreadable file.
    """
    if not path.is_file():
        raise UserError(f"weights file '{path}' not found; pass an existing .npz file "
                        "(see weight_output/) or train one with 'cnn train'")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise UserError(f"cannot read weights file '{path}': {e}") from None


def load_model(path: str | os.PathLike, num_classes: int | None = 10) -> Sequential:
    """Rebuild a network from a weights file: version 2, version 1, the reference project's,
    or an ONNX file (``*.onnx``, through :func:`cnn.onnx_import.load_onnx`).

    Returns:
        a :class:`cnn.model.Sequential` in eval mode, with its weights and ``metadata``
        (``{"source": "reference project"}`` for reference files).
    Raises:
        UserError: missing or unreadable file, no model string, a newer format version, or
            arrays that do not fit (naming the file's array and both shapes).
    """
    path = Path(path)
    if path.suffix.lower() == ".onnx":  # ONNX files: translated to a model string + state
        from .onnx_import import load_onnx

        return load_onnx(path, num_classes)
    arrays = load_arrays(path)
    if "model" in arrays:
        model_string = str(arrays["model"])
        version = int(arrays.get("format_version", 1))
        if version > FORMAT_VERSION:
            raise UserError(f"weights file '{path}' has format version {version}; this cnn "
                            f"reads up to {FORMAT_VERSION}: upgrade cnn")
        metadata = json.loads(str(arrays["metadata"])) if "metadata" in arrays else {}
    else:
        match = REFERENCE_NAME.search(path.name)
        if not match:
            raise UserError(f"weights file '{path}' has no model string: name it "
                            "weight_details<model string>.npz, e.g. "
                            "weight_detailsC(8,5)-P2-C(16,3)-P2-FC128-FC10.npz")
        model_string, version, metadata = match.group(1), 0, {"source": "reference project"}
    try:
        model = Sequential(model_string, num_classes=num_classes)
    except UserError as e:
        raise UserError(f"weights file '{path}': {e}") from None
    state, names = upgrade_arrays(arrays, model, version)
    where = f"weights file '{path}' does not fit {model.model_string}"
    for key, shape in model.expected_shapes().items():
        name = names.get(key, key)
        if key not in state:
            raise UserError(f"{where}: it has no '{name}' array (expected shape {shape})")
        if tuple(state[key].shape) != tuple(shape):
            raise UserError(f"{where}: '{name}' has shape {tuple(state[key].shape)} but the "
                            f"model needs {tuple(shape)}")
    model.load_state_dict(state, source=f"weights file '{path}'")
    model.metadata = metadata
    return model.eval()
