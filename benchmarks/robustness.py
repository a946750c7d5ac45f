"""The whole robustness table for any weights file, in one run (docs/robustness.md).

For a classifier (one weights file, or several: an ensemble) and the not-a-digit gate, this
prints one row per test set, each made by the project's *test* generators (never used in
training: the training augmentation, ``cnn/data/augment.py``, the photo renderer,
``cnn/data/photo_render.py``, and the gate's negatives, ``scripts/make_gate_negatives.py``, are
separate code):

==================  =============================================================  =========
set                 generator                                                      held out
==================  =============================================================  =========
mnist               MNIST test, 10,000 raw arrays                                   no
corrupt_c           ``scripts/corrupt_mnist_c.py`` (MNIST-C's corruptions,          no
                    re-implemented), raw arrays
corrupt_c_predict   the same as 28 x 28 PNG files through ``cnn predict`` (gate on)  no
corrupt_d           ``scripts/corrupt_degrade.py`` (document/sensor degradation)    yes
corrupt_d_predict   the same through ``cnn predict``                                yes
photos_a, photos_b  ``scripts/make_hard_photos.py`` styles a and b                  no
phone               ``scripts/make_phone_photos.py`` (a camera model, other code)  yes
writers_*           ``scripts/make_writer_sets.py`` (hershey, pen, euro) test       no
                    splits; ``scripts/make_hershey_digits.py`` (outline lettering)
nondigit_a, _b      ``scripts/make_non_digits.py`` styles a and b, seeds 1101 and   no
                    1102 (the gates trained on this generator used seeds 11-14
                    and 31-38)
nondigit_hand       ``scripts/make_non_digits_b.py`` (hand-drawn things, cut and    no
                    paired digits; held out in round 1, looked at since)
nondigit_c          ``scripts/make_non_digits_c.py`` (printed and handwritten       yes
                    words, symbols, icons, patterns, photo crops, blank pages)
custom              ``custom_test_images/`` (50 files)                               no
==================  =============================================================  =========

"Held out" sets run only with ``--held-out``: they were looked at once, at the end, after the
model and gate were chosen (docs/robustness.md says when).

Columns: ``accuracy`` is top-1 over every labelled input (an input with no answer, "not a
digit" or no ink found, counts as wrong); ``turned away``: the share of real digits the gate
rejected; ``ECE``: expected calibration error (15 bins) of the answered inputs' confidence;
``uncertain x``: how many times more often answers with confidence below the model's
``uncertain_below`` are wrong than the rest; for non-digit sets, ``rejected`` is the share
answered "not a digit". Corruption suites report the mean error over their corruptions
(identity excluded), as MNIST-C does.

Usage::

    python benchmarks/robustness.py [--weights FILE ...] [--gate FILE] [--sets DIR]
        [--only mnist,photos_a] [--held-out] [--json OUT.json] [--detail]

The sets are generated into ``--sets`` (default ``/tmp/cnn_robustness_sets``) on first use,
with fixed seeds (a few minutes); later runs reuse them.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cnn.data.mnist import load_mnist
from cnn.errors import UserError
from cnn.tasks.calibrate import UNCERTAIN_BELOW, expected_calibration_error, uncertainty_ratio
from cnn.tasks.predict import collect_images, has_answer, predict_files
from cnn.tasks.predictor import load_predictor
from cnn.tasks.reject import Rejector

SCRIPTS = ROOT / "scripts"
SEED = 11  # the test sets' seed: not the seeds the docs' other examples use

# name -> (kind, generator command (without --out), held out)
SETS = {
    "mnist": ("arrays", None, False),
    "corrupt_c": ("suite", ["corrupt_mnist_c.py", "--n", "2000"], False),
    "corrupt_c_predict": ("suite_files", ["corrupt_mnist_c.py", "--n", "100", "--png"], False),
    "corrupt_d": ("suite", ["corrupt_degrade.py", "--n", "2000"], True),
    "corrupt_d_predict": ("suite_files", ["corrupt_degrade.py", "--n", "100", "--png"], True),
    "photos_a": ("digits", ["make_hard_photos.py", "--style", "a", "--per-condition", "20"],
                 False),
    "photos_b": ("digits", ["make_hard_photos.py", "--style", "b", "--per-condition", "20"],
                 False),
    "phone": ("digits", ["make_phone_photos.py", "--per-condition", "20"], True),
    "writers": ("writer_sets", ["make_writer_sets.py"], False),
    "writers_outline": ("folder_classes", ["make_hershey_digits.py", "--per-class", "30"],
                        False),
    "nondigit_a": ("nondigits", ["make_non_digits.py", "--style", "a", "--per-kind", "40",
                                 "--seed", "1101"], False),
    "nondigit_b": ("nondigits", ["make_non_digits.py", "--style", "b", "--per-kind", "40",
                                 "--seed", "1102"], False),
    "nondigit_hand": ("nondigits", ["make_non_digits_b.py", "--per-kind", "30"], False),
    "nondigit_c": ("nondigits", ["make_non_digits_c.py", "--per-kind", "40", "--seed", "6025"],
                   True),
    "custom": ("custom", None, False),
}


# The default model is the shipped classifier with the highest selection score: the mean of its
# clean MNIST accuracy, 1 - its mean error on the MNIST-C-style suite, and its accuracy on both
# hard-photo styles and the writer sets, read without the gate (the classifier alone).
SCORE_SETS = ("mnist", "corrupt_c", "photos_a", "photos_b", "writers")


def selection_score(results: dict) -> float:
    """The mean over SCORE_SETS of accuracy (1 - mean error for a corruption suite), in [0, 1]."""
    parts = [1 - results[n]["mean_error"] if "mean_error" in results[n]
             else results[n]["accuracy"] for n in SCORE_SETS]
    return float(np.mean(parts))


def set_command(name: str) -> list[str] | None:
    """The generator command of set ``name`` (script and arguments, without ``--out``), with
    the default :data:`SEED` unless the set names its own seed."""
    command = SETS[name][1]
    if command is None:
        return None
    return command if "--seed" in command else [*command, "--seed", str(SEED)]


def generate(name: str, folder: Path) -> Path:
    """Make set ``name`` in ``folder`` with its generator unless it is there already.

    The command is written to ``folder/.generator``; a folder made by another command (another
    seed) is not reused.

    Raises:
        SystemExit: ``folder`` holds files of another command (delete it to regenerate).
    """
    command = set_command(name)
    if command is None:
        return folder
    stamp = folder / ".generator"
    if folder.exists() and any(folder.iterdir()):
        made = (stamp.read_text().split() if stamp.exists()
                else [*SETS[name][1], "--seed", str(SEED)])  # sets made before the stamp
        if made != command:
            raise SystemExit(f"robustness.py: {folder} was made by '{' '.join(made)}', not "
                             f"'{' '.join(command)}'; delete it to regenerate")
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    print(f"generating {name} into {folder}", file=sys.stderr)
    partial = folder.with_name(folder.name + ".partial")  # renamed into place when complete
    shutil.rmtree(partial, ignore_errors=True)
    subprocess.run([sys.executable, str(SCRIPTS / command[0]), *command[1:], "--out",
                    str(partial)], check=True, stdout=subprocess.DEVNULL)
    (partial / ".generator").write_text(" ".join(command) + "\n")
    if folder.exists():
        folder.rmdir()  # empty (checked above)
    partial.rename(folder)
    return folder


def score_predictions(predictions) -> dict:
    """Accuracy, turned-away share, ECE and the uncertain ratio over labelled predictions."""
    labelled = [p for p in predictions if p.label is not None]
    n = len(labelled)
    right = sum(p.digit == p.label for p in labelled)
    # turned away: no answer at all; a number read in a one-digit picture is a wrong answer
    away = sum(not has_answer(p) for p in labelled)
    answered = [p for p in labelled if p.digit is not None and p.probabilities]
    out = {"n": n, "accuracy": right / n if n else None, "turned_away": away / n if n else None}
    if answered:
        probs = np.array([p.probabilities for p in answered])
        labels = np.array([p.label for p in answered])
        out["ece"] = expected_calibration_error(probs, labels)
        ratio = uncertainty_ratio(probs, labels, UNCERTAIN_BELOW)["ratio"]
        if ratio is not None:
            out["uncertain_ratio"] = ratio
    return out


def class_folder_files(folder: Path) -> list:
    """Every image in the class folders ``folder/0`` .. ``folder/9``, in order."""
    subs = [folder / str(d) for d in range(10) if (folder / str(d)).is_dir()]
    return collect_images([str(s) for s in subs])


def run_files(files, model, rejector) -> list:
    """``cnn predict``'s reading of ``files`` (one digit per file, gate on)."""
    return predict_files(files, model=model, rejector=rejector)[1]


