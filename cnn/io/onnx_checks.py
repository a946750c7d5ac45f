"""Checks an ONNX graph passes before :mod:`cnn.io.onnx_import` reads any tensor or walks it.

A crafted file must give one line, never a hang, a traceback or a read of another file:

- **no external data anywhere**: an initializer, a ``Constant``'s tensor attribute or a sparse
  tensor whose data lives in another file (``location=secret.bin``, ``/etc/passwd``, ``../..``,
  a FIFO, ``/dev/zero``) is refused before ``numpy_helper.to_array`` could open that file;
- **tensors of a numeric type** (float, double, float16, ints): ``UNDEFINED``, strings,
  complex and the rest are refused before they are converted;
- **every node has an output** and every node but ``Constant`` an input (no ``IndexError``);
- **no tensor written twice and no cycle** (an ``Identity`` feeding itself would otherwise
  make the walk spin for ever): Kahn's topological sort (Kahn 1962) over the nodes, which
  names a node on the cycle when it cannot finish;
- **window attributes in range**: ``strides``, ``kernel_shape``, ``dilations`` and ``group``
  at least 1, ``pads`` at least 0 and all of them below :data:`MAX_ATTRIBUTE`;
- **metadata JSON** parsed without recursion (nested 100,000 deep is refused, not a
  ``RecursionError``).
"""

from __future__ import annotations

import json

from cnn.errors import UserError
from cnn.io.npz import MAX_JSON_DEPTH, _depth
from cnn.nn.weight_limits import MAX_RUNNING_VAR

MAX_ATTRIBUTE = 4096  # largest stride, kernel, dilation, group or pad accepted
WINDOW_ATTRS = ("strides", "kernel_shape", "dilations", "group")


def _numeric_types() -> dict[int, str]:
    from onnx import TensorProto as T

    return {T.FLOAT: "float", T.DOUBLE: "double", T.FLOAT16: "float16", T.INT8: "int8",
            T.INT16: "int16", T.INT32: "int32", T.INT64: "int64", T.UINT8: "uint8",
            T.UINT16: "uint16", T.UINT32: "uint32", T.UINT64: "uint64", T.BOOL: "bool"}


def _node_name(node) -> str:
    outputs = [o for o in node.output if o]
    return f"{node.op_type} node '{node.name or (outputs[0] if outputs else '?')}'"


def _tensor_problem(tensor) -> str | None:
    """Why a TensorProto cannot be read as an array here, or None."""
    from onnx import TensorProto

    if tensor.data_location == TensorProto.EXTERNAL or len(tensor.external_data):
        location = next((e.value for e in tensor.external_data if e.key == "location"), "?")
        return (f"keeps its data in an external data file {location[:80]!r}; cnn reads "
                "self-contained .onnx files only (save with save_as_external_data=False)")
    names = _numeric_types()
    if tensor.data_type not in names:
        kind = TensorProto.DataType.Name(tensor.data_type) \
            if tensor.data_type in TensorProto.DataType.values() else str(tensor.data_type)
        return (f"has data type {kind}; cnn reads numeric tensors "
                f"({', '.join(sorted(set(names.values())))})")
    return None


def _attribute_tensors(node):
    for a in node.attribute:
        if a.HasField("t"):
            yield a.name, a.t
        for t in a.tensors:
            yield a.name, t
        if a.HasField("sparse_tensor"):
            yield a.name, a.sparse_tensor.values
            yield a.name, a.sparse_tensor.indices


