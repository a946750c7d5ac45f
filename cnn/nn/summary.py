"""One row per token of a model: what it is, its output shape, its parameter count (as Keras's
``Model.summary``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cnn.nn import layers as L
from cnn.nn import model_string as P
from cnn.nn.model import Sequential


def shows_relu(specs: list, t: int) -> bool:
    """Whether token ``t`` (0-based) is followed by a ReLU in the network's meaning (wherever
    the build puts it): C and hidden FC unless a BN follows, BN, and R."""
    spec, last = specs[t], len(specs) - 1
    nxt = specs[t + 1] if t < last else None
    if isinstance(spec, P.Conv):
        return not isinstance(nxt, P.BatchNorm)
    if isinstance(spec, P.FC):
        return t < last and not isinstance(nxt, P.BatchNorm)
    return isinstance(spec, (P.BatchNorm, P.Residual))


def describe(spec, relu: bool, last: bool = False) -> str:
    """Human name of a token, e.g. ``'C(8,5) conv 5x5 + ReLU'``."""
    if isinstance(spec, P.Conv):
        kind = f"conv {spec.kernel}x{spec.kernel}"
        if spec.stride != 1:
            kind += f" stride {spec.stride}"
        if spec.padding:
            kind += f" pad {spec.padding}"
    elif isinstance(spec, P.Pool):
        kind = f"max pool {spec.size}x{spec.size}"
    elif isinstance(spec, P.AvgPool):
        kind = f"avg pool {spec.size}x{spec.size}"
    elif isinstance(spec, P.BatchNorm):
        kind = "batch norm"
    elif isinstance(spec, P.Residual):
        kind = "residual block" + (f" stride {spec.stride}" if spec.stride != 1 else "")
    elif isinstance(spec, P.Dropout):
        kind = f"dropout {spec.rate:g}"
    elif isinstance(spec, P.GlobalAvgPool):
        kind = "global avg pool"
    else:
        kind = "dense"
    if isinstance(spec, P.FC) and last:
        return f"{spec} {kind} (logits)"
    return f"{spec} {kind}" + (" + ReLU" if relu else "")


def describe_sublayer(module) -> str:
    """E.g. ``'conv 3x3 stride 2'``, ``'batch norm'``, ``'ReLU'``."""
    if isinstance(module, L.Conv2D):
        return (f"conv {module.kernel}x{module.kernel}"
                + (f" stride {module.stride}" if module.stride != 1 else ""))
    return {L.BatchNorm: "batch norm", L.ReLU: "ReLU"}.get(type(module), type(module).__name__)


def shape_text(shape: tuple[int, ...]) -> str:
    """``(H, W, C)`` -> ``'(C, H, W)'`` (PyTorch order); ``(D,)`` -> ``'(D,)'``."""
    return f"({shape[2]}, {shape[0]}, {shape[1]})" if len(shape) == 3 else f"({shape[0]},)"


@dataclass
class TokenRow:
    """One token of the table: ``number`` (1-based), ``name``, ``shape`` text ``(C, H, W)`` or
    ``(units,)``, ``params`` and ``buffers`` counts, and ``sublayers`` rows
    ``(name, description, params, buffers)`` for blocks of several layers."""

    number: int
    name: str
    shape: str
    params: int
    buffers: int
    sublayers: list = field(default_factory=list)


def summary_rows(model: Sequential) -> list[TokenRow]:
    """One :class:`TokenRow` per token, from the model's blocks."""
    rows = []
    last = len(model.specs) - 1
    for t, (spec, block) in enumerate(zip(model.specs, model.blocks)):
        subs = []
        if isinstance(block.token, P.Residual):
            subs = [(name, describe_sublayer(m), m.num_params(), m.num_buffers())
                    for name, m in block.children.items()]
        rows.append(TokenRow(t + 1, describe(spec, shows_relu(model.specs, t), t == last),
                             shape_text(model.token_shapes[t]), block.num_params(),
                             block.num_buffers(), subs))
    return rows


SPATIAL_TOKENS = tuple(getattr(P, name) for name in ("Conv", "Pool", "AvgPool", "Residual")
                       if hasattr(P, name))


def token_labels(model) -> list[str]:
    """Every token named as ``cnn summary`` prints it, e.g. ``'1 C(8,5) conv 5x5 + ReLU'``
    (number and layer column of its table)."""
    return [f"{row.number} {row.name}" for row in summary_rows(model)]