def score_arrays(model, x, y) -> dict:
    """Accuracy and ECE of raw 28 x 28 arrays (no pipeline, no gate)."""
    probs = model.predict_proba(x)[:, :10]
    return {"n": len(x), "accuracy": float((probs.argmax(1) == y).mean()),
            "ece": expected_calibration_error(probs / probs.sum(1, keepdims=True), y)}


def score_set(name: str, folder: Path, model, rejector, detail: dict) -> dict:
    """One row of the table (and per-condition details into ``detail``)."""
    kind = SETS[name][0]
    if kind == "arrays":
        _, (x, y) = load_mnist()
        return score_arrays(model, x, y)
    if kind == "suite":
        errors = {}
        for f in sorted(folder.glob("*.npz")):
            with np.load(f) as d:
                errors[f.stem] = 1 - score_arrays(model, d["x_test"], d["y_test"])["accuracy"]
        detail[name] = errors
        used = {k: v for k, v in errors.items() if k != "identity"}
        return {"n": len(used), "mean_error": float(np.mean(list(used.values())))}
    if kind == "suite_files":
        errors, turned = {}, {}
        for sub in sorted(p for p in (folder / "png").iterdir() if p.is_dir()):
            s = score_predictions(run_files(collect_images([str(sub)]), model, rejector))
            errors[sub.name], turned[sub.name] = 1 - s["accuracy"], s["turned_away"]
        detail[name] = {k: f"{errors[k]:.3f} (away {turned[k]:.3f})" for k in errors}
        used = [k for k in errors if k != "identity"]
        return {"n": len(used), "mean_error": float(np.mean([errors[k] for k in used])),
                "turned_away": float(np.mean([turned[k] for k in used]))}
    if kind in ("digits", "folder_classes", "custom"):
        source = ROOT / "custom_test_images" if kind == "custom" else folder
        files = (class_folder_files(source) if kind == "folder_classes"
                 else collect_images([str(source)]))
        preds = run_files(files, model, rejector)
        if kind == "digits":
            per = defaultdict(list)
            for p in preds:
                parts = Path(p.file).stem.split("_")
                per[parts[1] if len(parts) > 2 else "other"].append(p)
            detail[name] = {c: score_predictions(ps)["accuracy"] for c, ps in sorted(per.items())}
        if kind == "folder_classes":
            for p in preds:
                p.label = int(Path(p.file).parent.name)
        return score_predictions(preds)
    if kind == "writer_sets":
        rows, merged = {}, []
        for sub in sorted(p for p in folder.iterdir() if (p / "test").is_dir()):
            files = class_folder_files(sub / "test")
            preds = run_files(files, model, rejector)
            for p in preds:
                p.label = int(Path(p.file).parent.name)
            rows[sub.name] = score_predictions(preds)["accuracy"]
            merged += preds
        detail[name] = rows
        return score_predictions(merged)
    if kind == "nondigits":
        preds = run_files(collect_images([str(folder)]), model, rejector)
        per = defaultdict(list)
        for p in preds:
            # rejected: no answer; a number read in a non-digit (its digit field is empty
            # then) is an answer, and a wrong one
            per[Path(p.file).stem.split("_")[1]].append(not has_answer(p))
        detail[name] = {k: float(np.mean(v)) for k, v in sorted(per.items())}
        return {"n": len(preds), "rejected": float(np.mean([not has_answer(p) for p in preds]))}
    raise ValueError(name)