def check_graph(graph) -> None:
    """Refuse a graph that cannot be read safely (see the module docstring).

    Args:
        graph: an ``onnx.GraphProto``, loaded with ``load_external_data=False``.
    Raises:
        UserError: one line naming the tensor or node and what is wrong with it.
    """
    for t in graph.initializer:
        problem = _tensor_problem(t)
        if problem:
            raise UserError(f"initializer '{t.name}' {problem}")
    for t in graph.sparse_initializer:
        raise UserError(f"sparse initializer '{t.values.name}': cnn reads dense tensors only")
    producer: dict[str, object] = {}
    for node in graph.node:
        for name, t in _attribute_tensors(node):
            problem = _tensor_problem(t)
            if problem:
                raise UserError(f"{_node_name(node)}: its attribute '{name}' {problem}")
        if not any(node.output):
            raise UserError(f"{_node_name(node)} has no output")
        if node.op_type != "Constant" and not any(node.input):
            raise UserError(f"{_node_name(node)} has no input")
        for a in node.attribute:
            if a.name in WINDOW_ATTRS or a.name == "pads":
                values = list(a.ints) if len(a.ints) else [a.i]
                low = 0 if a.name == "pads" else 1
                bad = [v for v in values if not low <= v <= MAX_ATTRIBUTE]
                if bad:
                    raise UserError(f"{_node_name(node)} has {a.name} {values}; each should be "
                                    f"{low}..{MAX_ATTRIBUTE}")
        for out in node.output:
            if out and out in producer:
                raise UserError(f"tensor '{out}' is written by two nodes "
                                f"({_node_name(producer[out])} and {_node_name(node)}); an ONNX "
                                "graph writes each tensor once")
            if out:
                producer[out] = node
    topological_order(graph.node, producer)
    for name, t in [(f"initializer '{t.name}'", t) for t in graph.initializer] + [
            (f"{_node_name(n)}: its attribute '{a}'", t)
            for n in graph.node for a, t in _attribute_tensors(n)]:
        _check_values(name, t)


def _check_values(name: str, tensor) -> None:
    """Convert one tensor (safe now: in the file, numeric) and refuse values no network holds
    before they are cast to float32 (``1e300`` would become ``inf``)."""
    import numpy as np
    from onnx import numpy_helper

    try:
        value = numpy_helper.to_array(tensor)
    except Exception as e:  # noqa: BLE001 - dims that do not match the data, and the like
        raise UserError(f"{name} cannot be read ({type(e).__name__}: {str(e)[:100]})") from None
    if value.dtype.kind == "f" and value.size:
        flat = value.reshape(-1).astype(np.float64)
        bad = np.flatnonzero(~np.isfinite(flat) | (np.abs(flat) > MAX_RUNNING_VAR))
        if bad.size:
            i = int(bad[0])
            raise UserError(f"{name} holds {flat[i]:.6g} at index {i}; no trained network "
                            f"holds a value beyond +-{MAX_RUNNING_VAR:.0e} (float32 overflows "
                            "at 3.4e38)")


def topological_order(nodes, producer: dict | None = None) -> list:
    """The nodes in an order where each comes after the nodes that compute its inputs (Kahn's
    algorithm: repeatedly take a node whose inputs are all available).

    Raises:
        UserError: the graph has a cycle (naming a node on it), e.g. an Identity node
            whose input is its own output.
    """
    nodes = list(nodes)
    if producer is None:
        producer = {out: n for n in nodes for out in n.output if out}
    index = {id(n): i for i, n in enumerate(nodes)}
    waiting = [0] * len(nodes)
    readers: dict[int, list[int]] = {}
    for i, node in enumerate(nodes):
        sources = {index[id(producer[name])] for name in node.input if name in producer}
        waiting[i] = len(sources)
        for s in sources:
            readers.setdefault(s, []).append(i)
    ready = [i for i, w in enumerate(waiting) if w == 0]
    order = []
    while ready:
        i = ready.pop()
        order.append(nodes[i])
        for r in readers.get(i, ()):
            waiting[r] -= 1
            if waiting[r] == 0:
                ready.append(r)
    if len(order) != len(nodes):
        stuck = next(n for i, n in enumerate(nodes) if waiting[i] > 0)
        raise UserError(f"the graph has a cycle through {_node_name(stuck)}: a tensor is "
                        "computed from itself; an ONNX graph is acyclic")
    return order


def read_metadata(text: str) -> dict:
    """The ``metadata`` a cnn export stores in ``metadata_props`` (a JSON object), or ``{}`` when
    it is absent, not JSON, not an object, or nested deeper than the weights files allow."""
    if len(text) > 1_000_000:
        return {}
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    if not isinstance(value, dict) or _depth(value) > MAX_JSON_DEPTH:
        return {}
    return value
