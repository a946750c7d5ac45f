"""Latency and throughput of ``cnn serve``'s ``POST /api/predict`` on loopback (issue 30's rows).

A real ``python -m cnn serve --port 0`` process (uvicorn) is started from ``--root`` (default:
this checkout; give another checkout to time the code before a change, alternating runs); the
request is ``?activations=1`` as the drawing page asks (``max_digits`` the default, 12: the
number is read too). Two bodies:

- canvas: a 280 x 280 canvas PNG like the page sends (an MNIST test digit redrawn with a round
  pen of the page's stroke width, dark on white);
- photo: a phone photo, ``--photo PATH``, by default the one ``scripts/make_phone_photos.py
  --conditions cardboard --per-condition 1 --seed 0`` makes (a 7, 1280 x 960, 54,925 bytes).

Figures:

- latency, one client: sequential requests on one keep-alive connection after a warm-up, per
  run the p50 and p95; ``--repeats`` runs, medians reported with the single runs;
- throughput: ``--clients`` client threads (canvas), each with its own keep-alive connection,
  for ``--seconds``; requests per second, the p95 of every request's time, and errors (any
  status but 200, or a failed connection).

``--profile`` times one canvas and one photo request in this process instead, stage by stage
(decode, the photo pipeline or clean-canvas path, the number reader and its parts, forward and
activation maps, JSON), medians of ``--requests`` calls, with ``--root``'s code.

    python benchmarks/bench_serve.py                          # the default (served) model
    python benchmarks/bench_serve.py --workers 1 --root /tmp/old-checkout
    python benchmarks/bench_serve.py --profile

Prints Markdown table rows (paste them into BENCHMARKS.md). Needs the serve extra. Time it under
``flock /tmp/cnn-bench.lock``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SUBSET = ROOT / "tests" / "data" / "mnist_subset.npz"


def canvas_png() -> bytes:
    """A 280 x 280 canvas PNG of MNIST test digit 0 (a 7), drawn as the page draws it."""
    with np.load(SUBSET) as d:
        digit = d["x_test"][0]
    ink = cv2.resize(digit, (280, 280), interpolation=cv2.INTER_LINEAR) > 100
    canvas = np.full((280, 280, 4), 255, np.uint8)  # RGBA, opaque white, as canvas.toBlob
    canvas[ink, :3] = 0
    ok, data = cv2.imencode(".png", canvas)
    assert ok
    return data.tobytes()


def phone_photo(path: str | None) -> tuple[bytes, str]:
    """``(bytes, description)`` of the photo case: ``path`` or the generated default."""
    if path is None:
        import tempfile

        out = Path(tempfile.mkdtemp(prefix="bench-serve-"))
        subprocess.run([sys.executable, str(ROOT / "scripts" / "make_phone_photos.py"), "--out",
                        str(out / "p"), "--conditions", "cardboard", "--per-condition", "1",
                        "--seed", "0"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        path = str(next((out / "p").glob("*.jpg")))
    data = Path(path).read_bytes()
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    return data, f"{Path(path).name}, {image.shape[1]} x {image.shape[0]} JPEG"


def start_server(root: Path, weights: str | None, workers: int | None
                 ) -> tuple[subprocess.Popen, str, int, str]:
    argv = [sys.executable, "-m", "cnn", "serve", "--port", "0", "--quiet"]
    if weights:
        argv += ["--weights", weights]
    if workers:
        argv += ["--workers", str(workers)]
    env = dict(os.environ, PYTHONPATH=str(root))
    proc = subprocess.Popen(argv, cwd=root, env=env, stdout=subprocess.PIPE, text=True)
    model = proc.stdout.readline().split()[1]
    for _ in range(5):
        match = re.search(r"http://([\d.]+):(\d+)/", proc.stdout.readline())
        if match:
            break
    else:
        proc.kill()
        sys.exit("cnn serve printed no URL")
    host, port = match.group(1), int(match.group(2))
    deadline = time.perf_counter() + 60
    while True:  # the workers of --workers N load the model after the URL is printed
        try:
            conn = connect(host, port)
            conn.request("GET", "/api/health")
            if conn.getresponse().status == 200:
                conn.close()
                break
        except OSError:
            if time.perf_counter() > deadline:
                raise
            time.sleep(0.2)
    return proc, host, port, model


def connect(host: str, port: int) -> http.client.HTTPConnection:
    """A keep-alive connection with TCP_NODELAY, as browsers open them: http.client sends the
    headers and a body over 2,000 bytes in two writes, and without it Nagle's algorithm holds
    the second until the server's delayed ACK (40 ms on Linux), which is no server time."""
    conn = http.client.HTTPConnection(host, port, timeout=60)
    conn.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


