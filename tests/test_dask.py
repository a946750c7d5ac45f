"""``cnn predict --out/--resume/--workers/--scheduler`` (:mod:`cnn.tasks.distributed`): the same
answer for every file as the plain run, on a real Dask cluster of worker processes on
127.0.0.1; nothing lost or written twice when a worker or the client is killed mid-run; the
results file, its resume reader (a cut-short last line included) and the lazy inputs."""

from __future__ import annotations

import builtins
import json
import os
import signal
import subprocess
import sys
import time
from itertools import islice
from pathlib import Path

import cv2
import numpy as np
import pytest

from cnn.cli import main
from cnn.tasks import distributed as dist
from cnn.tasks.predict import predict_files
from cnn.tasks.predictor import load_predictor
from cnn.tasks.reject import Rejector

ROOT = Path(__file__).resolve().parents[1]
SUBSET = ROOT / "tests" / "data" / "mnist_subset.npz"


def photo(digit: np.ndarray, height: int, width: int, rng) -> np.ndarray:
    """A phone-photo-like uint8 (height, width) image: a 28x28 MNIST digit drawn dark on
    shaded, noisy light paper, with a margin around it."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    paper = 200 + 30 * xx / width - 20 * yy / height + rng.normal(0, 6, (height, width))
    side = int(min(height, width) * rng.uniform(0.4, 0.6))
    ink = cv2.resize(digit, (side, side), interpolation=cv2.INTER_LINEAR) / 255.0
    y0 = rng.integers(height // 8, height - side - height // 8 + 1)
    x0 = rng.integers(width // 8, width - side - width // 8 + 1)
    paper[y0:y0 + side, x0:x0 + side] = paper[y0:y0 + side, x0:x0 + side] * (1 - ink) + 40 * ink
    return np.clip(paper, 0, 255).astype(np.uint8)


def write_images(folder: Path, n: int, photos_every: int = 3, seed: int = 0) -> list[Path]:
    """``n`` labelled test digits from the MNIST subset as files <label>_<i>.png|jpg: plain
    28x28 PNGs, and every ``photos_every``-th a 160x200 JPEG photo; plus an unreadable file
    and a blank page (an error and a rejection), in a subfolder to exercise the tree walk."""
    with np.load(SUBSET) as d:
        x, y = d["x_test"], d["y_test"]
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sub").mkdir(exist_ok=True)
    written = []
    for i in range(n):
        target = folder / ("sub" if i % 2 else "") / f"{y[i]}_{i:04d}"
        if i % photos_every == 0:
            target = target.with_suffix(".jpg")
            cv2.imwrite(str(target), photo(x[i], 200, 160, rng))
        else:
            target = target.with_suffix(".png")
            cv2.imwrite(str(target), 255 - x[i])  # dark ink on white, as drawn
        written.append(target)
    (folder / "notes.png").write_text("not an image")
    cv2.imwrite(str(folder / "blank.png"), np.full((120, 100), 230, np.uint8))
    return written + [folder / "notes.png", folder / "blank.png"]


def plain_answers(files: list[Path]) -> dict[str, dict]:
    """The plain run's prediction of each file (``predict_files``, as ``cnn predict --json``)."""
    _, predictions, _ = predict_files(files, rejector=Rejector.default())
    return {p.file: vars(p) for p in predictions}


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def assert_same_answers(records: list[dict], expected: dict[str, dict]) -> None:
    files = [r["file"] for r in records]
    assert sorted(files) == sorted(expected), "every file once, no other"
    for r in records:
        e = expected[r["file"]]
        for key in ("digit", "label", "rejected", "uncertain", "error", "reason"):
            assert r[key] == e[key], (r["file"], key)
        if e["confidence"] is not None:
            assert r["confidence"] == pytest.approx(e["confidence"], abs=1e-5)
            assert r["probabilities"] == pytest.approx(e["probabilities"], abs=1e-5)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dask") / "images"
    files = write_images(folder, 60)
    return folder, plain_answers(sorted(files, key=str))


@pytest.fixture(scope="module")
def cluster_client():
    """A real cluster: 2 worker processes, 1 thread each, on 127.0.0.1, no dashboard."""
    import distributed

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None,
                                  silence_logs=50) as cluster, \
            distributed.Client(cluster) as client:
        yield client


# -- inputs ----------------------------------------------------------------------------------

