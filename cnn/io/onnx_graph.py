"""Reading an ONNX graph for :mod:`cnn.io.onnx_import`: its constants, identity aliases,
consumers, attributes and the shape arithmetic PyTorch writes for ``x.view(x.size(0), -1)``.

Nothing here decides what a node means for a model string; :mod:`cnn.io.onnx_import` does that.
"""

from __future__ import annotations

import numpy as np

# Shape arithmetic, as PyTorch writes ``x.view(x.size(0), -1)`` with a dynamic batch axis:
# read only where it computes a Reshape's target shape.
SHAPE_OPS = ("Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Slice", "Cast")
ALIASES = ("Identity", "Dropout")
BATCH = 1_000_003  # a stand-in batch size, to see where a computed shape copies N


# Inputs the shape arithmetic's operators need (opset 10+ Slice: data, starts, ends).
SHAPE_OP_INPUTS = {"Gather": 2, "Slice": 3}


class Mismatch(Exception):
    """A mismatch found while walking the graph (turned into a UserError with the path)."""


def where(node) -> str:
    """``"Conv node '/conv1/Conv'"``: a node as error messages name it."""
    return f"{node.op_type} node '{node.name or node.output[0]}'"


def attrs(node) -> dict:
    """A node's attributes as Python values (ints, floats, lists, bytes)."""
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