def post(conn: http.client.HTTPConnection, body: bytes, kind: str = "image/png") -> int:
    conn.request("POST", "/api/predict?activations=1", body=body,
                 headers={"Content-Type": kind})
    response = conn.getresponse()
    payload = response.read()
    if response.status == 200:
        json.loads(payload)
    return response.status


def latency_run(host: str, port: int, body: bytes, requests: int, kind: str,
                warm: int) -> list[float]:
    conn = connect(host, port)
    for _ in range(warm):
        assert post(conn, body, kind) == 200
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        assert post(conn, body, kind) == 200
        times.append((time.perf_counter() - start) * 1000)
    conn.close()
    return times


def throughput(host: str, port: int, body: bytes, clients: int, seconds: float
               ) -> tuple[int, int, list[float]]:
    done, errors, times = [0] * clients, [0] * clients, [[] for _ in range(clients)]
    stop = time.perf_counter() + seconds

    def client(i: int) -> None:
        conn = connect(host, port)
        while time.perf_counter() < stop:
            start = time.perf_counter()
            try:
                if post(conn, body) == 200:
                    done[i] += 1
                    times[i].append((time.perf_counter() - start) * 1000)
                else:
                    errors[i] += 1
            except (OSError, http.client.HTTPException):
                errors[i] += 1
                conn.close()
                conn = connect(host, port)
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done), sum(errors), [t for ts in times for t in ts]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


STAGES = [  # (module, function, label) timed by --profile; missing ones are skipped
    ("cnn.server.images", "decode_upload", "decode (header checks, cv2.imdecode)"),
    ("cnn.server.images", "to_digit", "single digit: to_mnist (photo or clean-canvas path)"),
    ("cnn.server.numbers", "attach_number", "number reader (whole)"),
    ("cnn.vision.numbers", "ink_map", "  reader: ink map"),
    ("cnn.vision.numbers", "main_line", "  reader: main line"),
    ("cnn.vision.numbers", "read_chunk", "  reader: candidate cuts, normalise, score, DP"),
    ("cnn.vision.numbers", "_read_chunk", "  reader: candidate cuts, ... (before cnn.vision.cuts)"),
    ("cnn.server.images", "upright_size", "posted size (JPEG header)"),
    ("cnn.server.activations", "activation_maps", "forward with activation maps"),
    ("cnn.tasks.ensemble", "decide", "forward (decide)"),
    ("cnn.server.app", "encode_maps", "encode maps (base64)"),
]


