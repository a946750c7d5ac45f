"""``cnn summary``: the layers of a model string or weights file, with shapes and parameter counts.
"""

from __future__ import annotations

import argparse
import math

from cnn.cli.commands.common import single_weights
from cnn.io.npz import clean_accuracy
from cnn.io.weights import load_model
from cnn.nn.model import Sequential
from cnn.nn.summary import summary_rows
from cnn.tasks.metrics import percent
from cnn.text import printable

EXAMPLE = """examples:
  cnn summary --model "C(8,5)-P2-C(16,3)-P2-FC128-FC10"
  cnn summary --model "C(16,3,same)-BN-P2-R(16)-R(32,s2)-R(64,s2)-GAP-FC10"
  cnn summary                 # the default model
  cnn summary --weights "weight_output/weight_detailsC(8,5)-P2-C(16,3)-P2-FC128-FC10.npz"
"""


def add_parser(subparsers, common) -> None:
    p = subparsers.add_parser(
        "summary", parents=[common], help="show a model's layers, output shapes and parameters",
        description="Print the layer table of a model string or a weights file. The layer "
        "numbers are the ones 'cnn visualize --layer' takes.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = p.add_mutually_exclusive_group()
    source.add_argument("--model", metavar="STR", help="model string")
    source.add_argument("--weights", metavar="PATH",
                        help="weights .npz or .onnx file (default, with neither option: the "
                             "shipped default model)")
    p.set_defaults(run=run)


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
    meta = model.metadata if isinstance(model.metadata, dict) else {}
    accuracy = clean_accuracy(meta.get("accuracy"))  # a string, null or list: not shown
    if accuracy is not None:
        def shown(key: str) -> str:  # a file's value: any JSON type, control characters escaped
            return printable(meta.get(key, "?"), limit=40)

        seconds = meta.get("seconds_per_epoch")
        per_epoch = (f"{seconds:.1f} s/epoch" if isinstance(seconds, (int, float))
                     and not isinstance(seconds, bool) and math.isfinite(seconds)
                     else "? s/epoch")
        print(f"Recorded test top-1 accuracy: {percent(accuracy)} after "
              f"{shown('epochs')} epoch(s), batch {shown('batch_size')}, lr "
              f"{shown('lr')}, seed {shown('seed')}, {per_epoch} ({shown('date')})")


def run(args) -> int:
    model = (Sequential(args.model) if args.model
             else load_model(single_weights(args.weights, "summary")))
    print_summary(model)
    return 0
