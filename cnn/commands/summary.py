"""``cnn summary``: a Keras-style table of a model's tokens, output shapes and parameters.

One row per token (the numbers ``cnn visualize --layer`` takes); the sub-layers of a residual
block are indented beneath it. Batch-norm running statistics are counted as buffers (state that
is saved and loaded but not trained), in their own column when the model has any.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from .. import layers as L
from .. import parse as P
from ..model import Sequential
from ..weights import load_model
from .common import percent, single_weights

EXAMPLE = """examples:
  cnn summary --model "C(8,5)-P2-C(16,3)-P2-FC128-FC10"
  cnn summary --model "C(16,3,same)-BN-P2-R(16)-R(32,s2)-R(64,s2)-GAP-FC10"
  cnn summary --weights "weight_output/weight_detailsC(8,5)-P2-C(16,3)-P2-FC128-FC10.npz"
"""


def add_parser(subparsers, common) -> None:
    p = subparsers.add_parser(
        "summary", parents=[common], help="show a model's layers, output shapes and parameters",
        description="Print the layer table of a model string or a weights file. The layer "
        "numbers are the ones 'cnn visualize --layer' takes.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", metavar="STR", help="model string")
    source.add_argument("--weights", metavar="PATH", help="weights .npz file")
    p.set_defaults(run=run)


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


def print_summary(model: Sequential) -> None:
    """Print the table (and a weights file's training record) to stdout."""
    rows = summary_rows(model)
    h, w, c = model.input_shape
    buffers = model.num_buffers() > 0
    width = max(len(r.name) for r in rows) + 2
    extra = f"{'Buffers':>10}" if buffers else ""
    print(f'Model: "{model.model_string}"')
    line = "-" * (6 + width + 16 + 12 + len(extra))
    print(line)
    print(f"{'#':>4}  {'Layer':<{width}}{'Output (C, H, W)':<18}{'Params':>10}{extra}")
    print("=" * len(line))
    print(f"{0:>4}  {'input':<{width}}{f'({c}, {h}, {w})':<18}{0:>10,}"
          + (f"{0:>10,}" if buffers else ""))
    for row in rows:
        print(f"{row.number:>4}  {row.name:<{width}}{row.shape:<18}{row.params:>10,}"
              + (f"{row.buffers:>10,}" if buffers else ""))
        for name, text, params, bufs in row.sublayers:
            sub = f"  {name:<8}{text}"
            print(f"{'':>4}  {sub:<{width + 18}}{f'{params:,}' if params else '':>10}"
                  + (f"{f'{bufs:,}' if bufs else '':>10}" if buffers else ""))
    print("=" * len(line))
    print(f"Total params: {model.num_params():,}"
          + (f"; buffers (batch-norm running statistics): {model.num_buffers():,}"
             if buffers else ""))
    meta = model.metadata
    if meta.get("accuracy") is not None:
        print(f"Recorded test top-1 accuracy: {percent(meta['accuracy'])} after "
              f"{meta.get('epochs')} epoch(s), batch {meta.get('batch_size')}, lr "
              f"{meta.get('lr')}, seed {meta.get('seed')}, "
              f"{meta.get('seconds_per_epoch', 0):.1f} s/epoch ({meta.get('date', '?')})")


def run(args) -> int:
    model = (load_model(single_weights(args.weights, 'summary')) if args.weights
             else Sequential(args.model))
    print_summary(model)
    return 0