def fmt(value, pct: bool = True) -> str:
    if value is None:
        return "-"
    return f"{100 * value:.1f}%" if pct else f"{value:.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", nargs="*", default=None,
                        help="classifier weights (several: an ensemble); default: the default")
    parser.add_argument("--gate", default=None, action="append",
                        help="gate weights; more than once: they decide by their mean and "
                             "need --threshold (default: the shipped gates)")
    parser.add_argument("--threshold", type=float, default=None, help="gate threshold")
    parser.add_argument("--sets", default="/tmp/cnn_robustness_sets")
    parser.add_argument("--only", default=None, help="comma-separated set names")
    parser.add_argument("--held-out", action="store_true", help="also the held-out sets")
    parser.add_argument("--json", default=None, help="write the results here")
    parser.add_argument("--detail", action="store_true", help="per-condition tables too")
    parser.add_argument("--no-reject", action="store_true",
                        help="no not-a-digit gate (the classifier alone, as predict --no-reject)")
    parser.add_argument("--score", action="store_true",
                        help="only the sets of the selection score (SCORE_SETS), gate off, and "
                        "print the score")
    args = parser.parse_args(argv)
    if args.score:
        args.only, args.no_reject = ",".join(SCORE_SETS), True
    names = [n for n in SETS if (args.held_out or not SETS[n][2])]
    if args.only:
        wanted = args.only.split(",")
        unknown = [n for n in wanted if n not in SETS]
        if unknown:
            parser.error(f"unknown set(s) {', '.join(unknown)}; known: {', '.join(SETS)}")
        names = [n for n in wanted if args.held_out or not SETS[n][2]]
    label, model = load_predictor(args.weights)
    try:
        rejector = None if args.no_reject else Rejector.default(args.threshold, args.gate)
    except UserError as e:
        parser.error(str(e).replace("--reject-threshold", "--threshold"))
    print(f"classifier: {label} ({getattr(model, 'model_string', 'ensemble')}); "
          f"{rejector.describe() if rejector else 'no gate'}")
    results, detail = {}, {}
    for name in names:
        start = time.perf_counter()
        folder = generate(name, Path(args.sets) / name)
        results[name] = score_set(name, folder, model, rejector, detail)
        results[name]["seconds"] = time.perf_counter() - start
        print(f"  {name}: {results[name]}", file=sys.stderr)
    print("\n| set | n | accuracy | mean error | turned away | rejected (non-digits) | ECE "
          "| uncertain x |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, r in results.items():
        tag = f"{name}{' (held out)' if SETS[name][2] else ''}"
        print(f"| {tag} | {r['n']} | {fmt(r.get('accuracy'))} | {fmt(r.get('mean_error'))} | "
              f"{fmt(r.get('turned_away'))} | {fmt(r.get('rejected'))} | {fmt(r.get('ece'))} | "
              f"{fmt(r.get('uncertain_ratio'), pct=False)} |")
    if args.detail:
        for name, rows in detail.items():
            print(f"\n{name}: " + ", ".join(
                f"{k} {v if isinstance(v, str) else fmt(v)}" for k, v in rows.items()))
    if args.score:
        value = selection_score(results)
        print(f"\nselection score (mean of {', '.join(SCORE_SETS)}, corruption error as "
              f"1 - error): {100 * value:.2f}")
        results["selection_score"] = {"n": len(SCORE_SETS), "accuracy": value}
    if args.json:
        Path(args.json).write_text(json.dumps({"classifier": label,
                                               "gate": rejector.describe() if rejector else None,
                                               "results": results, "detail": detail}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
