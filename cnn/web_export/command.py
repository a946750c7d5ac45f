"""``cnn export --web DIR [--weights W] [--overwrite]``: the command's side of the web export.

Loads the weights (the most accurate shipped file by default, as every command resolves it),
writes the folder with :func:`cnn.web_export.export_web` and prints one line: what was
written, its size, and how to open it.
"""

from __future__ import annotations

from pathlib import Path

from ..commands.common import default_weights
from ..errors import UserError
from ..weights import load_model
from . import export_web, folder_size


def run_web(args) -> int:
    """Run ``cnn export --web``; returns the exit status (0). Raises ``UserError`` for bad
    weights, an existing folder without ``--overwrite``, or an unwritable place."""
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
