"""Bad-input fuzzing: random and crafted input on every surface, tried / clean per category.

A case is *clean* when cnn either does its job (a model, an image, an answer with finite
probabilities) or refuses with one :class:`cnn.errors.UserError` line (or a 4xx answer, for the
server), within the case's time limit and without a jump in memory. Anything else (another
exception, a traceback, a hang, NaN, a 5xx) is a finding, printed with the case that caused it.

Categories (issue 28's fuzz run, repeatable: ``--seed``):

- ``model-strings``: random token soup and near-valid strings -> ``Sequential``;
- ``weights``: a tiny weights file with random metadata (any JSON), random values (negative
  variances, 3e38, float64 1e300, NaN) and flipped bytes -> ``load_model`` + a prediction;
- ``images``: flipped and cut PNG / JPEG / BMP / TIFF bytes, headers declaring huge sizes in
  every format OpenCV decodes (Radiance HDR, PFM, PAM, PNG, BMP), random EXIF orientations ->
  ``decode_image_bytes`` (what ``predict``, folder training and ``serve`` use);
- ``onnx``: random graphs (cycles, missing inputs, odd attributes, bad dtypes, external data)
  and mutations of a real export -> ``load_model``;
- ``csv-folders``: random CSV text -> the Kaggle reader; folders of random files -> the folder
  reader;
- ``server``: random bodies, content types, names and Host headers -> the FastAPI app
  (no 5xx; a foreign Host is refused);
- ``memory``: models inside the model-string limits with large activations -> training
  refused with an estimate, inference in chunks (peak RSS checked);
- ``menu``: random answers (bytes that are not UTF-8 included) to ``cnn`` in a subprocess;
- ``interrupts``: Ctrl-C at a random moment of ``cnn summary`` in a subprocess, from the end of
  CPython's own start-up on (status 130, 0 or death by SIGINT, never a traceback).

    python benchmarks/fuzz.py                    # every category, 180 s in all
    python benchmarks/fuzz.py --budget 30 --only onnx images
    python benchmarks/fuzz.py --json             # one JSON object per category

Wrap it in ``flock /tmp/cnn-bench.lock`` on a shared machine. Exit status 1 when a case was
not clean.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cnn.errors import UserError  # noqa: E402

CASE_SECONDS = 20  # a case taking longer is a hang
SLOW_CASE_SECONDS = {"memory": 300}  # a large-activation model's inference takes minutes


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


def refused_or_done(fn):
    """Run ``fn()``: ``(clean, detail)``: clean for a result or a one-line UserError."""
    try:
        fn()
        return True, "ok"
    except UserError as e:
        return "\n" not in str(e), f"refused: {str(e)[:100]}"
    except Hang:
        return False, f"hang (> {CASE_SECONDS} s)"
    except Exception as e:  # noqa: BLE001 - the finding
        return False, f"{type(e).__name__}: {e}"[:300] + "\n" + traceback.format_exc(limit=-3)


# ----------------------------------------------------------------------------- model strings
TOKENS = ["C(8,3)", "C(8,5,s2)", "C(16,3,same)", "C(2000,3,same)", "C(0,3)", "C(8,0)",
          "C(99999999,3)", "C(８,５)", "P2", "P0", "P99", "A2", "BN", "R(16)", "R(32,s2)",
          "D0.5", "D1.5", "GAP", "FC10", "FC128", "FC0", "FC999999999", "x", "", "-", "((",
          "C(8,3,p9)", "R(0)", "FC10\x1b[2J"]


def case_model_string(rng, tmp):
    from cnn.nn.model import Sequential

    tokens = list(rng.choice(TOKENS, size=rng.integers(1, 8)))
    if rng.random() < 0.6:
        tokens.append("FC10")
    text = "-".join(tokens)
    clean, detail = refused_or_done(lambda: Sequential(text, None))
    return clean, detail if clean else f"{text!r}: {detail}"


# ----------------------------------------------------------------------------- weights files
def json_value(rng, depth=0):
    """A random JSON value: any type, control characters, huge and non-finite numbers."""
    kind = int(rng.integers(0, 9 if depth < 3 else 7))
    if kind == 7:
        return [json_value(rng, depth + 1) for _ in range(int(rng.integers(0, 3)))]
    if kind == 8:
        return {str(i): json_value(rng, depth + 1) for i in range(int(rng.integers(0, 3)))}
    return [None, True, int(rng.integers(-10**12, 10**12)),
            float(rng.normal()) * 10.0 ** int(rng.integers(-5, 300)),
            "\x1b]0;title\x07\x1b[2J", "\u202eevil", float("nan")][kind]


def case_weights(rng, tmp):
    from cnn.cli import main
    from cnn.io.weights import load_model
    from cnn.nn.model import Sequential

    model_string = str(rng.choice(["C(4,3)-P2-FC10", "C(4,3)-BN-P2-FC10"]))
    model = Sequential(model_string, np.random.default_rng(int(rng.integers(1000))))
    state = {k: v.copy() for k, v in model.state_dict().items()}
    key = str(rng.choice(list(state)))
    what = rng.integers(0, 5)
    if what == 0:
        state[key].reshape(-1)[0] = rng.choice([3e38, -1.0, 1e7, -1e7, np.nan])
    elif what == 1:
        state[key] = state[key].astype(np.float64) * rng.choice([1.0, 1e300])
    meta = {k: json_value(rng) for k in ["accuracy", "seconds_per_epoch", "epochs", "date",
                                         "lr", "seed"] if rng.random() < 0.7}
    path = Path(tmp) / "w.npz"
    np.savez(path, **state, model=np.array(model_string), format_version=np.array(2),
             metadata=np.array(json.dumps(meta)))
    if what == 2:  # flip bytes
        data = bytearray(path.read_bytes())
        for i in rng.integers(0, len(data), size=rng.integers(1, 20)):
            data[i] ^= int(rng.integers(1, 256))
        path.write_bytes(bytes(data))

    def run():
        m = load_model(path)
        p = m.predict_proba(np.full((2, 28, 28), 128, np.uint8))
        if not np.isfinite(p).all():
            raise AssertionError("loaded, but the probabilities are not finite")
        out = io.StringIO()
        saved = sys.stdout
        sys.stdout = out
        try:
            if main(["summary", "--weights", str(path)]) != 0:
                raise AssertionError("summary failed on a file that loads")
        finally:
            sys.stdout = saved
        if any(ord(c) < 32 and c != "\n" or 0x7f <= ord(c) < 0xa0 for c in out.getvalue()):
            raise AssertionError("summary printed a raw control character")
    return refused_or_done(run)


# ----------------------------------------------------------------------------- images
def image_bytes(rng) -> bytes:
    import cv2
    from PIL import Image

    kind = int(rng.integers(0, 6))
    if kind == 0:  # huge declarations in formats Pillow does not read
        w, h = (int(v) for v in rng.integers(1, 20000, size=2))
        return [f"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y {h} +X {w}\n".encode() + b"\x02\x02"
                + bytes([w >> 8 & 255, w & 255]) + b"\x80\x00" * 100,
                f"PF\n{w} {h}\n-1\n".encode() + b"\0" * 64,
                f"P7\nWIDTH {w}\nHEIGHT {h}\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n"
                .encode() + b"\0" * 64][int(rng.integers(0, 3))]
    image = (rng.random((int(rng.integers(2, 60)), int(rng.integers(2, 60)), 3)) * 255
             ).astype(np.uint8)
    if kind == 1:  # EXIF orientation
        exif = Image.Exif()
        exif[0x0112] = int(rng.integers(0, 12))
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, str(rng.choice(["JPEG", "PNG", "WEBP"])),
                                    exif=exif.tobytes())
        return buf.getvalue()
    ext = str(rng.choice([".png", ".jpg", ".bmp", ".tif", ".webp", ".ppm", ".hdr"]))
    ok, enc = cv2.imencode(ext, image.astype(np.float32) / 255 if ext == ".hdr" else image)
    assert ok, ext
    data = bytearray(enc.tobytes())
    if kind == 2:  # flipped bytes
        for i in rng.integers(0, len(data), size=rng.integers(1, 10)):
            data[i] ^= int(rng.integers(1, 256))
    elif kind == 3:  # cut
        data = data[: int(rng.integers(0, len(data)))]
    elif kind == 4 and ext in (".png", ".bmp"):  # declare a huge size in the header
        w, h = (int(v) for v in rng.integers(1, 100000, size=2))
        if ext == ".png":
            data[16:24] = w.to_bytes(4, "big") + h.to_bytes(4, "big")
        else:
            data[18:26] = w.to_bytes(4, "little") + h.to_bytes(4, "little")
    return bytes(data)


def case_image(rng, tmp):
    from cnn.vision.decode import MAX_PIXELS, decode_image_bytes

    data = image_bytes(rng)

    def run():
        image = decode_image_bytes(data, "fuzz")
        if image.shape[0] * image.shape[1] > MAX_PIXELS:
            raise AssertionError(f"decoded {image.shape}")
    return refused_or_done(run)


# ----------------------------------------------------------------------------- ONNX
def case_onnx(rng, tmp):
    from onnx import TensorProto, helper, numpy_helper

    from cnn.io.weights import load_model

    names = ["input.1", "w0", "w1", "x"]
    nodes = []
    for i in range(int(rng.integers(1, 9))):
        op = str(rng.choice(["Conv", "Relu", "MaxPool", "Identity", "Flatten", "Gemm", "Add",
                             "Dropout", "Reshape", "BatchNormalization", "GlobalAveragePool",
                             "Softmax", "Constant", "Shape", "Gather", "Concat"]))
        inputs = [str(rng.choice(names + [""])) for _ in range(int(rng.integers(0, 4)))]
        out = str(rng.choice([f"t{i}", "x", "logits", "input.1"]))
        attrs = {}
        if op in ("Conv", "MaxPool") and rng.random() < 0.7:
            attrs["strides"] = [int(v) for v in rng.integers(-1, 3, size=int(rng.integers(1, 3)))]
        if op == "Constant":
            t = numpy_helper.from_array(np.zeros(3, np.float32), out)
            if rng.random() < 0.5:
                t.ClearField("raw_data")
                t.data_location = TensorProto.EXTERNAL
                t.external_data.add(key="location", value=str(rng.choice(
                    ["secret.bin", "/etc/passwd", "../../x", "/dev/zero"])))
            attrs["value"] = t
        nodes.append(helper.make_node(op, inputs, [out], name=f"n{i}", **attrs))
        names.append(out)
    w1 = numpy_helper.from_array(rng.normal(size=int(rng.integers(0, 4))).astype(np.float32),
                                 "w1")
    if rng.random() < 0.2:
        w1.data_type = int(rng.choice([0, 8, 14, 99]))
    inits = [numpy_helper.from_array(np.ones((2, 1, 3, 3), np.float32), "w0"), w1]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("input.1", TensorProto.FLOAT,
                                                   ["N", 1, 28, 28])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])], inits)
    proto = helper.make_model(graph)
    if rng.random() < 0.3:
        helper.set_model_props(proto, {"metadata": "[" * 50000 + "]" * 50000})
    path = Path(tmp) / "g.onnx"
    path.write_bytes(proto.SerializeToString())
    return refused_or_done(lambda: load_model(path))


# ----------------------------------------------------------------------------- CSVs, folders
def case_csv_folder(rng, tmp):
    from cnn.data import folders, kaggle

    if rng.random() < 0.5:
        header = "label," + ",".join(f"pixel{i}" for i in range(784))
        rows = []
        for _ in range(int(rng.integers(0, 4))):
            values = [str(int(v)) for v in rng.integers(-300, 300, size=785)]
            if rng.random() < 0.3:
                values = values[: int(rng.integers(0, 785))]
            if rng.random() < 0.2:
                values[int(rng.integers(0, len(values) or 1)) if values else 0:] = ["x\x1b"]
            rows.append(",".join(values))
        text = "\n".join([header if rng.random() < 0.8 else "garbage"] + rows)
        path = Path(tmp) / "train.csv"
        path.write_bytes(text.encode() if rng.random() < 0.9 else b"\xff\xfe" + text.encode())
        return refused_or_done(lambda: kaggle.load_csv(path))
    root = Path(tmp) / "digits"
    for d in range(int(rng.integers(0, 3))):
        folder = root / str(rng.choice(["0", "1", "7", "x", "10"]))
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{d}.png").write_bytes(image_bytes(rng))
    return refused_or_done(lambda: folders.load_folder(str(root)))


# ----------------------------------------------------------------------------- server
_client = None


def case_server(rng, tmp):
    global _client
    from fastapi.testclient import TestClient

    from cnn.server.app import ModelStore, create_app
    from cnn.server.hosts import allowed_hosts

    if _client is None:
        small = ROOT / "weight_output" / "weight_detailsC(8,5)-P2-C(16,3)-P2-FC128-FC10.npz"
        _client = TestClient(create_app(ModelStore([str(small)]),
                                        allowed_hosts=allowed_hosts("127.0.0.1")),
                             base_url="http://127.0.0.1:8000")
    body = image_bytes(rng) if rng.random() < 0.7 else bytes(
        rng.integers(0, 256, size=int(rng.integers(0, 2000)), dtype=np.uint8))
    host = str(rng.choice(["127.0.0.1:8000", "localhost", "[::1]:8000", "evil.example",
                           "127.0.0.1.evil.example"]))
    kind = str(rng.choice(["image/png", "multipart/form-data; boundary=x", "text/plain", ""]))
    name = str(rng.choice(["a.png", "\x1b[2J.png", "../../etc/passwd", "x" * 300]))

    def run():
        r = _client.post("/api/predict", content=body, params={"name": name},
                         headers={"Content-Type": kind, "Host": host})
        if r.status_code >= 500:
            raise AssertionError(f"status {r.status_code}: {r.text[:200]}")
        if "evil" in host and r.status_code != 400:
            raise AssertionError(f"a foreign Host {host!r} got {r.status_code}")
    return refused_or_done(run)


# ----------------------------------------------------------------------------- memory
def case_memory(rng, tmp):
    code = ("import resource, numpy as np\n"
            "from cnn.nn.model import Sequential\n"
            "from cnn.nn.memory import check_training_batch\n"
            "from cnn.errors import UserError\n"
            f"m = Sequential({str(rng.choice(['C(2000,3,same)-C(2000,3,same)-GAP-FC10', 'C(512,3,same)-C(1024,3,same)-P2-FC10', 'C(64,3,same)-R(256)-R(512)-GAP-FC10']))!r}, None).eval()\n"  # noqa: E501
            "try:\n    check_training_batch(m, 64)\nexcept UserError as e:\n    print('refused')\n"
            "m.logits(np.zeros((16, 28, 28), np.uint8))\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    if result.returncode != 0:
        return False, result.stderr[-300:]
    peak = int(result.stdout.split()[-1])
    return peak < 3 * 1024, f"peak {peak} MiB"


# ----------------------------------------------------------------------------- subprocesses
def case_menu(rng, tmp):
    answers = b"".join(rng.choice([b"\xff\n", b"9\n", b"\x1b[A\n", b"6\n", b"x\n", b"\n",
                                   b"-1\n", b"\xc3\n"]) for _ in range(int(rng.integers(1, 5))))
    result = subprocess.run([sys.executable, "-m", "cnn"], input=answers + b"0\n",
                            capture_output=True, timeout=120, cwd=tmp,
                            env=dict(os.environ, PYTHONPATH=str(ROOT),
                                     PYTHONIOENCODING="utf-8:strict"))
    err = result.stderr.decode("utf-8", "replace")
    clean = result.returncode == 0 and "Traceback" not in err
    return clean, f"status {result.returncode} {err[-200:]}"


def python_start_up() -> float:
    """Seconds a bare ``python -c pass`` takes here (median of 3), start-up and ``site`` included:
    the moments before any cnn code runs, when a Ctrl-C is CPython's (a traceback from inside
    ``site`` for every Python program), not ours."""
    times = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - start)
    return sorted(times)[1]


_START_UP: list[float] = []


def case_interrupt(rng, tmp):
    if not _START_UP:
        _START_UP.append(python_start_up())
    proc = subprocess.Popen([sys.executable, "-m", "cnn", "summary", "--model", "C(8,5)-FC10"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    # from twice CPython's own start-up (a loaded machine stretches it) to well past the end of
    # the command (~0.3 s)
    time.sleep(float(rng.uniform(2 * _START_UP[0], 1.5)))
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    text = err.decode("utf-8", "replace")
    # -2, killed by SIGINT, is clean with nothing printed (the signal came while the interpreter
    # was finishing, its handler already gone) or with our one line: CPython ends a process by
    # SIGINT when it counts a KeyboardInterrupt as unhandled, even one we caught; a shell
    # reports both as 130, as it does our own exit status
    clean = proc.returncode in (0, 130, -2) and "Traceback" not in text and (
        proc.returncode != -2 or text in ("", "cnn: interrupted\n"))
    return clean, f"status {proc.returncode} {text[-200:]}"


CATEGORIES = {"model-strings": case_model_string, "weights": case_weights, "images": case_image,
              "onnx": case_onnx, "csv-folders": case_csv_folder, "server": case_server,
              "memory": case_memory, "menu": case_menu, "interrupts": case_interrupt}
MAX_CASES = {"memory": 3, "menu": 6, "interrupts": 10}  # subprocesses: a few, not hundreds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=180,
                        help="seconds for all categories together (180)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="*", choices=list(CATEGORIES), default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    chosen = args.only or list(CATEGORIES)
    signal.signal(signal.SIGALRM, _alarm)
    failed = 0
    for name in chosen:
        rng = np.random.default_rng([args.seed, list(CATEGORIES).index(name)])
        deadline = time.monotonic() + args.budget / len(chosen)
        tried = clean = 0
        findings = []
        while time.monotonic() < deadline and tried < MAX_CASES.get(name, 10**9):
            with tempfile.TemporaryDirectory() as tmp:
                signal.alarm(SLOW_CASE_SECONDS.get(name, CASE_SECONDS))
                try:
                    ok, detail = CATEGORIES[name](rng, tmp)
                except Hang:
                    ok, detail = False, f"hang (> {CASE_SECONDS} s)"
                except Exception as e:  # noqa: BLE001 - the harness itself
                    ok, detail = False, f"{type(e).__name__}: {e}"
                finally:
                    signal.alarm(0)
            tried += 1
            clean += ok
            if not ok and len(findings) < 3:
                findings.append(detail)
        failed += tried - clean
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        if args.json:
            print(json.dumps({"category": name, "tried": tried, "clean": clean,
                              "findings": findings, "peak_rss_mib": rss}))
        else:
            print(f"{name:<14} tried {tried:>5}  clean {clean:>5}  (peak RSS so far {rss} MiB)")
            for f in findings:
                print("    " + f.replace("\n", "\n    "))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
