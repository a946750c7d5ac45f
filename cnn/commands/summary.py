"""``cnn summary``: a Keras-style table of a model's layers, output shapes and parameters."""

from __future__ import annotations

import argparse

from ..model import Sequential, load_model
from ..parse import Conv, FC, Pool
from .common import percent, single_weights

EXAMPLE = """examples:
  cnn summary --model "C(8,5)-P2-C(16,3)-P2-FC128-FC10"
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


def describe(spec, relu: bool) -> str:
    """Human name of a token, e.g. ``'C(8,5) conv 5x5 + ReLU'``."""
    if isinstance(spec, Conv):
        kind = f"conv {spec.kernel}x{spec.kernel}"
    elif isinstance(spec, Pool):
        kind = f"max pool {spec.size}x{spec.size}"
    else:
        kind = "dense"
    if isinstance(spec, Pool):
        return f"{spec} {kind}"
    return f"{spec} {kind}" + (" + ReLU" if relu else " (logits)")


def summary_rows(model: Sequential) -> list[tuple[int, str, str, int]]:
    """``(number, layer, output shape (C, H, W) or (units,), parameters)`` per token."""
    rows = []
    for t, spec in enumerate(model.specs):
        shape = model.token_shapes[t]
        shape_text = f"({shape[2]}, {shape[0]}, {shape[1]})" if len(shape) == 3 else f"({shape[0]},)"
        layer = model.layers[model.token_pre[t]]
        params = sum(v.size for v in layer.params.values())
        last = t == len(model.specs) - 1
        rows.append((t + 1, describe(spec, model.token_relu[t] and not last), shape_text, params))
    return rows


def print_summary(model: Sequential) -> None:
    """Print the table (and a weights file's training record) to stdout."""
    rows = summary_rows(model)
    h, w, c = model.input_shape
    width = max(len(r[1]) for r in rows) + 2
    print(f'Model: "{model.model_string}"')
    line = "-" * (6 + width + 16 + 12)
    print(line)
    print(f"{'#':>4}  {'Layer':<{width}}{'Output (C, H, W)':<18}{'Params':>10}")
    print("=" * len(line))
    print(f"{0:>4}  {'input':<{width}}{f'({c}, {h}, {w})':<18}{0:>10,}")
    for number, name, shape, params in rows:
        print(f"{number:>4}  {name:<{width}}{shape:<18}{params:>10,}")
    print("=" * len(line))
    print(f"Total params: {model.num_params():,}")
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
