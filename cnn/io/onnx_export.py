"""ONNX export: a :class:`cnn.nn.model.Sequential` -> an ONNX model built with ``onnx.helper``.

The graph runs in NCHW, as ONNX Runtime, PyTorch and Netron expect:

- input ``input``: float32 ``[N, 1, 28, 28]`` (``N`` a dynamic axis named ``N``), pixels in
  [0, 1] (``x / 255`` of a white-on-black MNIST-style image);
- output ``logits``: float32 ``[N, 10]`` (or ``probabilities``, a ``Softmax``, with
  ``softmax=True``).

Each token's block becomes the nodes of its sub-layers, named ``<token>.<sub-layer>`` (as the
state-dict keys), with the arrays of :meth:`cnn.nn.module.Module.state_dict` (already PyTorch's
NCHW layouts) as initializers:

- ``C``: ``Conv`` (strides, pads) and ``Relu``; a ``C`` followed by ``P`` keeps our order
  Conv - MaxPool - Relu, which equals Conv - Relu - MaxPool (ReLU is monotone);
- ``P<k>`` / ``A<k>``: ``MaxPool`` / ``AveragePool`` with kernel and stride ``k``. Our pooling is
  ceil mode (``ceil(H / k)``, a partial window at the bottom/right edge pools what it covers);
  that is written as an explicit bottom/right padding of ``(k - H % k) % k`` with floor
  rounding (and ``count_include_pad=0``, so a partial average divides by the pixels it
  covers), which every runtime computes the same way;
- ``BN``: ``BatchNormalization`` with the running statistics (eval mode), then ``Relu``;
- ``R``: Conv - BN - Relu - Conv - BN, plus the shortcut (the input, or a 1x1 Conv - BN), ``Add``,
  ``Relu``;
- ``D``: nothing (dropout is the identity at inference);
- ``GAP``: ``GlobalAveragePool`` then ``Flatten``;
- ``FC``: ``Flatten`` (first FC after a feature map: the ``C, H, W`` order of the state dict)
  then ``Gemm`` with ``transB=1`` (weight ``(out, in)``, as PyTorch's ``Linear``).

The model string, the input normalization and the training metadata go into
``metadata_props`` so the file explains itself.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from cnn import __version__
from cnn.errors import UserError
from cnn.files import atomic_write
from cnn.nn import layers as L
from cnn.nn.blocks import ResidualBlock
from cnn.nn.model import Sequential

DEFAULT_OPSET = 17
MIN_OPSET = 11  # Gemm with an optional C, Flatten with any axis, pads on every pooling node
INPUT_NAME, LOGITS_NAME, PROBS_NAME = "input", "logits", "probabilities"
NORMALIZATION_NOTE = ("x/255: float32 [N, 1, 28, 28], pixels in [0, 1], white digit on a black "
                      "background, as MNIST")


def _onnx():
    try:
        import onnx
    except ImportError:
        raise UserError("ONNX export needs the 'onnx' package: pip install onnx "
                        "(or pip install 'cnn[onnx]')") from None
    return onnx


def max_opset() -> int:
    """The newest default-domain opset the installed ``onnx`` package knows."""
    return _onnx().defs.onnx_opset_version()


class _Graph:
    """Nodes and initializers collected in order, with unique tensor names."""

    def __init__(self, helper, numpy_helper) -> None:
        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes, self.initializers = [], []

    def init(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(self.numpy_helper.from_array(
            np.ascontiguousarray(array, dtype=np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], name: str, **attrs) -> str:
        out = name
        self.nodes.append(self.helper.make_node(op, inputs, [out], name=name, **attrs))
        return out


def _pool_pads(size: int, h: int, w: int) -> list[int]:
    """ONNX ``pads`` (top, left, bottom, right) that make floor-mode pooling give our ceil
    mode: ``(k - H % k) % k`` extra rows at the bottom, columns at the right."""
    return [0, 0, (size - h % size) % size, (size - w % size) % size]


def _layer(g: _Graph, name: str, layer, x: str, in_shape: tuple[int, ...]) -> str:
    """Nodes of one primitive layer (``name`` like ``3.conv``) on tensor ``x``; returns the
    output tensor name. ``in_shape`` is the layer's per-example input shape, channels-last."""
    state = layer.state_dict()
    if isinstance(layer, L.Conv2D):
        inputs = [x, g.init(f"{name}.weight", state["weight"])]
        if "bias" in state:
            inputs.append(g.init(f"{name}.bias", state["bias"]))
        p = layer.padding
        return g.node("Conv", inputs, name, kernel_shape=[layer.kernel] * 2,
                      strides=[layer.stride] * 2, pads=[p] * 4)
    if isinstance(layer, (L.MaxPool2D, L.AvgPool2D)):
        k = layer.size
        pads = _pool_pads(k, in_shape[0], in_shape[1])
        if isinstance(layer, L.MaxPool2D):
            return g.node("MaxPool", [x], name, kernel_shape=[k, k], strides=[k, k], pads=pads)
        return g.node("AveragePool", [x], name, kernel_shape=[k, k], strides=[k, k], pads=pads,
                      count_include_pad=0)
    if isinstance(layer, L.BatchNorm):
        inputs = [x] + [g.init(f"{name}.{key}", state[key]) for key in
                        ("weight", "bias", "running_mean", "running_var")]
        return g.node("BatchNormalization", inputs, name, epsilon=float(layer.eps))
    if isinstance(layer, L.ReLU):
        return g.node("Relu", [x], name)
    if isinstance(layer, L.Dropout):
        return x  # the identity at inference
    if isinstance(layer, L.GlobalAvgPool):
        return g.node("Flatten", [g.node("GlobalAveragePool", [x], name)], f"{name}.flatten",
                      axis=1)
    if isinstance(layer, L.Dense):
        if len(in_shape) == 3:  # NCHW -> (N, C*H*W), the state dict's C, H, W order
            x = g.node("Flatten", [x], f"{name}.flatten", axis=1)
        return g.node("Gemm", [x, g.init(f"{name}.weight", state["weight"]),
                               g.init(f"{name}.bias", state["bias"])], name, transB=1)
    raise UserError(f"cannot export layer {name} ({type(layer).__name__}) to ONNX")


