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

Older layouts load through :func:`file_keys`, the one adapter:

- version 1 (ours before residual blocks) and the reference NumPy CNN-MNIST project's files:
  ``weight_<t>`` / ``bias_<t>`` per token ``t`` (1-based, pooling counted), the same PyTorch
  layouts; reference files carry the model string only in their file name
  ``weight_details<model string>.npz`` and hold float64 arrays (cast to float32).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np

from cnn.errors import UserError
from cnn.files import atomic_write
from cnn.io.npz import NpzReader, read_weights_header
from cnn.nn.model import Sequential
from cnn.nn.weight_limits import check_weights

FORMAT_VERSION = 2
NORMALIZATION = "x/255"  # input pixels: uint8 / 255 -> [0, 1], white digit on black
REFERENCE_NAME = re.compile(r"weight_details(.+?)(?:_\d+)?\.npz$", re.IGNORECASE)


def default_weights_path(model_string: str, folder: str | os.PathLike = "weight_output") -> Path:
    """``<folder>/weight_details<model string>.npz``, the reference project's naming."""
    return Path(folder) / f"weight_details{model_string}.npz"


def file_keys(model: Sequential, version: int) -> dict[str, str]:
    """The one adapter between file layouts: for each version-2 state-dict key of ``model``,
    the key a file of ``format_version`` ``version`` stores it under.

    Version 2: the same dotted key. Version 1 and the reference project's files (version 0):
    ``weight_<t>`` / ``bias_<t>`` for the ``conv`` or ``fc`` of token ``t``, in the same
    PyTorch layouts (those models have no other arrays).
    """
    keys = model.expected_shapes()
    if version >= 2:
        return {key: key for key in keys}
    names = {}
    for key in keys:
        token, _, name = key.split(".")
        names[key] = f"{name}_{token}"  # '3.conv.weight' -> 'weight_3'
    return names


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


def load_model(path: str | os.PathLike, num_classes: int | None = 10) -> Sequential:
    """Rebuild a network from a weights file: version 2, version 1, the reference project's,
    or an ONNX file (``*.onnx``, through :func:`cnn.io.onnx_import.load_onnx`).

    The file is read lazily and checked by :mod:`cnn.io.npz` (``.npy`` members only, real
    numbers, sizes before data, finite weights, integer format version, JSON metadata); only
    the arrays the model needs are read, after their shapes have been checked.

    Returns:
        a :class:`cnn.nn.model.Sequential` in eval mode, with its weights and ``metadata``
        (``{"source": "reference project"}`` for reference files).
    Raises:
        UserError: missing or unreadable file, no model string, a newer format version, or
            arrays that do not fit (naming the file's own array and both shapes), or finite
            but broken values (a negative running variance, a weight beyond +-1e6:
            :mod:`cnn.nn.weight_limits`).
    """
    path = Path(path)
    if path.suffix.lower() == ".onnx":  # ONNX files: translated to a model string + state
        from cnn.io.onnx_import import load_onnx

        return load_onnx(path, num_classes)
    if not os.path.lexists(path):
        raise UserError(f"weights file '{path}' not found; pass an existing .npz file "
                        "(see weight_output/) or train one with 'cnn train'")

    def model_from_name() -> str | None:
        match = REFERENCE_NAME.search(path.name)
        return match.group(1) if match else None

    with NpzReader(path, "weights file") as reader:
        model_string, version, metadata = read_weights_header(reader, model_from_name,
                                                              FORMAT_VERSION)
        try:
            model = Sequential(model_string, num_classes=num_classes)
        except UserError as e:
            raise UserError(f"{reader.name}: {e}") from None
        names = file_keys(model, version)
        where = f"{reader.name} does not fit {model.model_string}"
        expected = model.expected_shapes()
        for key, shape in expected.items():  # every header checked before any data is read
            member = reader.members.get(names[key])
            if member is None:
                raise UserError(f"{where}: it has no '{names[key]}' array (expected shape "
                                f"{tuple(shape)})")
            if member.shape != tuple(shape):
                raise UserError(f"{where}: '{names[key]}' has shape {member.shape} but the "
                                f"model needs {tuple(shape)}")
        state = {key: reader.array(names[key], shape, finite=True)
                 for key, shape in expected.items()}
    check_weights(state, reader.name)  # finite but broken: negative variance, 3e38, 1e300
    model.load_state_dict(state, source=reader.name)
    model.metadata = metadata
    return model.eval()
