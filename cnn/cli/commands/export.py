"""``cnn export``: a weights file -> an ONNX file that ONNX Runtime, Netron and other tools read.

The export itself is :mod:`cnn.io.onnx_export`; this command loads the weights, writes the file
(atomically, never replacing one without ``--overwrite``) and, when ``onnxruntime`` is
installed, runs the written file on a batch of images beside our own engine and reports the
largest logit difference.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from cnn.cli.commands.common import positive_int
from cnn.errors import UserError
from cnn.io.catalog import default_weights
from cnn.io.weights import load_model

EXAMPLE = """examples:
  cnn export --out model.onnx
  cnn export --weights "weight_output/weight_detailsC(8,5)-P2-C(16,3)-P2-FC128-FC10.npz" --out small.onnx --opset 13 --softmax
  cnn export --web digit-page

--web writes a static page instead: open digit-page/index.html, or put the folder on any
web host (see docs/web-export.md).

The written .onnx file works as --weights in cnn predict, evaluate, summary and visualize,
and in onnxruntime:
  import numpy as np, onnxruntime as ort
  session = ort.InferenceSession("model.onnx")
  logits = session.run(None, {"input": np.zeros((1, 1, 28, 28), np.float32)})[0]
"""
CHECK_IMAGES = 64


def add_parser(subparsers, common) -> None:
    from cnn.io.onnx_export import DEFAULT_OPSET, MIN_OPSET

    p = subparsers.add_parser(
        "export", parents=[common], help="write a model as an ONNX file or a static web page",
        description="Export a weights file to ONNX: input 'input' float32 [N, 1, 28, 28] "
        "(pixels x/255 in [0, 1], white digit on black), output 'logits' [N, 10] (or "
        "'probabilities' with --softmax). The model string, normalization and training "
        "metadata are stored in the file's metadata_props. Needs the 'onnx' package.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", metavar="PATH", default=None,
                   help="weights .npz (or .onnx) file (default: the shipped default "
                        "model)")
    p.add_argument("--out", metavar="PATH", default=None, help="the .onnx file to write")
    p.add_argument("--web", metavar="DIR", default=None,
                   help="instead of ONNX, write a static web page that runs the network in the "
                        "browser (index.html, cnn.js, weights.js, ...) to the folder DIR; see "
                        "docs/web-export.md")
    p.add_argument("--opset", metavar="N", type=positive_int, default=DEFAULT_OPSET,
                   help=f"ONNX opset version, {MIN_OPSET} or newer (default {DEFAULT_OPSET})")
    p.add_argument("--softmax", action="store_true",
                   help="end with a Softmax: output 'probabilities' instead of 'logits'")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.set_defaults(run=run)


def check_with_onnxruntime(model, path: Path, softmax: bool) -> str:
    """Run the written file in ONNX Runtime on ``CHECK_IMAGES`` random images beside our
    engine; a line saying how far apart they are (or why nothing was checked)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return "not run in onnxruntime (not installed: pip install onnxruntime)"
    from cnn.io.onnx_export import to_nchw
    from cnn.nn.losses import softmax as np_softmax

    rng = np.random.default_rng(0)
    images = rng.random((CHECK_IMAGES, 28, 28), dtype=np.float32)
    ours = model.logits(images)
    if softmax:
        ours = np_softmax(ours)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    theirs = session.run(None, {"input": to_nchw(images)})[0]
    diff = float(np.abs(ours - theirs).max())
    same = int((ours.argmax(1) == theirs.argmax(1)).sum())
    return (f"onnxruntime {ort.__version__}: max |difference| {diff:.2e} from cnn on "
            f"{CHECK_IMAGES} random images, same top-1 on {same}/{CHECK_IMAGES}")


def run(args) -> int:
    if (args.out is None) == (args.web is None):
        raise UserError("give --out FILE.onnx (ONNX) or --web DIR (a static web page), one of "
                        "them")
    if args.web is not None:
        return run_web(args)
    from cnn.io.onnx_export import export_onnx

    weights = Path(args.weights) if args.weights else default_weights()
    out = Path(args.out)
    if out.suffix.lower() != ".onnx":
        raise UserError(f"--out '{out}' should end in .onnx")
    if out.is_dir():
        raise UserError(f"--out '{out}' is a folder; give a file name such as "
                        f"'{out / 'model.onnx'}'")
    if out.exists() and not args.overwrite:
        raise UserError(f"'{out}' already exists; pass --overwrite to replace it, or choose "
                        "another --out")
    if out.exists() and out.resolve() == weights.resolve():
        raise UserError(f"--out '{out}' is the --weights file itself; choose another --out")
    model = load_model(weights)
    try:
        written = export_onnx(model, out, opset=args.opset, softmax=args.softmax,
                              overwrite=args.overwrite,
                              metadata={"source_weights": weights.name})
    except OSError as e:
        raise UserError(f"cannot write '{out}': {e.strerror or e}") from None
    print(f"wrote {written} ({written.stat().st_size / 1024:.0f} KiB): {model.model_string}, "
          f"opset {args.opset}, output '{'probabilities' if args.softmax else 'logits'}' "
          "(onnx.checker full check passed)")
    if not args.quiet:
        print(check_with_onnxruntime(model, written, args.softmax))
    return 0


def run_web(args) -> int:
    """``cnn export --web DIR``: write the static page (:func:`cnn.io.web_export.export_web`)
    and print what was written, its size and how to open it; returns the exit status (0).

    Raises:
        UserError: bad weights, ``--softmax`` (ONNX only), an existing folder without
            ``--overwrite``, or an unwritable place.
    """
    from cnn.io.web_export import export_web, folder_size

    weights = Path(args.weights) if args.weights else default_weights()
    if args.softmax:
        raise UserError("--softmax is for ONNX files (--out); the web page always shows "
                        "probabilities")
    model = load_model(weights)
    out = Path(args.web)
    try:
        written = export_web(model, out, overwrite=args.overwrite, source=weights.name)
    except OSError as e:
        raise UserError(f"cannot write '{out}': {e.strerror or e}") from None
    print(f"wrote {written}/ ({folder_size(written) / 1024:.0f} KiB): {model.model_string}; "
          f"open {written / 'index.html'} in a browser, or serve the folder with any static "
          f"web server (e.g. python -m http.server -d {written})")
    return 0
