"""Sequential networks built from model strings, and their weights files.

A model string (``cnn.parse``) becomes a list of primitive layers (``cnn.layers``). A
convolution followed by pooling is built as Conv2D -> MaxPool2D -> ReLU rather than
Conv2D -> ReLU -> MaxPool2D: max pooling commutes with the monotone ReLU, so the output is the
same, the ReLU touches 4x fewer values, and the pooling output before that ReLU is exactly the
"pre-ReLU activation" of the pooling token that feature visualization maximizes.

Weights files (``.npz``, read with ``allow_pickle=False``) use the layout of the reference
NumPy CNN-MNIST project and PyTorch, so other code can read them: ``weight_<i>`` / ``bias_<i>``
for token ``i`` (1-based, pooling counted), convolution weights ``(F, C, k, k)``, FC weights
``(out, in)`` with the first FC's inputs in ``C, H, W`` order. Ours add ``model`` (the model
string), ``format_version``, ``normalization`` and ``metadata`` (JSON), so the file alone
rebuilds its model. Reference files carry the model string only in their file name.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np

from . import layers as L
from .errors import UserError
from .files import atomic_write, free_path  # noqa: F401  (re-exported)
from .weights_io import read_weights_file
from .losses import softmax
from .parse import MNIST_INPUT_SHAPE, FC, Conv, Pool, format_model, layer_shapes, parse_model

FORMAT_VERSION = 1
NORMALIZATION = "x/255"  # input pixels: uint8 / 255 -> [0, 1], white digit on black


class Sequential:
    """A network of primitive layers compiled from a model string.

    Args:
        model: model string, e.g. ``"C(8,5)-P2-C(16,3)-P2-FC128-FC10"``.
        rng: ``numpy.random.Generator`` for He initialisation (``None``: zero weights, to be
            loaded from a file).
        input_shape: per-example ``(H, W, C)``; MNIST's ``(28, 28, 1)`` by default.
        num_classes: units the last FC must have (``None``: any).
    Attributes:
        layers: the primitive layers, in order.
        specs: the parsed tokens; ``token_shapes[t]`` is token ``t + 1``'s output shape.
        token_pre: for each token, the index in ``layers`` of the layer whose output is the
            token's pre-activation (before its ReLU).
        token_relu: for each token, whether a ReLU follows it.
        metadata: dict of training metadata (epochs, batch size, lr, seed, accuracy, ...).
    Raises:
        UserError: for a malformed model string.
    """

    def __init__(self, model: str, rng: np.random.Generator | None = None,
                 input_shape: tuple[int, int, int] = MNIST_INPUT_SHAPE,
                 num_classes: int | None = 10) -> None:
        self.specs = parse_model(model, num_classes=num_classes, input_shape=input_shape)
        self.model_string = format_model(self.specs)
        self.input_shape = tuple(input_shape)
        self.token_shapes = layer_shapes(self.specs, self.input_shape)
        self.metadata: dict = {}
        self.layers: list[L.Layer] = []
        self.token_pre: list[int] = []
        self.token_relu: list[bool] = []
        shape = self.input_shape
        relu_pending = False  # a convolution's ReLU moved after the pooling that follows it
        last = len(self.specs) - 1
        for t, spec in enumerate(self.specs):
            if isinstance(spec, Conv):
                self.layers.append(L.Conv2D(shape[2], spec.filters, spec.kernel, rng))
                self.token_pre.append(len(self.layers) - 1)
                self.token_relu.append(True)
                if t < last and isinstance(self.specs[t + 1], Pool):
                    relu_pending = True
                else:
                    self.layers.append(L.ReLU())
            elif isinstance(spec, Pool):
                self.layers.append(L.MaxPool2D(spec.size))
                self.token_pre.append(len(self.layers) - 1)
                self.token_relu.append(relu_pending)
                if relu_pending:
                    self.layers.append(L.ReLU())
                    relu_pending = False
            else:
                if len(shape) == 3:
                    self.layers.append(L.Flatten())
                self.layers.append(L.Dense(int(np.prod(shape)), spec.units, rng,
                                           gain=2.0 if t < last else 1.0))
                self.token_pre.append(len(self.layers) - 1)
                self.token_relu.append(t < last)
                if t < last:
                    self.layers.append(L.ReLU())
            shape = self.token_shapes[t]
        self.layers[0].needs_input_grad = False

    # ----------------------------------------------------------------- compute
    def forward(self, x: np.ndarray, training: bool = False, stop: int | None = None) -> np.ndarray:
        """Run the layers on a batch.

        Args:
            x: float32 (or float64) batch, shape ``(N, H, W, C)``, pixels in [0, 1].
            training: cache what ``backward`` needs.
            stop: index in ``layers`` of the last layer to run (default: all), e.g.
                ``token_pre[t]`` for token ``t``'s pre-activation.
        Returns:
            the output of layer ``stop``; by default the logits, shape ``(N, num_classes)``.
        """
        end = len(self.layers) if stop is None else stop + 1
        for layer in self.layers[:end]:
            x = layer.forward(x, training)
        return x

    def backward(self, dout: np.ndarray, start: int | None = None,
                 input_grad: bool = False) -> np.ndarray | None:
        """Backpropagate ``dout`` from layer ``start`` (default: the last) down to the input.

        Fills every layer's ``grads``; call after ``forward(..., training=True)``.

        Args:
            dout: gradient of the loss (or objective) with respect to layer ``start``'s output.
            start: index in ``layers`` whose output ``dout`` refers to.
            input_grad: also compute and return dLoss/dInput, shape ``(N, H, W, C)`` (used by
                feature visualization and gradient checks); otherwise return ``None``.
        """
        self.layers[0].needs_input_grad = input_grad
        begin = len(self.layers) - 1 if start is None else start
        for layer in reversed(self.layers[: begin + 1]):
            dout = layer.backward(dout)
        return dout

    def logits(self, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """Logits for a batch of images, computed in chunks of ``batch_size``.

        Args:
            x: images, ``(N, H, W)`` or ``(N, H, W, C)``; uint8 in [0, 255] (scaled by 1/255)
                or float in [0, 1].
        Returns:
            float32 array of shape ``(N, num_classes)``.
        """
        x = to_input(x, self.input_shape)
        return np.concatenate(
            [self.forward(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
        ) if len(x) else np.zeros((0, self.specs[-1].units), np.float32)

    def predict_proba(self, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """Softmax probabilities, float32 ``(N, num_classes)``, rows summing to 1."""
        return softmax(self.logits(x, batch_size))

    # ------------------------------------------------------------- parameters
    @property
    def parametrized(self) -> list[L.Layer]:
        """The layers that have parameters (convolution and FC), in order."""
        return [layer for layer in self.layers if layer.params]

    def num_params(self) -> int:
        """Total number of trainable scalars."""
        return sum(v.size for layer in self.layers for v in layer.params.values())

    def astype(self, dtype) -> "Sequential":
        """Cast every parameter to ``dtype`` in place (float64 for gradient checks)."""
        for layer in self.layers:
            layer.astype(dtype)
        return self

    def get_weights(self) -> dict[str, np.ndarray]:
        """Weights in the file layout: ``weight_<i>``/``bias_<i>`` per token ``i`` (1-based),
        conv ``(F, C, k, k)``, FC ``(out, in)`` with the first FC's inputs in C, H, W order."""
        out = {}
        prev_shape = self.input_shape
        for t, spec in enumerate(self.specs):
            layer = self.layers[self.token_pre[t]]
            if isinstance(spec, Conv):
                out[f"weight_{t + 1}"] = layer.params["W"].transpose(3, 2, 0, 1)
            elif isinstance(spec, FC):
                w = layer.params["W"]  # (in, out)
                if len(prev_shape) == 3:  # inputs in H, W, C order -> C, H, W
                    h, wd, c = prev_shape
                    w = w.reshape(h, wd, c, -1).transpose(3, 2, 0, 1).reshape(w.shape[1], -1)
                else:
                    w = w.T
                out[f"weight_{t + 1}"] = w
            if not isinstance(spec, Pool):
                out[f"bias_{t + 1}"] = layer.params["b"]
            prev_shape = self.token_shapes[t]
        return {k: np.ascontiguousarray(v) for k, v in out.items()}

    def expected_shapes(self) -> dict[str, tuple[int, ...]]:
        """Shape of every array a weights file for this model must hold, by key."""
        return {k: v.shape for k, v in self.get_weights().items()}

    def set_weights(self, arrays: dict[str, np.ndarray], source: str = "weights") -> None:
        """Load arrays in the file layout (see :meth:`get_weights`), cast to float32.

        Raises:
            UserError: naming the first missing key or the array whose shape does not fit.
        """
        expected = self.expected_shapes()
        for key, shape in expected.items():
            if key not in arrays:
                raise UserError(f"{source} does not fit {self.model_string}: it has no "
                                f"'{key}' array (expected shape {shape})")
            if tuple(arrays[key].shape) != shape:
                raise UserError(f"{source} does not fit {self.model_string}: '{key}' has shape "
                                f"{tuple(arrays[key].shape)} but the model needs {shape}")
        prev_shape = self.input_shape
        for t, spec in enumerate(self.specs):
            layer = self.layers[self.token_pre[t]]
            if isinstance(spec, Conv):
                layer.params["W"] = np.ascontiguousarray(
                    arrays[f"weight_{t + 1}"].transpose(2, 3, 1, 0), dtype=np.float32)
            elif isinstance(spec, FC):
                w = np.asarray(arrays[f"weight_{t + 1}"])  # (out, in)
                if len(prev_shape) == 3:
                    h, wd, c = prev_shape
                    w = w.reshape(-1, c, h, wd).transpose(2, 3, 1, 0).reshape(h * wd * c, -1)
                else:
                    w = w.T
                layer.params["W"] = np.ascontiguousarray(w, dtype=np.float32)
            if not isinstance(spec, Pool):
                layer.params["b"] = np.ascontiguousarray(arrays[f"bias_{t + 1}"], dtype=np.float32)
            prev_shape = self.token_shapes[t]