def profile(root: Path, bodies: dict, requests: int) -> None:
    """Stage-by-stage medians of ``predict_image`` in this process (see the module docstring)."""
    import functools
    import importlib

    sys.path.insert(0, str(root))
    from cnn.server.app import ModelStore, predict_image
    from cnn.tasks.reject import Rejector

    spent: dict[str, float] = {}

    def timer(fn, label):
        @functools.wraps(fn)
        def timed(*a, **k):
            start = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - start
        return timed

    for module, name, label in STAGES:
        mod = importlib.import_module(module)
        if hasattr(mod, name):
            setattr(mod, name, timer(getattr(mod, name), label))
    entry, rejector = ModelStore(None).get(None), Rejector.default()
    print(f"in-process profile, {root}; model {entry.model}; medians of {requests} calls\n")
    rows = {}
    for case, (body, name) in bodies.items():
        runs = []
        for k in range(requests + 3):
            spent.clear()
            start = time.perf_counter()
            answer = predict_image(entry, body, name, True, 0.5, rejector, 12)
            middle = time.perf_counter()
            json.dumps(answer)
            spent["JSON (json.dumps)"] = time.perf_counter() - middle
            spent["total"] = time.perf_counter() - start
            if k >= 3:
                runs.append(dict(spent))
        rows[case] = {k: statistics.median(r.get(k, 0.0) for r in runs) * 1000 for k in runs[0]}
    labels = [label for _, _, label in STAGES] + ["JSON (json.dumps)", "total"]
    print("| stage | " + " | ".join(f"{c} ms" for c in rows) + " |")
    print("| --- |" + " --- |" * len(rows))
    for label in labels:
        if any(label in r for r in rows.values()):
            print(f"| {label} | " + " | ".join(f"{r.get(label, 0.0):.2f}" for r in rows.values())
                  + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None, help="weights file (default: as cnn serve)")
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="checkout whose cnn is served (default: this one)")
    parser.add_argument("--workers", type=int, default=None,
                        help="cnn serve --workers N (default: cnn serve's own default)")
    parser.add_argument("--photo", default=None, help="the photo case's JPEG (default: made)")
    parser.add_argument("--requests", type=int, default=200, help="canvas requests per run")
    parser.add_argument("--photo-requests", type=int, default=30, help="photo requests per run")
    parser.add_argument("--repeats", type=int, default=5, help="latency runs")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--profile", action="store_true",
                        help="stage-by-stage in-process times instead of a server")
    args = parser.parse_args()

    canvas = canvas_png()
    photo, photo_about = phone_photo(args.photo)
    if args.profile:
        profile(args.root.resolve(), {"canvas": (canvas, "canvas.png"),
                                      "photo": (photo, "photo.jpg")}, args.requests)
        return
    proc, host, port, model = start_server(args.root, args.weights, args.workers)
    try:
        cases = {}
        for case, body, kind, n in (("canvas", canvas, "image/png", args.requests),
                                    ("photo", photo, "image/jpeg", args.photo_requests)):
            runs = [latency_run(host, port, body, n, kind, min(20, n)) for _ in
                    range(args.repeats)]
            cases[case] = ([percentile(r, 50) for r in runs], [percentile(r, 95) for r in runs])
        done, errors, times = throughput(host, port, canvas, args.clients, args.seconds)
    finally:
        proc.terminate()
        proc.wait(30)
    when = time.strftime("%Y-%m-%d %H:%M")
    print(f"Run of {when}, {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, numpy {np.__version__}; {args.root}; model {model}; "
          f"workers {args.workers or 'default'}; canvas {len(canvas):,} bytes (280 x 280 PNG), "
          f"photo {len(photo):,} bytes ({photo_about}); ?activations=1; load average "
          f"{os.getloadavg()[0]:.2f} after the run\n")
    print("| figure | value | runs |")
    print("| --- | --- | --- |")
    for case, (p50s, p95s) in cases.items():
        for q, values in (("p50", p50s), ("p95", p95s)):
            print(f"| {case}, {q} latency, 1 client | {statistics.median(values):.1f} ms | "
                  + ", ".join(f"{v:.1f}" for v in values) + " |")
    print(f"| canvas, {args.clients} clients, {args.seconds:.0f} s | "
          f"{done / args.seconds:.0f} requests/s, p95 {percentile(times, 95):.0f} ms | "
          f"{done:,} answered, {errors} errors |")
    if errors:
        sys.exit(f"{errors} errors under load")


if __name__ == "__main__":
    main()
