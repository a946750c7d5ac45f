"""Choose the fine-tuning recipe of ``cnn train --init`` by measurement (issue 26).

For each recipe variant: fine-tune the default model on a writer set's ``train/`` folder (the
code path of ``cnn train --init W --data DIR --epochs 5``, with the variant in place of
:data:`cnn.tasks.safe_finetune.DEFAULT_RECIPE`), then score the set's ``test/`` images through
``cnn predict`` (gate on; no answer = wrong) and MNIST's test set. Prints one line per variant.

Usage (MNIST from $CNN_MNIST_DATA; writer sets from scripts/make_writer_sets.py)::

    flock /tmp/cnn-bench.lock python benchmarks/finetune_recipes.py /tmp/writers/pen
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

VARIANTS = {
    "default": {},
    "lr 3e-4": {"lr": 3e-4},
    "lr 3e-5": {"lr": 3e-5},
    "lr 1e-3": {"lr": 1e-3},
    "cosine lr 3e-4": {"lr": 3e-4, "schedule": "cosine"},
    "bn adapt": {"batch_norm": "adapt"},
    "replay 0.25": {"replay": 0.25},
    "replay 0": {"replay": 0.0},
    "freeze 2": {"freeze": 2},
    "lr 3e-4 wise 0.5": {"lr": 3e-4, "wise": 0.5},
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("writer_set", help="a folder with train/ and test/")
    parser.add_argument("--init", default=None, help="weights file (the default model)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS),
                        help="names above, or fields such as 'lr=3e-5,replay=0.25'")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from score_writer_set import score

    from cnn.cli.commands.train import check_target
    from cnn.cli.commands.train_init import finetune_and_save
    from cnn.io.catalog import default_weights
    from cnn.tasks import safe_finetune

    init = args.init or str(default_weights())
    base = safe_finetune.DEFAULT_RECIPE
    ws = Path(args.writer_set)
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.variants:
            fields = VARIANTS[name] if name in VARIANTS else {k: (v if k in ("schedule", "batch_norm") else v == "1" if k == "augment" else
                                                float(v) if "." in v or "e" in v else int(v))
                                                for k, v in (f.split("=") for f in name.split(","))}
            safe_finetune.DEFAULT_RECIPE = replace(base, **fields)
            out = Path(tmp) / "tuned.npz"
            t0 = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()) as log:
                result = finetune_and_save(None, init, [str(ws / "train")], epochs=args.epochs,
                                           seed=args.seed, out=str(out), overwrite=True, quiet=True,
                                           check_target=check_target)
            seconds = time.perf_counter() - t0
            m = result["history"]
            ok, n = score(str(ws / "test"), str(out))
            meta_line = [l for l in log.getvalue().splitlines() if l.startswith("MNIST test")]
            print(f"{name:20s} test {100 * ok / n:6.2f}% ({ok}/{n})  "
                  f"{meta_line[0] if meta_line else ''}  kept epoch {m.best}  {seconds:.0f} s",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
