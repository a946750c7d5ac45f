"""Latency and throughput of ``cnn serve``'s ``POST /api/predict`` on loopback.

A real ``python -m cnn serve --port 0`` process (uvicorn) is started; the request body is a
280 x 280 canvas PNG like the page sends (an MNIST test digit redrawn with a round pen of the
page's stroke width, dark on white), asked with ``?activations=1``.

- latency, one client: ``--requests`` sequential requests on one keep-alive connection after a
  warm-up, per run the p50 and p95; ``--repeats`` runs, medians reported with the single runs;
- throughput: 8 client threads, each with its own keep-alive connection, for ``--seconds``;
  requests per second and the number of errors (any status but 200, or a failed connection).

    python benchmarks/bench_serve.py                          # the default (served) model
    python benchmarks/bench_serve.py --weights "weight_output/weight_detailsC(8,5)-P2-C(16,3)-P2-FC128-FC10.npz"

Prints Markdown table rows (paste them into BENCHMARKS.md). Needs the serve extra.
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


def start_server(weights: str | None) -> tuple[subprocess.Popen, str, int, str]:
    argv = [sys.executable, "-m", "cnn", "serve", "--port", "0", "--quiet"]
    if weights:
        argv += ["--weights", weights]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    model = proc.stdout.readline().split()[1]
    match = re.search(r"http://([\d.]+):(\d+)/", proc.stdout.readline())
    if not match:
        proc.kill()
        sys.exit("cnn serve printed no URL")
    return proc, match.group(1), int(match.group(2)), model


def connect(host: str, port: int) -> http.client.HTTPConnection:
    """A keep-alive connection with TCP_NODELAY, as browsers open them: http.client sends the
    headers and a body over 2,000 bytes in two writes, and without it Nagle's algorithm holds
    the second until the server's delayed ACK (40 ms on Linux), which is no server time."""
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


def post(conn: http.client.HTTPConnection, body: bytes) -> int:
    conn.request("POST", "/api/predict?activations=1", body=body,
                 headers={"Content-Type": "image/png"})
    response = conn.getresponse()
    payload = response.read()
    if response.status == 200:
        json.loads(payload)
    return response.status


def latency_run(host: str, port: int, body: bytes, requests: int) -> list[float]:
    conn = connect(host, port)
    for _ in range(20):
        assert post(conn, body) == 200
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        assert post(conn, body) == 200
        times.append((time.perf_counter() - start) * 1000)
    conn.close()
    return times


def throughput(host: str, port: int, body: bytes, clients: int, seconds: float) -> tuple[int, int]:
    done, errors = [0] * clients, [0] * clients
    stop = time.perf_counter() + seconds

    def client(i: int) -> None:
        conn = connect(host, port)
        while time.perf_counter() < stop:
            try:
                if post(conn, body) == 200:
                    done[i] += 1
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
    return sum(done), sum(errors)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None, help="weights file (default: as cnn serve)")
    parser.add_argument("--requests", type=int, default=300, help="requests per latency run")
    parser.add_argument("--repeats", type=int, default=5, help="latency runs")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()

    body = canvas_png()
    proc, host, port, model = start_server(args.weights)
    try:
        runs = [latency_run(host, port, body, args.requests) for _ in range(args.repeats)]
        p50s = [percentile(r, 50) for r in runs]
        p95s = [percentile(r, 95) for r in runs]
        done, errors = throughput(host, port, body, args.clients, args.seconds)
    finally:
        proc.terminate()
        proc.wait(10)
    when = time.strftime("%Y-%m-%d %H:%M")
    print(f"Run of {when}, {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, numpy {np.__version__}; model {model}; body "
          f"{len(body):,} bytes (280 x 280 PNG), ?activations=1\n")
    print("| figure | value | runs |")
    print("| --- | --- | --- |")
    print(f"| p50 latency, 1 client | {statistics.median(p50s):.1f} ms | "
          + ", ".join(f"{v:.1f}" for v in p50s) + " |")
    print(f"| p95 latency, 1 client | {statistics.median(p95s):.1f} ms | "
          + ", ".join(f"{v:.1f}" for v in p95s) + " |")
    print(f"| throughput, {args.clients} clients, {args.seconds:.0f} s | "
          f"{done / args.seconds:.0f} requests/s | {done:,} answered, {errors} errors |")
    if errors:
        sys.exit(f"{errors} errors under load")


if __name__ == "__main__":
    main()