def to_input(images: np.ndarray, input_shape: tuple[int, int, int] = MNIST_INPUT_SHAPE) -> np.ndarray:
    """Turn images into the network's input: float32 ``(N, H, W, C)`` in [0, 1].

    Args:
        images: ``(N, H, W)`` or ``(N, H, W, C)``; uint8 in [0, 255] is divided by 255
            (the normalization the weights files record as ``x/255``); floats are taken as
            already in [0, 1].
    Raises:
        ValueError: if the per-image shape is not ``input_shape``.
    """
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[1:] != tuple(input_shape):
        raise ValueError(f"images of shape (N, {input_shape[0]}, {input_shape[1]}) expected, "
                         f"got {np.shape(images)}")
    if x.dtype == np.uint8:
        return x.astype(np.float32) / np.float32(255)
    return np.ascontiguousarray(x, dtype=np.float32)


# ---------------------------------------------------------------- weights files
REFERENCE_NAME = re.compile(r"weight_details(.+?)(?:_\d+)?\.npz$", re.IGNORECASE)


def default_weights_path(model_string: str, folder: str | os.PathLike = "weight_output") -> Path:
    """``<folder>/weight_details<model string>.npz``, the reference project's naming."""
    return Path(folder) / f"weight_details{model_string}.npz"


