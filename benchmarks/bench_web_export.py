"""``cnn export --web``: one prediction's time in Chromium, the folder's size, and what float16
weights would cost in agreement.

    flock /tmp/cnn-bench.lock python benchmarks/bench_web_export.py --repeats 3

Each repeat exports nothing new: the folder is written once (``cnn export --web``, default
model unless ``--weights``), served by ``python -m http.server`` on 127.0.0.1, and opened in a
fresh page of Debian's Chromium (headless, driven by Playwright); ``window.cnn.predict`` runs
20 warm-up images, then 200 MNIST test images one by one, each timed with
``performance.now()``. Printed: the median of each repeat, and the median of those.

Float16: the weights rounded to float16 and back, run by the NumPy engine beside the float32
weights on 1,000 MNIST test images (the browser would compute the same up to its rounding):
top-1 agreement and the largest probability difference.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def time_in_chromium(url: str, images: np.ndarray, repeats: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    pixels = (images.reshape(len(images), -1).astype(np.float32) / 255).tolist()
    medians = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"),
                                    args=CHROMIUM_ARGS, headless=True)
        for _ in range(repeats):
            page = browser.new_page()
            page.goto(url)
            page.wait_for_function("window.cnn && window.cnn.preprocess")
            times = page.evaluate("""(batch) => { batch.slice(0, 20).forEach((p) => cnn.predict(p));
                return batch.map((p) => { const t = performance.now(); cnn.predict(p);
                                          return performance.now() - t; }); }""", pixels)
            medians.append(float(np.median(times)))
            page.close()
        browser.close()
    return medians


def float16_agreement(model, images: np.ndarray) -> tuple[float, float]:
    ref = model.predict_proba(images)
    for m in model.modules():
        for key, value in m.params.items():
            m.params[key] = value.astype(np.float16).astype(np.float32)
        for key, value in m.buffers.items():
            m.buffers[key] = value.astype(np.float16).astype(np.float32)
    half = model.predict_proba(images)
    return float((half.argmax(1) == ref.argmax(1)).mean()), float(np.abs(half - ref).max())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", default=None, help="weights file (default: cnn's default)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from cnn.io.catalog import default_weights
    from cnn.io.web_export import export_web, folder_size
    from cnn.io.weights import load_model

    weights = Path(args.weights) if args.weights else default_weights()
    model = load_model(weights)
    with np.load(ROOT / "tests" / "data" / "mnist_subset.npz") as d:
        x_test = d["x_test"][:1000]
    with tempfile.TemporaryDirectory() as tmp:
        site = export_web(model, Path(tmp) / "site", source=weights.name)
        size = folder_size(site)
        server = subprocess.Popen([sys.executable, "-u", "-m", "http.server", "0", "--bind",
                                   "127.0.0.1", "--directory", str(site)],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            port = int(server.stdout.readline().split(" port ")[1].split()[0])
            medians = time_in_chromium(f"http://127.0.0.1:{port}/", x_test[:200], args.repeats)
        finally:
            server.terminate()
            server.wait(10)
    same16, diff16 = float16_agreement(model, x_test)
    result = {"model": model.model_string, "folder_bytes": size,
              "predict_ms_median_per_repeat": [round(m, 2) for m in medians],
              "predict_ms_median": round(float(np.median(medians)), 2),
              "float16_top1_agreement": same16, "float16_max_prob_diff": diff16}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{model.model_string}: folder {size / 1024:.0f} KiB; one prediction in Chromium "
              f"{result['predict_ms_median']:.2f} ms (median of 200; repeats "
              f"{result['predict_ms_median_per_repeat']}); float16 weights would agree on "
              f"{same16:.1%} top-1, max |dp| {diff16:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
