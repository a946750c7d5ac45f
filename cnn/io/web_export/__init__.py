"""``cnn export --web DIR``: a static folder that runs a network in the visitor's browser.

The folder needs no server code, no build step and nothing from the network: ``index.html``,
``style.css``, ``page.js`` (the drawing page), ``cnn.js`` (the forward pass: plain JavaScript
on ``Float32Array``, im2col + GEMM per convolution, eval mode) and ``weights.js`` (the
network). Any static file server serves it, and it also works opened straight from disk
(``file://``), because the weights arrive as a script, not by ``fetch``.

``weights.js`` sets ``window.CNN_WEIGHTS = {"header": {...}, "data": "<base64>"}``:

- ``data``: every array the forward pass needs, float32 little-endian, one after the other,
  base64-encoded (4/3 of the binary size; the price of working from ``file://``);
- ``header``: a small JSON object: the model string, the input shape, the labels ``cnn
  summary`` gives the tokens, and per token its layers in order, each with its hyper-parameters
  and the ``[offset, length]`` (in float32 values) of its arrays in ``data``.

The arrays are the engine's own layouts, not the PyTorch layout of the weights file, so the
browser does what :mod:`cnn.nn.layers` does, channels last:

- convolution ``weight``: ``(k*k*C, F)``, the GEMM operand of :class:`cnn.nn.layers.Conv2D`
  (rows ordered ``p, q, c`` as :func:`cnn.nn.im2col.im2col`'s columns), ``bias`` ``(F,)``;
- batch norm (eval mode): ``scale = gamma / sqrt(running_var + eps)`` and ``shift = beta -
  running_mean * scale``, computed in float32 exactly as :meth:`cnn.nn.layers.BatchNorm.forward`
  does in eval mode, so the browser only does ``x * scale + shift``;
- dense ``weight``: ``(D, U)`` with the inputs in ``H, W, C`` order (:class:`cnn.nn.layers.Dense`);
- dropout is the identity in eval mode and is written as such (no arrays).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np

from cnn.errors import UserError
from cnn.io.npz import clean_accuracy
from cnn.nn import layers as L
from cnn.nn.blocks import ResidualBlock
from cnn.nn.summary import SPATIAL_TOKENS, token_labels

FORMAT = "cnn-web-weights"
FORMAT_VERSION = 1
STATIC_FILES = ("index.html", "style.css", "page.js", "cnn.js")
WEIGHTS_FILE = "weights.js"
EXPORT_FILES = STATIC_FILES + (WEIGHTS_FILE,)


class _Packer:
    """Collects float32 arrays into one buffer; ``add`` returns ``[offset, length]`` in values."""

    def __init__(self) -> None:
        self.parts: list[np.ndarray] = []
        self.size = 0

    def add(self, array: np.ndarray) -> list[int]:
        a = np.ascontiguousarray(array, dtype="<f4").ravel()
        self.parts.append(a)
        where = [self.size, int(a.size)]
        self.size += int(a.size)
        return where

    def tobytes(self) -> bytes:
        return b"".join(p.tobytes() for p in self.parts)


def _layer(module, name: str, pack: _Packer) -> dict:
    """One primitive layer as the header describes it (and its arrays packed)."""
    if isinstance(module, L.Conv2D):
        f = module.filters
        bias = module.params.get("bias")
        return {"type": "conv", "name": name, "kernel": module.kernel, "stride": module.stride,
                "padding": module.padding, "in": module.in_channels, "out": f,
                "weight": pack.add(module.params["weight"].reshape(-1, f)),
                "bias": None if bias is None else pack.add(bias)}
    if isinstance(module, L.BatchNorm):
        # the eval-mode arithmetic of BatchNorm.forward, in the weights' dtype (float32)
        var = module.buffers["running_var"].astype(np.float32)
        inv_std = (1.0 / np.sqrt(var + module.eps)).astype(np.float32)
        scale = module.params["weight"].astype(np.float32) * inv_std
        shift = module.params["bias"].astype(np.float32) - (
            module.buffers["running_mean"].astype(np.float32) * scale)
        return {"type": "bn", "name": name, "channels": module.channels,
                "scale": pack.add(scale), "shift": pack.add(shift)}
    if isinstance(module, L.ReLU):
        return {"type": "relu", "name": name}
    if isinstance(module, L.MaxPool2D):
        return {"type": "maxpool", "name": name, "size": module.size}
    if isinstance(module, L.AvgPool2D):
        return {"type": "avgpool", "name": name, "size": module.size}
    if isinstance(module, L.GlobalAvgPool):
        return {"type": "gap", "name": name}
    if isinstance(module, L.Dropout):
        return {"type": "identity", "name": name}  # eval mode
    if isinstance(module, L.Dense):
        return {"type": "dense", "name": name, "in": module.in_features, "out": module.units,
                "weight": pack.add(module.params["weight"]), "bias": pack.add(
                    module.params["bias"])}
    raise UserError(f"cnn export --web cannot write a {type(module).__name__} layer ('{name}')")


def build_header(model, source: str | None = None) -> tuple[dict, bytes]:
    """The header and the packed float32 arrays of ``model`` (see the module docstring).

    Args:
        model: a :class:`cnn.nn.model.Sequential` (any model string the engine supports).
        source: the weights file's name, recorded in the header.
    Returns:
        ``(header, data)``: a JSON-serializable dict and the little-endian float32 bytes its
        ``[offset, length]`` pairs point into.
    Raises:
        UserError: for a layer the browser engine does not have.
    """
    pack = _Packer()
    labels = token_labels(model)
    tokens = []
    for block, spec, label, shape in zip(model.blocks, model.specs, labels, model.token_shapes):
        token = {"number": block.number, "token": str(spec), "label": label,
                 "shape": list(shape), "map": isinstance(spec, SPATIAL_TOKENS),
                 "relu_deferred": bool(block.relu_deferred)}
        if isinstance(block, ResidualBlock):
            token["type"] = "residual"
        else:
            token["type"] = "sequence"
        token["layers"] = [_layer(m, name, pack) for name, m in block.children.items()]
        tokens.append(token)
    meta = getattr(model, "metadata", {}) or {}
    header = {"format": FORMAT, "version": FORMAT_VERSION, "model": model.model_string,
              "source": source, "accuracy": clean_accuracy(meta.get("accuracy")),
              "input": list(model.input_shape), "classes": model.num_classes,
              "dtype": "float32", "values": pack.size, "tokens": tokens}
    return header, pack.tobytes()


def weights_script(header: dict, data: bytes) -> str:
    """The text of ``weights.js``: the header as JSON and the data as base64."""
    payload = json.dumps({"header": header, "data": base64.b64encode(data).decode("ascii")},
                         separators=(",", ":"))
    return (f"// cnn export --web: {header['model']} (float32 little-endian, base64) and its "
            "header; read by cnn.js.\n" f"window.CNN_WEIGHTS = {payload};\n")


def read_weights_script(path: str | os.PathLike) -> tuple[dict, np.ndarray]:
    """Read back a ``weights.js``: ``(header, float32 array of all values)``; for tests and
    tools."""
    text = Path(path).read_text(encoding="utf-8")
    start = text.index("window.CNN_WEIGHTS = ") + len("window.CNN_WEIGHTS = ")
    obj = json.loads(text[start:].strip().rstrip(";"))
    return obj["header"], np.frombuffer(base64.b64decode(obj["data"]), "<f4")


def _is_export(folder: Path) -> bool:
    """Whether ``folder`` holds a previous web export (its index.html, cnn.js, weights.js)."""
    return all((folder / name).is_file() for name in ("index.html", "cnn.js", WEIGHTS_FILE))


def export_web(model, out: str | os.PathLike, overwrite: bool = False,
               source: str | None = None) -> Path:
    """Write the static folder for ``model`` at ``out``, atomically.

    Everything is written into a temporary folder beside ``out``, then renamed into place, so
    an interrupted export leaves no half-written folder. An existing empty folder is
    replaced; an existing non-empty one only with ``overwrite``, and only if it holds a
    previous web export (so ``--overwrite`` can never wipe an unrelated folder).

    Args:
        model: a :class:`cnn.nn.model.Sequential` in eval mode.
        out: the folder to write.
        overwrite: replace a previous export at ``out``.
        source: the weights file's name, recorded in the header.
    Returns:
        ``out`` as a ``Path``.
    Raises:
        UserError: ``out`` is a file, a non-empty folder (without ``overwrite``), or a
            non-empty folder that is not a web export; a layer the browser cannot run.
        OSError: when the parent folder cannot be written.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--web '{out}' is a file; give a folder to create")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise UserError(f"--web folder '{out}' already exists and is not empty; pass "
                            "--overwrite to replace a previous export, or choose another folder")
        if not _is_export(out):
            raise UserError(f"--web folder '{out}' is not a previous web export (no index.html, "
                            "cnn.js and weights.js); refusing to replace it, choose another folder")
    header, data = build_header(model, source)
    parent = out.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=parent))
    old = None
    try:
        static = resources.files(__package__) / "static"
        for name in STATIC_FILES:
            (tmp / name).write_bytes((static / name).read_bytes())
        (tmp / WEIGHTS_FILE).write_text(weights_script(header, data), encoding="utf-8")
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o777 & ~mask)  # mkdtemp makes it 0700
        for name in EXPORT_FILES:
            os.chmod(tmp / name, 0o666 & ~mask)
        if out.is_dir():
            if any(out.iterdir()):  # a previous export: moved aside, removed once replaced
                old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=parent))
                os.replace(out, old / "previous")
            else:
                out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and (old / "previous").exists() and not out.exists():
            os.replace(old / "previous", out)  # put the previous export back
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return out


def folder_size(folder: str | os.PathLike) -> int:
    """Total bytes of the files in ``folder`` (not recursive: an export is flat)."""
    return sum(p.stat().st_size for p in Path(folder).iterdir() if p.is_file())