def test_folder_tree_is_walked_sorted_recursively_without_hidden_files(tmp_path):
    for name in ["b/2.png", "b/1.jpg", "a.png", ".hidden/3.png", "c/.4.png", "notes.txt"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    listed = list(dist.iter_image_paths([str(tmp_path)]))
    assert listed == [str(tmp_path / n) for n in ["a.png", "b/1.jpg", "b/2.png"]]


def test_a_list_of_paths_is_read_one_line_at_a_time(monkeypatch):
    consumed = []

    def lines():
        for i in range(1_000_000):
            consumed.append(i)
            yield f"img_{i}.png\n" if i % 3 else "\n"  # blank lines are skipped

    monkeypatch.setattr(sys, "stdin", lines())
    first = list(islice(dist.iter_image_paths([], "-"), 4))
    assert first == ["img_1.png", "img_2.png", "img_4.png", "img_5.png"]
    assert len(consumed) == 6  # not a million


def test_partitions_cut_the_stream_without_losing_a_path():
    parts = list(dist.partitions(iter(str(i) for i in range(10)), 4))
    assert [len(p) for p in parts] == [4, 4, 2]
    assert sum(parts, []) == [str(i) for i in range(10)]


def test_a_missing_input_is_one_line_before_anything_runs(tmp_path, capsys):
    status = main(["predict", str(tmp_path / "nope"), "--out", str(tmp_path / "r.jsonl")])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "nope' not found" in err
    assert not (tmp_path / "r.jsonl").exists()


# -- results file and resume -----------------------------------------------------------------

def test_done_set_finds_exactly_the_paths_it_holds():
    held = [f"/data/{i}/photo.jpg" for i in range(5000)]
    done = dist.DoneSet(iter(held))
    query = held[::7] + [f"/data/{i}/photo.JPG" for i in range(100)] + ["", "/data/1"]
    found = done.contains(query)
    assert found.tolist() == [True] * len(held[::7]) + [False] * 102


def test_a_cut_short_last_line_is_dropped_and_whole_lines_kept(tmp_path):
    out = tmp_path / "r.jsonl"
    out.write_text('{"file": "a.png"}\n{"file": "b.png"}\n{"file": "c.p')
    assert dist.drop_torn_line(str(out))
    assert out.read_text() == '{"file": "a.png"}\n{"file": "b.png"}\n'
    assert not dist.drop_torn_line(str(out))  # a whole file is left alone
    done = dist.read_done(str(out), "jsonl")
    assert done.contains(["a.png", "b.png", "c.png"]).tolist() == [True, True, False]


def test_csv_results_round_trip_through_the_resume_reader(tmp_path):
    out = tmp_path / "r.csv"
    records = [{"file": "x,1.png", "digit": 1, "confidence": 0.9, "label": None,
                "uncertain": False, "rejected": False, "reason": None, "not_digit": None,
                "error": None, "probabilities": [0.1] * 10},
               {"file": "bad.png", "digit": None, "confidence": None, "label": None,
                "uncertain": False, "rejected": False, "reason": None, "not_digit": None,
                "error": "'bad.png': not an image", "probabilities": []}]
    writer = dist.ResultsWriter(str(out), "csv")
    writer.write(records)
    writer.close()
    lines = out.read_text().splitlines()
    assert lines[0].split(",") == dist.CSV_FIELDS and len(lines) == 3
    assert dist.read_done(str(out), "csv").contains(["x,1.png", "bad.png", "x"]).tolist() == \
        [True, True, False]


def test_csv_results_carry_the_number_and_an_older_file_goes_on_without_it(tmp_path):
    import csv

    record = {"file": "meter.jpg", "digit": None, "confidence": None, "label": None,
              "uncertain": False, "rejected": False, "reason": None, "not_digit": None,
              "error": None, "probabilities": [], "number": "40517"}
    new, old = tmp_path / "new.csv", tmp_path / "old.csv"
    writer = dist.ResultsWriter(str(new), "csv")
    writer.write([record])
    writer.close()
    rows = list(csv.reader(new.open()))
    assert rows[0][-1] == "number" and rows[1][-1] == "40517" and len(rows[1]) == len(rows[0])
    old.write_text(",".join(dist.CSV_FIELDS_V1) + "\n")  # begun before numbers were read
    writer = dist.ResultsWriter(str(old), "csv")
    writer.write([record])
    writer.close()
    rows = list(csv.reader(old.open()))
    assert rows[0] == dist.CSV_FIELDS_V1 and len(rows[1]) == len(dist.CSV_FIELDS_V1)
    assert dist.read_done(str(old), "csv").contains(["meter.jpg"]).tolist() == [True]


def test_a_results_file_is_not_replaced_without_resume_or_overwrite(images, tmp_path, capsys):
    folder, _ = images
    out = tmp_path / "r.jsonl"
    out.write_text("keep\n")
    status = main(["predict", str(folder), "--out", str(out)])
    err = capsys.readouterr().err
    assert status == 2 and "exists; use --resume" in err and out.read_text() == "keep\n"
    status = main(["predict", str(folder), "--out", str(out), "--resume"])  # not ours
    err = capsys.readouterr().err
    assert status == 2 and "line 1 is not a cnn result" in err and out.read_text() == "keep\n"


def test_without_dask_a_cluster_option_is_one_line_naming_the_extra(images, tmp_path, capsys,
                                                                    monkeypatch):
    real_import = builtins.__import__

    def no_dask(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and (name == "distributed" or name.startswith(("distributed.", "dask"))):
            raise ImportError(f"No module named {name!r}")  # as where Dask is not installed
        return real_import(name, globals, locals, fromlist, level)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    folder, _ = images
    status = main(["predict", str(folder), "--workers", "2", "--out", str(tmp_path / "r.jsonl")])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.err.strip().splitlines() == [
        "cnn: error: --scheduler and --workers run on a Dask cluster, and Dask is not "
        "installed: pip install 'cnn[dask]'"]


def test_streamed_run_in_this_process_gives_the_plain_answers(images, tmp_path, capsys):
    folder, expected = images
    out = tmp_path / "r.jsonl"
    status = main(["predict", str(folder), "--out", str(out), "--partition-size", "7", "-q",
                   "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert status == 1  # notes.png cannot be read, and its line says so
    records = read_jsonl(out)
    assert_same_answers(records, expected)
    assert summary["predicted"] == len(expected) and summary["errors"] == 1
    assert summary["rejected"] == sum(e["rejected"] for e in expected.values()) >= 1


def test_resume_predicts_only_what_is_missing(images, tmp_path, capsys):
    folder, expected = images
    out = tmp_path / "r.jsonl"
    first = sorted(expected)[::3]
    out.write_text("".join(json.dumps(expected[f]) + "\n" for f in first))
    status = main(["predict", str(folder), "--out", str(out), "--resume", "-q", "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert summary["skipped"] == len(first)
    assert summary["predicted"] == len(expected) - len(first)
    assert status == 1
    assert_same_answers(read_jsonl(out), expected)


# -- on a real cluster -------------------------------------------------------------------------

def test_cluster_run_gives_every_file_the_plain_answer(images, tmp_path, capsys):
    folder, expected = images
    out = tmp_path / "r.csv"
    status = main(["predict", str(folder), "--workers", "2", "--out", str(out),
                   "--partition-size", "9", "-q", "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert status == 1 and summary["predicted"] == len(expected)
    assert "2 worker" in summary["where"]
    import csv

    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    records = []
    for row in rows:
        def value(key, kind):
            return None if row[key] == "" else kind(row[key])

        records.append({"file": row["file"], "digit": value("digit", int),
                        "label": value("label", int), "rejected": row["rejected"] == "True",
                        "uncertain": row["uncertain"] == "True", "error": value("error", str),
                        "reason": value("reason", str), "confidence": value("confidence", float),
                        "probabilities": [float(row[f"p{d}"]) for d in range(10)]
                        if row["p0"] else []})
    assert_same_answers(records, expected)


@pytest.mark.slow
def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(cluster_client, tmp_path):
    files = write_images(tmp_path / "images", 240, photos_every=2)
    expected = plain_answers(sorted(files, key=str))
    paths = dist.iter_image_paths([str(tmp_path / "images")])
    predictor = (load_predictor(None)[1], Rejector.default())
    killed = None
    records = []
    partitions = 0
    for batch in dist.stream_predictions(dist.partitions(paths, 6), predictor, cluster_client):
        records += batch
        partitions += 1
        if killed is None:
            busy = [w for w, keys in cluster_client.processing().items() if keys]
            if not busy:
                continue
            killed = cluster_client.run(os.getpid)[busy[0]]
            os.kill(killed, signal.SIGKILL)  # the worker, mid-partition; its nanny restarts it
    assert killed is not None and partitions > 4  # the kill came early in the run
    assert len(records) == len(expected)
    assert_same_answers(records, expected)
    pids = cluster_client.run(os.getpid)
    assert killed not in pids.values()


@pytest.mark.slow
def test_resume_after_the_client_is_killed_completes_each_file_once(tmp_path):
    files = write_images(tmp_path / "images", 300, photos_every=1)
    out = tmp_path / "r.jsonl"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    command = [sys.executable, "-m", "cnn", "predict", str(tmp_path / "images"), "--workers",
               "2", "--out", str(out), "--partition-size", "4", "-q"]
    # its own session: the kill takes the client and its cluster's processes together
    process = subprocess.Popen(command, env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if out.exists() and out.read_bytes().count(b"\n") >= 12:
                break
            time.sleep(0.01)
        assert process.poll() is None, "the run ended before it could be killed"
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    written = out.read_bytes()
    assert written.count(b"\n") < len(files), "killed mid-run"
    done = {json.loads(line)["file"] for line in written.splitlines(keepends=True)
            if line.endswith(b"\n")}
    missing = next(str(f) for f in sorted(files, key=str) if str(f) not in done)
    with open(out, "ab") as f:  # a line cut short by the kill, as a SIGKILL mid-write leaves
        f.write(b'{"file": ' + json.dumps(missing).encode()[:10])
    resumed = subprocess.run(command + ["--resume", "--json"], env=env, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 1, resumed.stderr  # notes.png: an error line, as planned
    assert "dropped the cut-short last line" in resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["skipped"] == len(done) and summary["predicted"] == len(files) - len(done)
    assert_same_answers(read_jsonl(out), plain_answers(sorted(files, key=str)))


@pytest.mark.slow
def test_scheduler_address_runs_on_that_cluster(cluster_client, images, tmp_path, capsys):
    folder, expected = images
    out = tmp_path / "r.jsonl"
    address = cluster_client.scheduler.address
    status = main(["predict", str(folder), "--scheduler", address, "--out", str(out),
                   "--partition-size", "16", "-q", "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert status == 1 and summary["where"] == f"the Dask cluster at {address}"
    assert_same_answers(read_jsonl(out), expected)


@pytest.mark.slow
def test_an_unreachable_scheduler_is_one_line(images, tmp_path, capsys):
    folder, _ = images
    status = main(["predict", str(folder), "--scheduler", "tcp://127.0.0.1:9",
                   "--out", str(tmp_path / "r.jsonl")])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert "cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'" in err


def test_a_file_that_breaks_the_pipeline_costs_only_its_own_line(images, monkeypatch):
    from cnn.tasks import predict

    folder, expected = images
    real = predict.preprocess_file_keeping_image
    broken = sorted(expected)[5]

    def preprocess_file_keeping_image(path, *args, **kwargs):
        if str(path) == broken:
            raise RuntimeError("decoder crashed\nsecond line")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(predict, "preprocess_file_keeping_image", preprocess_file_keeping_image)
    paths = sorted(expected)[:12]
    records = predict_partition_here(paths)
    assert [r["file"] for r in records] == paths
    assert records[5]["error"] == f"{broken!r}: RuntimeError: decoder crashed"
    assert_same_answers(records[:5] + records[6:], {p: expected[p] for p in paths if p != broken})


def predict_partition_here(paths):
    return dist.predict_partition(paths, (load_predictor(None)[1], Rejector.default()))


class KillsItsWorker:
    """A network whose first use ends the process using it (a decoder that segfaults, a
    worker killed for memory, every time its partition runs)."""

    num_classes = 10

    def predict_proba(self, x, batch_size=None):
        os._exit(1)


@pytest.mark.slow
def test_a_partition_that_kills_every_worker_gets_error_lines_and_the_run_goes_on(
        cluster_client, images):
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers lack tests/
    folder, expected = images
    paths = sorted(expected)[:6]
    records = list(dist.stream_predictions(iter([paths]), (KillsItsWorker(), None),
                                           cluster_client))
    assert [r["file"] for r in records[0]] == paths
    assert all("every worker that ran its partition died (KilledWorker" in r["error"]
               for r in records[0])
    good = list(dist.stream_predictions(iter([paths]), (load_predictor(None)[1],
                                                        Rejector.default()), cluster_client))
    assert_same_answers(good[0], {p: expected[p] for p in paths})  # the cluster recovered


def test_paths_from_a_list_file_predicts_each_listed_path(images, tmp_path, capsys):
    folder, expected = images
    listed = sorted(expected)[:5] + [str(tmp_path / "gone.png")]
    (tmp_path / "list.txt").write_text("\n".join(listed) + "\n\n")
    out = tmp_path / "r.jsonl"
    status = main(["predict", "--paths-from", str(tmp_path / "list.txt"), "--out", str(out),
                   "-q"])
    assert status == 1 and "results: " in capsys.readouterr().out
    records = read_jsonl(out)
    assert [r["file"] for r in records] == listed  # one partition here: in order
    assert "no such file" in records[-1]["error"]
    assert_same_answers(records[:-1], {p: expected[p] for p in listed[:-1]})


def _distributed_levels():
    """In a worker: the effective level of its "distributed.worker" logger (the heartbeat's)."""
    import logging

    return logging.getLogger("distributed.worker").getEffectiveLevel()


def test_local_cluster_workers_log_only_critical_for_life_and_the_environment_is_restored():
    # A heartbeat in flight when a worker closes can log a traceback at ERROR level after
    # silence_logs' handler level is restored: the workers' own logger must say CRITICAL.
    import argparse
    import logging
    from contextlib import ExitStack

    from cnn.cli.commands.predict_cluster import open_client

    before = os.environ.get("DASK_LOGGING__DISTRIBUTED")
    args = argparse.Namespace(scheduler=None, workers=1)
    with ExitStack() as stack:
        client, where = open_client(args, stack)
        levels = client.run(_distributed_levels)
    assert "1 worker" in where and list(levels.values()) == [logging.CRITICAL]
    assert os.environ.get("DASK_LOGGING__DISTRIBUTED") == before
