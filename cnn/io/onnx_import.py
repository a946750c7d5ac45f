"""ONNX import: an ``.onnx`` file -> our model string and ``state_dict`` -> a
:class:`cnn.nn.model.Sequential`.

:func:`cnn.io.weights.load_model` sends ``*.onnx`` paths here, so ``--weights model.onnx`` works
wherever a weights file does (``predict``, ``evaluate``, ``summary``, ``visualize``).

The graph is walked from its input to its output and each run of nodes is matched to one
model-string token, in the layouts PyTorch's and Keras's exporters write (NCHW, ``Gemm`` with
``transB=1``, or ``MatMul`` + ``Add``; Keras' NHWC input through a ``Transpose``):

======================================================  =====================================
nodes                                                   token
======================================================  =====================================
Conv [- BatchNormalization] - Relu  (or Conv - MaxPool  ``C(f,k[,sS][,pP])`` [``-BN``]
- Relu, our own export's order)
MaxPool / AveragePool, kernel = stride = k, covering    ``P<k>`` / ``A<k>``
the whole map (ceil mode, or floor mode on a size k
divides, or end padding)
GlobalAveragePool - Flatten/Reshape                     ``GAP``
Flatten/Reshape (Transpose to NHWC first: Keras)        (the next FC's input order)
Gemm or MatMul [+ Add] [- BatchNormalization] - Relu    ``FC<n>`` [``-BN``]
Gemm or MatMul [+ Add] at the end [- Softmax]           ``FC<classes>`` (logits)
Conv [-BN] - Relu - Conv [-BN], shortcut: the input or  ``R(f[,sS])``
a 1x1 Conv [-BN], Add - Relu
Dropout, Identity                                       nothing (identities at inference)
======================================================  =====================================

A convolution exported without its batch norm (PyTorch folds BN into the convolution in
eval mode) gets an identity batch norm carrying its bias; a batch norm whose ``epsilon``
differs from ours (1e-5; Keras uses 1e-3) has it moved into the running variance; a
convolution bias before a batch norm is moved into the running mean. All are exact
rewritings of the same function.

Anything else is refused with one line naming the operator (or the structure) and the node;
nothing is half-loaded (the model is built only after the whole graph is matched).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cnn import progress
from cnn.errors import UserError
from cnn.io.onnx_checks import check_graph, read_metadata
from cnn.io.onnx_graph import (
    ALIASES,
    BATCH,
    SHAPE_OPS,
    Graph,
    Mismatch,
    attrs,
    auto_pads,
    square,
    where,
)
from cnn.nn.model_string import (
    MAX_PARAMETERS,
    MNIST_INPUT_SHAPE,
    format_model,
    parse_model,
)
from cnn.nn.model_string import Dropout as DropoutSpec
from cnn.nn.weight_limits import check_weights

SUPPORTED = ("Conv", "Relu", "MaxPool", "AveragePool", "GlobalAveragePool",
             "BatchNormalization", "Add", "Flatten", "Reshape", "Gemm", "MatMul", "Dropout",
             "Softmax", "Identity", "Constant", "Transpose")
# Largest .onnx file read: the largest network a model string allows (MAX_PARAMETERS) in
# float64, plus room for the graph; a larger file (a sparse 1.9 GB one) is refused unread.
MAX_BYTES = MAX_PARAMETERS * 8 + 16 * 2**20
OUR_EPS = 1e-5  # cnn.nn.layers.BatchNorm's epsilon


class _Walker:
    """Matches the graph to tokens, filling ``tokens`` and ``state`` (keys by token number)."""

    def __init__(self, graph: Graph) -> None:
        self.g = graph
        self.tokens: list[str] = []
        self.state: dict[str, np.ndarray] = {}
        self.shape: tuple[int, ...] = ()  # (C, H, W) or (D,)
        self.flatten_order = "chw"
        self.softmax = False

    # ------------------------------------------------------------------ helpers
    def token(self, text: str) -> int:
        self.tokens.append(text)
        return len(self.tokens)

    def expect(self, tensor: str, ops: tuple[str, ...], after):
        node = self.g.single_next(tensor)
        if node is None or node.op_type not in ops:
            found = ("nothing" if node is None and not self.g.next(tensor)
                     else f"{len(self.g.next(tensor))} nodes" if node is None
                     else where(node))
            raise Mismatch(f"{where(after)} is followed by {found}; cnn expects "
                        f"{' or '.join(ops)} there")
        self.g.use(node)
        return node

    def conv(self, node) -> dict:
        """A Conv node's weight, bias, kernel, stride, padding, checked against the shape."""
        a = attrs(node)
        w = self.g.const(node, 1, "weight").astype(np.float32)
        if len(self.shape) != 3:
            raise Mismatch(f"{where(node)} reads a vector; cnn convolves feature maps only")
        if a.get("group", 1) != 1:
            raise Mismatch(f"{where(node)} is a grouped convolution (group={a['group']}); cnn "
                        "has only full convolutions")
        if any(d != 1 for d in a.get("dilations", [1, 1])):
            raise Mismatch(f"{where(node)} is dilated {list(a['dilations'])}; cnn has no "
                        "dilation")
        if w.ndim != 4:
            raise Mismatch(f"{where(node)}: weight of shape {w.shape} is not 2-D convolution's "
                        "(F, C, k, k)")
        k = square(node, w.shape[2:], "kernel")
        s = square(node, a.get("strides", [1, 1]), "strides")
        c, h, width = self.shape
        pads = auto_pads(node, h, k, s)
        if len(set(pads)) != 1:
            raise Mismatch(f"{where(node)} has uneven pads {list(pads)}; cnn pads the same on "
                        "each side")
        if w.shape[1] != c:
            raise Mismatch(f"{where(node)}: weight {w.shape} expects {w.shape[1]} channels but "
                        f"its input has {c}")
        f, p = w.shape[0], int(pads[0])
        bias = (self.g.const(node, 2, "bias").astype(np.float32).reshape(f)
                if len(node.input) > 2 and node.input[2] else np.zeros(f, np.float32))
        h_out, w_out = (h + 2 * p - k) // s + 1, (width + 2 * p - k) // s + 1
        if h_out < 1 or w_out < 1:
            raise Mismatch(f"{where(node)}: kernel {k} does not fit its {h} x {width} input")
        self.shape = (f, h_out, w_out)
        return {"weight": w, "bias": bias, "k": k, "s": s, "p": p, "f": f}

    def batchnorm(self, node, bias: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """A BatchNormalization node as our BN state (eps moved into the running variance;
        a preceding layer's ``bias`` moved into the running mean)."""
        a = attrs(node)
        if a.get("training_mode", 0):
            raise Mismatch(f"{where(node)} is in training mode; export the model in eval mode")
        names = ("scale", "bias", "mean", "var")
        gamma, beta, mean, var = (self.g.const(node, i + 1, n).astype(np.float64)
                                  for i, n in enumerate(names))
        channels = self.shape[0]
        if gamma.shape != (channels,):
            raise Mismatch(f"{where(node)} has {gamma.shape} scales for {channels} channels")
        if bias is not None:
            mean = mean - bias
        var = var + float(a.get("epsilon", 1e-5)) - OUR_EPS
        return {"weight": gamma, "bias": beta, "running_mean": mean, "running_var": var}

    @staticmethod
    def identity_bn(bias: np.ndarray) -> dict[str, np.ndarray]:
        """The batch norm that adds ``bias`` and changes nothing else (for folded BN)."""
        c = len(bias)
        return {"weight": np.ones(c), "bias": bias.astype(np.float64),
                "running_mean": np.zeros(c), "running_var": np.full(c, 1.0 - OUR_EPS)}

    def put(self, prefix: str, arrays: dict[str, np.ndarray]) -> None:
        for key, value in arrays.items():
            self.state[f"{prefix}.{key}"] = np.asarray(value, dtype=np.float32)

    # ---------------------------------------------------------------- matchers
    def walk(self, start: str, end: str) -> None:
        cur = start
        while self.g.root(cur) != self.g.root(end):
            nodes = self.g.next(cur)
            if not nodes:
                raise Mismatch(f"tensor '{cur}' leads nowhere: the graph's output "
                            f"'{end}' cannot be reached from it")
            if len(nodes) > 1:
                cur = self.residual(cur, nodes)
                continue
            node = nodes[0]
            self.g.use(node)
            op = node.op_type
            if op == "Conv":
                cur = self.conv_token(node)
            elif op in ("MaxPool", "AveragePool"):
                cur = self.pool_token(node)
            elif op == "GlobalAveragePool":
                if len(self.shape) != 3:
                    raise Mismatch(f"{where(node)} reads a vector")
                flat = self.expect(self.g.out(node), ("Flatten", "Reshape"), node)
                self.flatten_check(flat, self.shape[0])
                self.token("GAP")
                self.shape = (self.shape[0],)
                cur = self.g.out(flat)
            elif op in ("Flatten", "Reshape", "Transpose"):
                cur = self.flatten(node)
            elif op in ("Gemm", "MatMul"):
                cur = self.fc_token(node, end)
            else:
                raise Mismatch(f"{where(node)} comes where cnn has no such layer (after "
                            f"{self.tokens[-1] if self.tokens else 'the input'})")

    def conv_token(self, node) -> str:
        conv = self.conv(node)
        spec = [str(conv["f"]), str(conv["k"])]
        if conv["s"] != 1:
            spec.append(f"s{conv['s']}")
        if conv["p"]:
            spec.append(f"p{conv['p']}")
        t = self.token(f"C({','.join(spec)})")
        self.put(f"{t}.conv", {"weight": conv["weight"], "bias": conv["bias"]})
        out = self.g.out(node)
        nxt = self.g.single_next(out)
        if nxt is not None and nxt.op_type == "BatchNormalization":
            self.g.use(nxt)
            self.put(f"{self.token('BN')}.bn", self.batchnorm(nxt))
            return self.g.out(self.expect(self.g.out(nxt), ("Relu",), nxt))
        if nxt is not None and nxt.op_type == "MaxPool":  # Conv - MaxPool - Relu (ours)
            self.g.use(nxt)
            pooled = self.pool_token(nxt)
            return self.g.out(self.expect(pooled, ("Relu",), nxt))
        return self.g.out(self.expect(out, ("Relu",), node))

    def pool_token(self, node) -> str:
        a = attrs(node)
        if len(self.shape) != 3:
            raise Mismatch(f"{where(node)} reads a vector")
        k = square(node, a.get("kernel_shape", []), "kernel_shape")
        s = square(node, a.get("strides", [1, 1]), "strides")
        if s != k:
            raise Mismatch(f"{where(node)} has kernel {k} but stride {s}; cnn pools with "
                        "stride = window (P<k>, A<k>)")
        if any(d != 1 for d in a.get("dilations", [1, 1])):
            raise Mismatch(f"{where(node)} is dilated; cnn's pooling is not")
        c, h, w = self.shape
        pads = auto_pads(node, h, k, s)
        if pads[0] or pads[1]:
            raise Mismatch(f"{where(node)} pads the top/left {list(pads)}; cnn pools windows "
                        "from the top-left corner")
        rounding = np.ceil if a.get("ceil_mode", 0) else np.floor
        for size, pad, axis in ((h, pads[2], "rows"), (w, pads[3], "columns")):
            got, ours = int(rounding((size + pad - k) / k)) + 1, -(-size // k)
            if got != ours:
                raise Mismatch(f"{where(node)} makes {got} {axis} of {size}, dropping the edge "
                            f"(floor mode); cnn's pooling is ceil mode ({ours}): export with "
                            "ceil_mode=True or pool sizes that divide the map")
        overhang = h % k or w % k
        # count_include_pad counts explicit padding only; a ceil-mode edge window without
        # padding averages what it covers either way (ONNX Runtime, PyTorch).
        if node.op_type == "AveragePool" and overhang and any(pads) and \
                a.get("count_include_pad", 0):
            raise Mismatch(f"{where(node)} counts padding in its averages (count_include_pad=1)"
                        "; cnn averages the pixels a window covers")
        self.token(f"{'P' if node.op_type == 'MaxPool' else 'A'}{k}")
        self.shape = (c, -(-h // k), -(-w // k))
        return self.g.out(node)

    def flatten_check(self, node, features: int) -> None:
        if node.op_type == "Flatten":
            if attrs(node).get("axis", 1) != 1:
                raise Mismatch(f"{where(node)} flattens from axis {attrs(node)['axis']}; cnn "
                            "flattens (N, ...) to (N, features): axis 1")
            return
        if len(node.input) > 1 and node.input[1] in self.g.shape_tensors:
            dims = [BATCH, *self.shape] if len(self.shape) == 3 else [BATCH, features]
            target = self.g.shape_value(node.input[1], node.input[0], dims)
        else:
            target = self.g.const(node, 1, "shape")
        shape = [0 if v == BATCH else int(v) for v in np.asarray(target).reshape(-1)]
        # (N, D), (-1, D), (N, -1), or a batch size fixed at export with -1 or D
        if len(shape) != 2 or shape[1] not in (-1, features) or shape == [-1, -1]:
            raise Mismatch(f"{where(node)} reshapes to {shape}; cnn expects (N, {features}) "
                        "before a fully connected layer")

    def flatten(self, node) -> str:
        """Flatten / Reshape to (N, D), or Keras' Transpose to NHWC then one of those."""
        order = "chw"
        if node.op_type == "Transpose":
            perm = list(attrs(node).get("perm", []))
            if perm != [0, 2, 3, 1] or len(self.shape) != 3:
                raise Mismatch(f"{where(node)} permutes axes {perm}; cnn reads only NCHW -> NHWC "
                            "right before a Flatten (Keras' layout)")
            node = self.expect(self.g.out(node), ("Flatten", "Reshape"), node)
            order = "hwc"
        features = int(np.prod(self.shape))
        self.flatten_check(node, features)
        if len(self.shape) == 3:
            self.flatten_order = order
            self.flat_from = self.shape
            self.shape = (features,)
        return self.g.out(node)

    def fc_token(self, node, end: str) -> str:
        a = attrs(node)
        if len(self.shape) != 1:
            raise Mismatch(f"{where(node)} reads a feature map {self.shape}; flatten it first")
        d = self.shape[0]
        b = self.g.const(node, 1, "weight").astype(np.float64)
        out = self.g.out(node)
        if node.op_type == "Gemm":
            if a.get("transA", 0):
                raise Mismatch(f"{where(node)} has transA=1; cnn needs the activations as A")
            weight = b if a.get("transB", 0) else b.T  # (out, in), as PyTorch's Linear
            weight = weight * float(a.get("alpha", 1.0))
            bias = (self.g.const(node, 2, "bias").astype(np.float64) * float(a.get("beta", 1.0))
                    if len(node.input) > 2 and node.input[2] else np.zeros(weight.shape[0]))
        else:
            weight = b.T
            bias = np.zeros(weight.shape[0])
            nxt = self.g.single_next(out)
            if (nxt is not None and nxt.op_type == "Add"
                    and any(i in self.g.consts for i in nxt.input)):
                self.g.use(nxt)
                name = [i for i in nxt.input if i in self.g.consts][0]
                bias = self.g.consts[name].astype(np.float64)
                out = self.g.out(nxt)
        if weight.ndim != 2 or weight.shape[1] != d:
            raise Mismatch(f"{where(node)}: weight of shape {b.shape} does not take {d} inputs")
        units = weight.shape[0]
        try:
            bias = np.broadcast_to(bias.reshape(-1), (units,)).copy()
        except ValueError:
            raise Mismatch(f"{where(node)}: bias of shape {bias.shape} for {units} units") from None
        if self.flatten_order == "hwc":  # Keras: inputs in H, W, C order -> C, H, W
            c, h, w = self.flat_from
            weight = weight.reshape(units, h, w, c).transpose(0, 3, 1, 2).reshape(units, -1)
            self.flatten_order = "chw"
        t = self.token(f"FC{units}")
        self.put(f"{t}.fc", {"weight": weight, "bias": bias})
        self.shape = (units,)
        if self.g.root(out) == self.g.root(end):
            return out
        nxt = self.g.single_next(out)
        if nxt is not None and nxt.op_type == "Softmax":
            self.g.use(nxt)
            axis = attrs(nxt).get("axis", -1)
            if axis not in (1, -1) or self.g.out(nxt) != self.g.root(end):
                raise Mismatch(f"{where(nxt)} is not the graph's last node over the classes; "
                            "cnn allows a Softmax only at the end")
            self.softmax = True
            return self.g.out(nxt)
        if nxt is not None and nxt.op_type == "BatchNormalization":
            self.g.use(nxt)
            self.put(f"{self.token('BN')}.bn", self.batchnorm(nxt))
            return self.g.out(self.expect(self.g.out(nxt), ("Relu",), nxt))
        return self.g.out(self.expect(out, ("Relu",), node))

    def branch(self, start_node) -> tuple[list, object]:
        """Nodes from ``start_node`` along single consumers up to the first Add; returns
        ``(nodes before the Add, the Add)``."""
        nodes, node = [], start_node
        while node is not None and node.op_type != "Add":
            if node.op_type not in ("Conv", "BatchNormalization", "Relu"):
                raise Mismatch(f"{where(node)} inside a residual branch; cnn's R block has "
                            "Conv, BatchNormalization and Relu only")
            nodes.append(node)
            node = self.g.single_next(self.g.out(node))
        if node is None:
            raise Mismatch(f"{where(start_node)} starts a branch that never reaches an Add; cnn "
                        "joins branches only in residual blocks")
        return nodes, node

    def conv_bn(self, nodes: list, in_shape, what: str) -> tuple[dict, dict, tuple]:
        """``[Conv, (BatchNormalization)]`` -> (conv arrays, BN state, output shape)."""
        if not nodes or nodes[0].op_type != "Conv" or len(nodes) > 2 or (
                len(nodes) == 2 and nodes[1].op_type != "BatchNormalization"):
            ops = "-".join(n.op_type for n in nodes) or "nothing"
            raise Mismatch(f"residual {what} is {ops} (from {where(nodes[0]) if nodes else '?'})"
                        "; cnn's R block has Conv [- BatchNormalization] there")
        self.shape = in_shape
        conv = self.conv(nodes[0])
        if len(nodes) == 2:
            bn = self.batchnorm(nodes[1], bias=conv["bias"])
        else:
            bn = self.identity_bn(conv["bias"])
        return conv, bn, self.shape

    def residual(self, x: str, starts: list) -> str:
        if len(starts) != 2:
            raise Mismatch(f"tensor '{x}' feeds {len(starts)} nodes; cnn branches only in "
                        "residual blocks (two ways to one Add)")
        in_shape = self.shape
        branches = []
        for node in starts:
            if node.op_type == "Add":
                branches.append(([], node))
            else:
                branches.append(self.branch(node))
        if branches[0][1] is not branches[1][1]:
            raise Mismatch(f"the branches from tensor '{x}' end in different Add nodes; cnn's R "
                        "block joins its two branches in one Add")
        add = branches[0][1]
        branches.sort(key=lambda b: -len(b[0]))
        main, short = branches[0][0], branches[1][0]
        relu_at = [i for i, n in enumerate(main) if n.op_type == "Relu"]
        if len(relu_at) != 1:
            raise Mismatch(f"residual branch from tensor '{x}' ({'-'.join(n.op_type for n in main)})"
                        " should be Conv [-BN] - Relu - Conv [-BN]")
        conv1, bn1, mid = self.conv_bn(main[: relu_at[0]], in_shape, "first convolution")
        conv2, bn2, out_shape = self.conv_bn(main[relu_at[0] + 1 :], mid, "second convolution")
        f, s = conv1["f"], conv1["s"]
        if (conv1["k"], conv1["p"], conv2["k"], conv2["s"], conv2["p"]) != (3, 1, 3, 1, 1):
            raise Mismatch(f"residual block at tensor '{x}' has convolutions "
                        f"{conv1['k']}x{conv1['k']} pad {conv1['p']} and {conv2['k']}x"
                        f"{conv2['k']} stride {conv2['s']} pad {conv2['p']}; cnn's R is 3x3 "
                        "pad 1, then 3x3 stride 1 pad 1")
        needs_proj = s != 1 or in_shape[0] != f
        if bool(short) != needs_proj:
            raise Mismatch(f"residual block at tensor '{x}': cnn's R uses a 1x1 projection "
                        "shortcut exactly when the stride or channel count changes, this one "
                        f"{'has none' if needs_proj else 'has one without'}")
        t = self.token(f"R({f})" if s == 1 else f"R({f},s{s})")
        self.put(f"{t}.conv1", {"weight": conv1["weight"]})
        self.put(f"{t}.bn1", bn1)
        self.put(f"{t}.conv2", {"weight": conv2["weight"]})
        self.put(f"{t}.bn2", bn2)
        if short:
            proj, proj_bn, _ = self.conv_bn(short, in_shape, "shortcut")
            if (proj["k"], proj["s"], proj["p"], proj["f"]) != (1, s, 0, f):
                raise Mismatch(f"residual shortcut at tensor '{x}' is a {proj['k']}x{proj['k']} "
                            f"stride {proj['s']} convolution; cnn's is 1x1, stride {s}, no pad")
            self.put(f"{t}.proj", {"weight": proj["weight"]})
            self.put(f"{t}.proj_bn", proj_bn)
        for n in main + short + [add]:
            self.g.use(n)
        self.shape = out_shape
        return self.g.out(self.expect(self.g.out(add), ("Relu",), add))


def _input(graph, g: Graph) -> str:
    """The graph's one data input, checked to be MNIST-shaped; returns the NCHW tensor."""
    inputs = [i for i in graph.input if i.name not in g.consts]
    if len(inputs) != 1:
        raise Mismatch(f"the graph has {len(inputs)} inputs; cnn needs one image input")
    x = inputs[0]
    dims = [d.dim_value if d.HasField("dim_value") else None
            for d in x.type.tensor_type.shape.dim]
    h, w, c = MNIST_INPUT_SHAPE
    if dims[1:] == [c, h, w]:
        return x.name
    if dims[1:] == [h, w, c]:
        node = g.single_next(x.name)
        if node is None or node.op_type != "Transpose" or \
                list(attrs(node).get("perm", [])) != [0, 3, 1, 2]:
            raise Mismatch(f"input '{x.name}' is NHWC {dims} but is not transposed to NCHW first")
        g.use(node)
        return g.out(node)
    raise Mismatch(f"input '{x.name}' has shape {dims}; cnn reads [N, 1, 28, 28] (NCHW) or "
                "[N, 28, 28, 1] (NHWC)")


def translate(proto) -> tuple[str, dict[str, np.ndarray], dict]:
    """An ONNX ``ModelProto`` -> ``(model string, state_dict, info)``.

    Returns:
        the model string (dropout dropped; restored from the file's ``metadata_props`` when
        it is a cnn export), the state dict in PyTorch layout (float32), and ``info`` with
        ``softmax`` (the graph ended in a Softmax) and the file's ``metadata_props``.
    Raises:
        UserError: for an unsupported operator (naming it and the node) or structure.
    """
    graph = proto.graph
    for node in graph.node:
        if node.op_type not in SUPPORTED + SHAPE_OPS or node.domain not in ("", "ai.onnx"):
            op = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
            raise UserError(f"unsupported ONNX operator '{op}' in node "
                            f"'{node.name or node.output[0]}'; cnn imports "
                            f"{', '.join(s for s in SUPPORTED if s != 'Constant')}")
    try:
        g = Graph(graph)
        if len(graph.output) != 1:
            raise Mismatch(f"the graph has {len(graph.output)} outputs; cnn needs one (the "
                        "logits or probabilities)")
        walker = _Walker(g)
        h, w, c = MNIST_INPUT_SHAPE
        walker.shape = (c, h, w)
        walker.walk(_input(graph, g), graph.output[0].name)
        left = [n for n in g.nodes if id(n) not in g.used
                and n.op_type not in ALIASES + ("Constant",)]
        if left:
            raise Mismatch(f"{where(left[0])} is not on the way from the input to the output")
    except Mismatch as e:
        raise UserError(str(e)) from None
    props = {p.key: p.value for p in proto.metadata_props}
    model_string = "-".join(walker.tokens)
    state = walker.state
    original = props.get("model")
    if original:
        model_string, state = _restore_dropout(original, model_string, state)
    return model_string, state, {"softmax": walker.softmax, "metadata_props": props}


def _restore_dropout(original: str, found: str, state: dict) -> tuple[str, dict]:
    """A cnn export dropped its ``D`` tokens: when the file's recorded model string is the
    graph's string plus dropout, use it, renumbering the state-dict keys."""
    try:
        specs = parse_model(original, num_classes=None)
    except UserError:
        return found, state
    kept = [t for t, s in enumerate(specs, start=1) if not isinstance(s, DropoutSpec)]
    if format_model([specs[t - 1] for t in kept]) != found:
        return found, state
    renumber = {str(i): str(t) for i, t in enumerate(kept, start=1)}
    moved = {}
    for key, value in state.items():
        number, _, rest = key.partition(".")
        moved[f"{renumber[number]}.{rest}"] = value
    return format_model(specs), moved


def load_onnx(path: str | os.PathLike, num_classes: int | None = 10):
    """Build a :class:`cnn.nn.model.Sequential` (eval mode) from an ONNX file.

    Args:
        path: an ``.onnx`` file with one input ``[N, 1, 28, 28]`` (or NHWC) and one output.
        num_classes: units the last FC must have (``None``: any).
    Returns:
        the model; ``metadata`` is the training metadata a cnn export recorded, plus
        ``source`` (``"onnx"``), ``onnx_file`` and ``onnx_softmax``.
    Raises:
        UserError: missing or unreadable file, a file over :data:`MAX_BYTES` (unread), the
            ``onnx`` package missing, a graph :func:`cnn.io.onnx_checks.check_graph` refuses
            (external data, a cycle, a non-numeric tensor, a node without input or output,
            window attributes out of range, values beyond float32), an unsupported operator or
            structure (one line naming the node), or finite but broken weights
            (:func:`cnn.nn.weight_limits.check_weights`).
    """
    from cnn.nn.model import Sequential

    path = Path(path)
    try:
        import onnx
    except ImportError:
        raise UserError(f"reading '{path}' needs the 'onnx' package: pip install onnx "
                        "(or pip install 'cnn[onnx]')") from None
    if not path.is_file():
        raise UserError(f"ONNX file '{path}' not found; pass an existing .onnx file")
    if path.stat().st_size >= MAX_BYTES:
        raise UserError(f"ONNX file '{path}' is {path.stat().st_size:,} bytes, more than the "
                        f"{MAX_BYTES:,} the largest network cnn builds needs "
                        f"({MAX_PARAMETERS:,} parameters in float64); it is refused unread")
    stages = progress.bar(total=4, desc=f"importing {path.name}", unit="stage")
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # protobuf DecodeError and friends
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"cannot read ONNX file '{path}': {reason}") from None
    stages.update()
    try:
        check_graph(proto.graph)  # external data, dtypes, cycles, attributes, before any read
    except UserError as e:
        raise UserError(f"ONNX file '{path}': {e}") from None
    try:
        stages.update()
        model_string, state, info = translate(proto)
        stages.update()
        bad = next((k for k, v in state.items() if not np.isfinite(v).all()), None)
        if bad is not None:
            raise UserError(f"its weights for '{bad}' hold NaN or infinite values")
        check_weights(state, "its weights")  # a negative running variance, 3e38
        model = Sequential(model_string, num_classes=num_classes)
        model.load_state_dict(state, source=f"ONNX file '{path}'")
    except (UserError, ValueError) as e:
        raise UserError(f"ONNX file '{path}': {e}") from None
    props = info["metadata_props"]
    metadata = read_metadata(props.get("metadata", "{}"))
    metadata.update(source="onnx", onnx_file=str(path), onnx_softmax=info["softmax"])
    model.metadata = metadata
    stages.update()
    stages.close()
    return model.eval()
