"""``cnn predict`` with a results file, ``--resume`` or a Dask cluster (``--workers``,
``--scheduler``): the command's side of :mod:`cnn.tasks.distributed` (options checked, the
client opened, results streamed to the file with a progress bar).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

from cnn.errors import UserError
from cnn.parallel.workers import environment
from cnn.tasks.distributed import (
    WORKER_WAIT_S,
    DoneSet,
    ResultsWriter,
    drop_torn_line,
    import_distributed,
    iter_image_paths,
    partitions,
    read_done,
    results_format,
    stream_predictions,
)

# -- the command -------------------------------------------------------------------------------

def wants_stream(args) -> bool:
    """Whether ``cnn predict``'s options ask for this module's run (else the plain run)."""
    return bool(args.scheduler or args.workers or args.resume or args.paths_from is not None
                or (args.out and not args.csv))


def check_options(args) -> str:
    """The results format, after refusing options that do not go with a streamed run.

    Raises:
        UserError: one line for each conflict.
    """
    if args.csv:
        raise UserError("--csv predicts a Kaggle CSV in this process; it does not go with "
                        "--scheduler, --workers, --resume or --paths-from")
    if not args.out:
        raise UserError("--scheduler, --workers, --resume and --paths-from write their results "
                        "as they arrive: give --out results.jsonl (or .csv, or - for stdout)")
    if args.scheduler and args.workers:
        raise UserError("give --scheduler ADDRESS (an existing cluster) or --workers N (a "
                        "cluster on this machine), not both")
    for option in ("save_transformed", "plot", "debug_steps"):
        if getattr(args, option):
            raise UserError(f"--{option.replace('_', '-')} writes files for a few images; it "
                            "does not go with --out results files (run it without --out)")
    if not 0 <= args.min_confidence <= 1:
        raise UserError(f"--min-confidence {args.min_confidence} should be between 0 and 1")
    fmt = results_format(args.out)
    if args.out == "-":
        if args.resume:
            raise UserError("--resume reads the results file again: give --out FILE, not -")
        return fmt
    target = Path(args.out)
    if target.is_dir():
        raise UserError(f"--out {target} is a folder; give the results file's path")
    if target.exists() and not (args.resume or args.overwrite):
        raise UserError(f"--out {target} exists; use --resume to go on where it stopped, or "
                        "--overwrite to start again")
    return fmt


def open_client(args, stack):
    """A ``distributed.Client`` for ``--scheduler`` or ``--workers`` (``None`` for neither),
    closed with ``stack``; and a description of where the work runs."""
    if not (args.scheduler or args.workers):
        return None, "this process"
    distributed = import_distributed()
    if args.workers:
        # CRITICAL, not ERROR: a worker whose heartbeat races the scheduler's shutdown logs a
        # harmless traceback at ERROR level on the user's terminal. ``silence_logs`` holds
        # only while each worker is open (its exit stack restores the handler on close, and
        # a heartbeat still in flight may log after that), so the worker processes are also
        # started with Dask's logging config saying so (read once, as they import
        # distributed; a worker the cluster restarts later starts without it, and may log).
        # Task failures still reach this process through their futures and are reported
        # per file.
        with environment({"DASK_LOGGING__DISTRIBUTED": "critical"}):
            cluster = stack.enter_context(distributed.LocalCluster(
                n_workers=args.workers, threads_per_worker=1, processes=True,
                host="127.0.0.1", dashboard_address=None, silence_logs=logging.CRITICAL))
        client = stack.enter_context(distributed.Client(cluster))
        return client, f"a local Dask cluster of {args.workers} worker process(es)"
    try:
        client = stack.enter_context(distributed.Client(args.scheduler, timeout="10s"))
    except (OSError, TimeoutError, ValueError) as e:
        raise UserError(f"cannot reach the Dask scheduler at {args.scheduler!r} ({e}); start "
                        f"one with 'dask scheduler' and give its address, "
                        f"e.g. tcp://10.0.0.5:8786") from None
    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT_S)
    except TimeoutError:
        raise UserError(f"no Dask worker joined the scheduler at {args.scheduler} within "
                        f"{WORKER_WAIT_S} s; start some with 'dask worker {args.scheduler}'") \
            from None
    return client, f"the Dask cluster at {args.scheduler}"


def run(args) -> int:
    """``cnn predict ... --out FILE`` with or without a cluster: stream every file's result
    into ``--out``, skipping (``--resume``) the files already there; print a summary.

    Returns:
        the exit status: 1 when some files could not be read (their lines carry the error),
        else 0.
    """
    from contextlib import ExitStack

    from tqdm import tqdm

    from cnn.cli.commands.common import rejector_from_args
    from cnn.tasks.predictor import load_predictor

    fmt = check_options(args)
    paths = iter_image_paths(args.paths, args.paths_from)
    name, model = load_predictor(args.weights, args.ensemble)
    predictor = (model, rejector_from_args(args))
    done = DoneSet()
    if args.out != "-" and Path(args.out).exists():
        if args.resume:
            if drop_torn_line(args.out):
                print(f"cnn: note: dropped the cut-short last line of {args.out} (the run "
                      "writing it was killed); that file is predicted again", file=sys.stderr)
            done = read_done(args.out, fmt)
        else:  # --overwrite
            open(args.out, "w").close()
    skipped = 0

    def todo():
        nonlocal skipped
        for part in partitions(paths, args.partition_size):
            if len(done):
                keep = ~done.contains(part)
                skipped += len(part) - int(keep.sum())
                part = [p for p, k in zip(part, keep) if k]
            if part:
                yield part

    counts = {"predicted": 0, "answered": 0, "rejected": 0, "errors": 0}
    labelled = right = 0
    with ExitStack() as stack:
        client, where = open_client(args, stack)
        start = time.perf_counter()  # the cluster's start-up is not in the rate
        writer = ResultsWriter(args.out, fmt)
        stack.callback(writer.close)
        bar = stack.enter_context(tqdm(unit="img", desc="predict", file=sys.stderr,
                                       disable=args.quiet or args.out == "-", mininterval=1))
        for records in stream_predictions(todo(), predictor, client, args.min_confidence,
                                          args.polarity, max_digits=args.max_digits):
            writer.write(records)
            bar.update(len(records))
            counts["predicted"] += len(records)
            counts["answered"] += sum(r["digit"] is not None or bool(r.get("number"))
                                      for r in records)
            counts["rejected"] += sum(bool(r["rejected"]) for r in records)
            counts["errors"] += sum(r["error"] is not None for r in records)
            labelled += sum(r["label"] is not None for r in records)
            right += sum(r["label"] is not None and r["digit"] == r["label"] for r in records)
    seconds = time.perf_counter() - start
    if counts["predicted"] + skipped == 0:
        given = ", ".join(args.paths + ([args.paths_from] if args.paths_from else []))
        raise UserError(f"no image files found in {given}; give folders of images or a list "
                        "of image paths")
    summary = {"model": model.model_string, "weights": name, "out": args.out, **counts,
               "skipped": skipped, "labelled": labelled,
               "accuracy": right / labelled if labelled else None,
               "seconds": round(seconds, 3), "where": where}
    output = sys.stderr if args.out == "-" else sys.stdout
    if args.json:
        print(json.dumps(summary), file=output)
    else:
        rate = counts["predicted"] / seconds if seconds > 0 else 0.0
        print(f"model {model.model_string} ({Path(name).name}) on {where}", file=output)
        print(f"predicted {counts['predicted']:,} file(s) in {seconds:.1f} s ({rate:.1f}/s): "
              f"{counts['answered']:,} answered, {counts['rejected']:,} not a digit, "
              f"{counts['errors']:,} could not be read"
              + (f"; {skipped:,} already in {args.out}, skipped" if skipped else ""),
              file=output)
        if labelled:
            print(f"accuracy: {right}/{labelled} labelled files = {100 * right / labelled:.2f}%",
                  file=output)
        if args.out != "-":
            print(f"results: {args.out}", file=output)
    return 1 if counts["errors"] else 0
