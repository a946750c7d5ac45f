"""Memory and latency of ``cnn serve`` under load: 8 clients, 1,000 uploads of sample photos.

A real ``python -m cnn serve --port 0`` process (uvicorn) serves the default model; 8 client
threads, each with its own keep-alive connection, upload the photos of ``custom_test_images/``
(JPEG and PNG, 700 x 900 and smaller) in turn as raw bodies (``Content-Type: image/jpeg``) until
``--uploads`` are done; ``--activations`` adds ``?activations=1`` to every second request.

Reported: errors (any status but 200 or 422, or a failed connection), p50 / p95 latency,
requests per second, and the server's resident memory (``VmRSS`` from ``/proc``, summed over the
server process and its worker processes): after start-up, the peak during the run (``VmHWM``,
each process's peak, summed), right after the run and after :data:`IDLE_S` seconds idle (the
server returns freed memory when idle). Linux only (``/proc``).

    flock /tmp/cnn-bench.lock python benchmarks/serve_load.py            # 8 clients, 1,000
    flock /tmp/cnn-bench.lock python benchmarks/serve_load.py --uploads 200 --clients 4
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IDLE_S = 3.0  # the pause after the run before the last reading (the server trims when idle)


def rss_mib(pid: int) -> tuple[float, float]:
    """``(VmRSS, VmHWM)`` in MiB of process ``pid`` and its child processes (``cnn serve``'s
    worker processes), each summed over the processes."""
    pids = [pid] + [int(c) for c in
                    Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    rss = peak = 0.0
    for p in pids:
        try:
            text = Path(f"/proc/{p}/status").read_text()
        except FileNotFoundError:  # a child that has just ended
            continue
        found = {k: int(v) / 1024 for k, v in re.findall(r"(VmRSS|VmHWM):\s+(\d+) kB", text)}
        rss, peak = rss + found["VmRSS"], peak + found["VmHWM"]
    return rss, peak


def start_server(extra: list[str]) -> tuple[subprocess.Popen, int]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "cnn", "serve", "--port", "0", "--quiet",
                             *extra], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    for _ in range(5):
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", proc.stdout.readline())
        if match:
            return proc, int(match.group(1))
    proc.kill()
    raise SystemExit("the server printed no URL")


def load(port: int, photos: list[tuple[str, bytes]], uploads: int, clients: int,
         activations: bool) -> dict:
    latencies: list[float] = []
    errors = [0]
    counter = iter(range(uploads))
    lock = threading.Lock()

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            name, body = photos[i % len(photos)]
            kind = "image/png" if name.endswith(".png") else "image/jpeg"
            query = f"?name={name}" + ("&activations=1" if activations and i % 2 else "")
            start = time.perf_counter()
            try:
                conn.request("POST", "/api/predict" + query, body=body,
                             headers={"Content-Type": kind})
                response = conn.getresponse()
                response.read()
                ok = response.status in (200, 422)
            except OSError:
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            with lock:
                latencies.append(time.perf_counter() - start)
                errors[0] += not ok
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    latencies.sort()
    return {"uploads": uploads, "clients": clients, "errors": errors[0],
            "p50_s": round(statistics.median(latencies), 3),
            "p95_s": round(latencies[int(0.95 * (len(latencies) - 1))], 3),
            "requests_per_s": round(uploads / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--activations", action="store_true",
                        help="ask for the activation maps on every second request")
    parser.add_argument("--serve-args", default="", help="extra 'cnn serve' arguments")
    args = parser.parse_args()
    photos = [(p.name, p.read_bytes()) for p in sorted((ROOT / "custom_test_images").iterdir())
              if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
    proc, port = start_server(args.serve_args.split())
    try:
        load(port, photos[:4], 8, 2, False)  # warm-up: first requests import and load
        before = rss_mib(proc.pid)[0]
        result = load(port, photos, args.uploads, args.clients, args.activations)
        after, peak = rss_mib(proc.pid)
        time.sleep(IDLE_S)
        idle = rss_mib(proc.pid)[0]
        result.update(rss_start_mib=round(before), rss_peak_mib=round(peak),
                      rss_after_mib=round(after), rss_idle_mib=round(idle), photos=len(photos))
        print(json.dumps(result))
    finally:
        proc.terminate()
        proc.wait(15)


if __name__ == "__main__":
    main()