def _residual(g: _Graph, prefix: str, block: ResidualBlock, x: str, in_shape) -> str:
    c = block.children
    h = x
    for sub in ("conv1", "bn1", "relu1", "conv2", "bn2"):
        h = _layer(g, f"{prefix}.{sub}", c[sub], h, in_shape)
    shortcut = x
    if "proj" in c:
        shortcut = _layer(g, f"{prefix}.proj_bn", c["proj_bn"],
                          _layer(g, f"{prefix}.proj", c["proj"], x, in_shape), in_shape)
    added = g.node("Add", [h, shortcut], f"{prefix}.add")
    return _layer(g, f"{prefix}.relu", c["relu"], added, in_shape)


def build_onnx(model: Sequential, opset: int = DEFAULT_OPSET, softmax: bool = False,
               metadata: dict | None = None):
    """The ONNX ``ModelProto`` of a network (eval mode: running statistics, no dropout).

    Args:
        model: the network, channels-last internally; its input shape must be ``(H, W, C)``.
        opset: default-domain opset, ``MIN_OPSET`` (11) to :func:`max_opset`.
        softmax: end with ``Softmax`` and name the output ``probabilities`` (else ``logits``).
        metadata: extra ``metadata_props`` entries (strings), e.g. the source file.
    Returns:
        an ``onnx.ModelProto`` that passed ``onnx.checker.check_model(full_check=True)``.
    Raises:
        UserError: for an opset out of range or a model the checker rejects.
    """
    onnx = _onnx()
    from onnx import TensorProto, helper, numpy_helper

    newest = max_opset()
    if not MIN_OPSET <= opset <= newest:
        raise UserError(f"--opset {opset} is out of range: cnn exports opsets {MIN_OPSET} to "
                        f"{newest} (the installed onnx {onnx.__version__}'s newest)")
    g = _Graph(helper, numpy_helper)
    x, shape = INPUT_NAME, tuple(model.input_shape)
    for block in model.blocks:
        prefix = str(block.number)
        if isinstance(block, ResidualBlock):
            x = _residual(g, prefix, block, x, shape)
        else:
            layer_shape = shape
            for name, layer in block.children.items():
                x = _layer(g, f"{prefix}.{name}", layer, x, layer_shape)
                layer_shape = layer.output_shape(layer_shape)
        shape = block.shape
    out_name = PROBS_NAME if softmax else LOGITS_NAME
    if softmax:
        x = g.node("Softmax", [x], "softmax", axis=1)
    # The last node writes the graph output under its public name.
    if g.nodes and g.nodes[-1].output[0] == x:
        g.nodes[-1].output[0] = out_name
    else:
        g.node("Identity", [x], out_name)
    h, w, c = model.input_shape
    inputs = [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", c, h, w])]
    outputs = [helper.make_tensor_value_info(out_name, TensorProto.FLOAT,
                                             ["N", model.num_classes])]
    graph = helper.make_graph(g.nodes, "cnn", inputs, outputs, g.initializers,
                              doc_string=f"cnn model {model.model_string}")
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(graph, opset_imports=opsets, producer_name="cnn",
                              producer_version=__version__,
                              ir_version=helper.find_min_ir_version_for(opsets),
                              doc_string=f"{model.model_string}; input {NORMALIZATION_NOTE}; "
                                         f"output {out_name}")
    props = {"model": model.model_string, "normalization": NORMALIZATION_NOTE,
             "input_layout": "NCHW", "output": out_name,
             "metadata": json.dumps(model.metadata, sort_keys=True)}
    props.update({k: str(v) for k, v in (metadata or {}).items()})
    helper.set_model_props(proto, props)
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as e:  # onnx.checker.ValidationError, shape inference errors
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"the ONNX checker rejected the export of {model.model_string}: "
                        f"{first}") from None
    return proto


def export_onnx(model: Sequential, path: str | os.PathLike, opset: int = DEFAULT_OPSET,
                softmax: bool = False, overwrite: bool = False,
                metadata: dict | None = None) -> Path:
    """Write :func:`build_onnx`'s model to ``path`` atomically.

    Raises:
        UserError: when ``path`` exists and ``overwrite`` is False (nothing is written), or as
            :func:`build_onnx`.
    Returns:
        ``path``.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise UserError(f"'{path}' already exists; pass --overwrite to replace it, or choose "
                        "another --out")
    data = build_onnx(model, opset, softmax, metadata).SerializeToString()
    return atomic_write(path, lambda f: f.write(data), overwrite=overwrite)


def to_nchw(x: np.ndarray) -> np.ndarray:
    """Images as the exported graph's input: ``(N, 28, 28)`` uint8 or ``(N, H, W, C)`` in
    [0, 1] -> float32 ``(N, C, H, W)`` in [0, 1]."""
    from cnn.nn.model import to_input

    return np.ascontiguousarray(to_input(x).transpose(0, 3, 1, 2))


__all__ = ["build_onnx", "export_onnx", "to_nchw", "max_opset", "DEFAULT_OPSET", "MIN_OPSET"]