def save_model(model: Sequential, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write the model's weights file atomically, never replacing a file unless asked.

    Args:
        model: the network; its ``metadata`` dict is stored as JSON.
        path: target ``.npz`` path.
        overwrite: replace an existing file; otherwise a free name is chosen
            (``<stem>_1.npz``, ...).
    Returns:
        the path actually written.
    """
    arrays = model.get_weights()
    meta = dict(model.metadata, numpy_version=np.__version__)
    extra = {
        "model": np.array(model.model_string),
        "format_version": np.array(FORMAT_VERSION),
        "normalization": np.array(NORMALIZATION),
        "metadata": np.array(json.dumps(meta, sort_keys=True)),
    }
    return atomic_write(path, lambda f: np.savez(f, **arrays, **extra), overwrite=overwrite)


def load_model(path: str | os.PathLike, num_classes: int | None = 10) -> Sequential:
    """Rebuild a network from a weights file: ours, or the reference project's.

    Ours carry the model string; for the reference project's files it is read from the file
    name ``weight_details<model string>.npz`` and their float64 arrays are cast to float32.

    Returns:
        a :class:`Sequential` with its weights and ``metadata`` (``{}`` for reference files).
    Raises:
        UserError: missing or unreadable file, no model string, or arrays that do not fit.
    """
    path = Path(path)
    if not os.path.lexists(path):
        raise UserError(f"weights file '{path}' not found; pass an existing .npz file "
                        "(see weight_output/) or train one with 'cnn train'")
    built: dict[str, Sequential] = {}

    def shapes_for(model_string: str) -> dict[str, tuple[int, ...]]:
        built["model"] = Sequential(model_string, num_classes=num_classes)
        return built["model"].expected_shapes()

    def model_from_name() -> str | None:
        match = REFERENCE_NAME.search(path.name)
        return match.group(1) if match else None

    contents = read_weights_file(path, shapes_for, model_from_name, FORMAT_VERSION)
    model, arrays, metadata = built["model"], contents.arrays, contents.metadata
    model.set_weights(arrays, source=f"weights file '{path}'")
    model.metadata = metadata
    return model