class Graph:
    """The graph's constants, identity aliases and consumers, and the nodes used so far."""

    def __init__(self, graph) -> None:
        from onnx import numpy_helper

        self.consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        self.alias: dict[str, str] = {}
        self.nodes = list(graph.node)
        for node in self.nodes:
            if node.op_type == "Constant":
                self.consts[node.output[0]] = self._constant(node)
            elif node.op_type in ALIASES:
                if len(node.output) > 1 and node.output[1]:
                    used = any(node.output[1] in n.input for n in self.nodes)
                    if used:
                        raise Mismatch(f"{where(node)}: its mask output is used; cnn imports "
                                    "inference graphs only")
                self.alias[node.output[0]] = node.input[0]
                if node.input[0] in self.consts:  # PyTorch's Identity of a shared weight
                    self.consts[node.output[0]] = self.consts[node.input[0]]
        self.producer = {out: node for node in self.nodes for out in node.output}
        self.shape_tensors: set[str] = set()
        for node in self.nodes:  # topological order: a shape op's inputs come first
            if node.op_type == "Shape" or node.op_type in SHAPE_OPS and all(
                    not i or i in self.consts or i in self.shape_tensors for i in node.input):
                self.shape_tensors.update(node.output)
        self.consumers: dict[str, list] = {}
        for node in self.nodes:
            if node.op_type in ALIASES or node.op_type == "Constant" or \
                    node.output[0] in self.shape_tensors:
                continue
            for name in node.input:
                if name and name not in self.consts:
                    self.consumers.setdefault(self.root(name), []).append(node)
        self.used: set[int] = set()

    @staticmethod
    def _constant(node) -> np.ndarray:
        from onnx import numpy_helper

        for a in node.attribute:
            if a.name == "value":
                return numpy_helper.to_array(a.t)
            if a.name in ("value_float", "value_int"):
                return np.array(a.f if a.name == "value_float" else a.i)
            if a.name in ("value_floats", "value_ints"):
                return np.array(list(a.floats if a.name == "value_floats" else a.ints))
        raise Mismatch(f"{where(node)} holds no tensor value cnn can read")

    def shape_value(self, name: str, data: str, dims: list[int]) -> np.ndarray:
        """Evaluate the shape arithmetic that computes tensor ``name`` when every ``Shape``
        in it reads tensor ``data``, whose shape is ``dims``; marks those nodes used."""
        if name in self.consts:
            return np.asarray(self.consts[name])
        node = self.producer.get(name)
        if node is None or node.op_type not in SHAPE_OPS or name not in self.shape_tensors:
            raise Mismatch(f"the shape '{name}' is computed by "
                        f"{where(node) if node else 'the graph input'}; cnn reads shapes "
                        "given as constants or computed from Shape")
        self.use(node)
        a, op = attrs(node), node.op_type
        if op == "Shape":
            if self.root(node.input[0]) != self.root(data):
                raise Mismatch(f"{where(node)} reads '{node.input[0]}', not the tensor it reshapes")
            return np.array(dims, np.int64)[a.get("start", 0):a.get("end", None)]
        args = [self.shape_value(i, data, dims) if i else None for i in node.input]
        need = SHAPE_OP_INPUTS.get(op, 1)
        if len(args) < need or any(v is None for v in args[:need]):
            raise Mismatch(f"{where(node)} has {len(args)} input(s); {op} needs {need}")
        x = args[0]
        if op == "Gather":
            return np.take(x, args[1].astype(np.int64), axis=a.get("axis", 0))
        if op in ("Unsqueeze", "Squeeze"):
            axes = a.get("axes", args[1] if len(args) > 1 and args[1] is not None else None)
            if op == "Squeeze":
                return np.squeeze(x, axis=None if axes is None else tuple(int(v) for v in axes))
            for axis in sorted(int(v) for v in axes):
                x = np.expand_dims(x, axis)
            return x
        if op == "Concat":
            return np.concatenate([np.atleast_1d(v) for v in args], axis=a.get("axis", 0))
        if op == "Cast":
            return x.astype(np.int64)
        starts, ends = args[1], args[2]  # Slice, opset 10+: 1-D shape vectors only
        axes = args[3] if len(args) > 3 and args[3] is not None else np.arange(len(starts))
        steps = args[4] if len(args) > 4 and args[4] is not None else np.ones(len(starts), int)
        if list(axes) != [0] or x.ndim != 1:
            raise Mismatch(f"{where(node)} slices a shape in a way cnn does not read")
        return x[int(starts[0]):int(min(ends[0], len(x))):int(steps[0])]

    def root(self, name: str) -> str:
        while name in self.alias:
            name = self.alias[name]
        return name

    def out(self, node) -> str:
        return self.root(node.output[0])

    def next(self, tensor: str) -> list:
        """Unused nodes reading ``tensor`` (through identities)."""
        return [n for n in self.consumers.get(self.root(tensor), []) if id(n) not in self.used]

    def single_next(self, tensor: str):
        nodes = self.next(tensor)
        return nodes[0] if len(nodes) == 1 else None

    def use(self, node) -> None:
        self.used.add(id(node))

    def const(self, node, index: int, what: str) -> np.ndarray:
        if index >= len(node.input) or not node.input[index]:
            raise Mismatch(f"{where(node)} has no {what}")
        name = node.input[index]
        if name not in self.consts:
            raise Mismatch(f"{where(node)}: its {what} '{name}' is computed in the graph; cnn "
                        "needs it as an initializer or a Constant")
        return self.consts[name]


def square(node, values, what: str) -> int:
    """The one value of a 2-D kernel/stride pair, e.g. ``[3, 3] -> 3``.

    Raises:
        Mismatch: for another rank or unequal height and width.
    """
    values = list(values)
    if len(values) != 2 or values[0] != values[1]:
        raise Mismatch(f"{where(node)} has {what} {values}; cnn's layers are square (2-D, equal "
                    "height and width)")
    return int(values[0])


def auto_pads(node, size: int, k: int, s: int) -> list[int]:
    """A Conv or pooling node's ``pads`` (top, left, bottom, right), from ``pads`` or
    ``auto_pad`` (``SAME_UPPER`` puts the odd pixel at the end, ``SAME_LOWER`` at the start)."""
    a = attrs(node)
    auto = a.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto in ("", "NOTSET"):
        return [int(p) for p in a.get("pads", [0, 0, 0, 0])]
    if auto == "VALID":
        return [0, 0, 0, 0]
    total = max((-(-size // s) - 1) * s + k - size, 0)
    small, big = total // 2, total - total // 2
    return [small, small, big, big] if auto == "SAME_UPPER" else [big, big, small, small]
