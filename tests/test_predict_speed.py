"""Issue 30, faster ``cnn predict`` and ``cnn serve``: large JPEGs decoded reduced (upright, as
the full decode shrunk), the clean-canvas path (the same network input as the photo stages),
and the process pool over files (the same answers, in input order)."""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from cnn.cli import main
from cnn.vision import decode, pipeline

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "custom_test_images"


def jpeg(image: np.ndarray, orientation: int = 1) -> bytes:
    """``image`` (BGR uint8) as JPEG bytes with the EXIF ``orientation`` tag."""
    from PIL import Image

    im = Image.fromarray(image[:, :, ::-1])
    exif = im.getexif()
    exif[decode.EXIF_ORIENTATION] = orientation
    out = io.BytesIO()
    im.save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


def photo(h: int, w: int) -> np.ndarray:
    """A grey page with a dark "7" and an asymmetric mark (to see the orientation)."""
    image = np.full((h, w, 3), 200, np.uint8)
    cv2.putText(image, "7", (w // 4, 3 * h // 4), cv2.FONT_HERSHEY_SIMPLEX, h / 60, (30,) * 3,
                max(2, h // 60))
    image[: h // 10, : w // 10] = 90
    return image


@pytest.mark.parametrize("size, long_side, factor", [
    ((4000, 3000), 1000, 4), ((3000, 4000), 1000, 4), ((1999, 800), 1000, 1),
    ((2000, 800), 1000, 2), ((9000, 100), 1000, 8), ((4000, 3000), None, 1), (None, 1000, 1)])
def test_jpeg_reduction_keeps_at_least_the_long_side(size, long_side, factor):
    assert decode.jpeg_reduction(size, long_side) == factor


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_a_large_jpeg_is_decoded_reduced_grey_and_upright(orientation):
    data = jpeg(photo(1500, 2000), orientation)
    full = decode.decode_image_bytes(data, "big.jpg")
    reduced = decode.decode_image_bytes(data, "big.jpg", reduce_to=500)
    assert full.ndim == 3 and reduced.ndim == 2 and reduced.dtype == np.uint8
    assert reduced.shape == (full.shape[0] // 4, full.shape[1] // 4)
    grey = cv2.cvtColor(full, cv2.COLOR_BGR2GRAY)
    shrunk = cv2.resize(grey, reduced.shape[::-1], interpolation=cv2.INTER_AREA)
    assert np.abs(shrunk.astype(int) - reduced).mean() < 2.0  # the same picture, upright
    flipped = cv2.resize(grey[::-1, ::-1], reduced.shape[::-1], interpolation=cv2.INTER_AREA)
    assert np.abs(flipped.astype(int) - reduced).mean() > 10.0


def test_small_jpegs_and_other_formats_are_decoded_as_stored():
    small = jpeg(photo(600, 800))
    assert decode.decode_image_bytes(small, "s.jpg", reduce_to=500).shape == (600, 800, 3)
    _, png = cv2.imencode(".png", photo(1500, 2000))
    assert decode.decode_image_bytes(png.tobytes(), "p.png", reduce_to=500).shape == \
        (1500, 2000, 3)


def canvases() -> list[np.ndarray]:
    """Drawn digits as a page's canvas sends them: 280 x 280, white on black and black on
    white, thin and thick strokes, grey and BGRA."""
    data = np.load(ROOT / "tests" / "data" / "mnist_subset.npz")
    key = "x_test" if "x_test" in data else "x_train"
    out = []
    for k, digit in enumerate(data[key][:8]):
        big = cv2.resize(digit, (280, 280), interpolation=cv2.INTER_LINEAR)
        if k % 3 == 0:
            big = cv2.dilate(big, np.ones((9, 9), np.uint8))
        if k % 2:
            big = 255 - big
        out.append(cv2.cvtColor(big, cv2.COLOR_GRAY2BGRA) if k % 4 == 1 else big)
    return out


def test_a_clean_canvas_skips_the_photo_stages_and_gives_the_same_input(monkeypatch):
    def scorer(batch):
        return batch.reshape(len(batch), -1).mean(axis=1)

    images = canvases()
    fast = [pipeline.to_mnist(image, choose=scorer) for image in images]
    for image in images:
        assert pipeline._clean_canvas(decode._to_gray(image)[0]) is not None
    monkeypatch.setattr(pipeline, "_clean_canvas", lambda gray: None)
    full = [pipeline.to_mnist(image, choose=scorer) for image in images]
    for a, b in zip(fast, full):
        np.testing.assert_array_equal(a, b)


def test_a_photo_is_not_a_clean_canvas():
    rng = np.random.default_rng(0)
    page = photo(300, 300)[:, :, 0].astype(np.float32) / 255
    assert pipeline._clean_canvas(page) is None  # a grey page (0.78), not white or black
    noisy = np.clip(np.ones((300, 300), np.float32) - rng.random((300, 300)) * 0.02, 0, 1)
    assert pipeline._clean_canvas(noisy) is None  # sensor noise: no exact border level


def assert_close(a, b, path="") -> None:
    """``a == b`` for JSON-like values, floats to a relative 1e-5 (absolute 1e-7)."""
    if isinstance(a, float) or isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-7), (path, a, b)
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), (path, a, b)
        for k, (x, y) in enumerate(zip(a, b)):
            assert_close(x, y, f"{path}[{k}]")
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), (path, a, b)
        for k in a:
            assert_close(a[k], b[k], f"{path}.{k}")
    else:
        assert a == b, (path, a, b)


def test_the_process_pool_gives_the_same_answers_in_order(tmp_path, capsys):
    folder = tmp_path / "images"
    folder.mkdir()
    for f in sorted(IMAGES.glob("*.png"))[:10]:
        shutil.copy(f, folder / f.name)
    (folder / "broken.png").write_bytes(b"not an image")
    page = np.full((200, 420), 255, np.uint8)  # a number, read in the worker processes too
    with np.load(ROOT / "tests" / "data" / "mnist_subset.npz") as data:
        x_test, y_test = data["x_test"], data["y_test"]
    for k, d in enumerate((3, 5, 8)):
        digit = x_test[int(np.nonzero(y_test == d)[0][0])]
        page[40:160, 20 + 130 * k:140 + 130 * k] = 255 - cv2.resize(digit, (120, 120))
    cv2.imwrite(str(folder / "number.png"), page)
    answers = []
    for workers in ("1", "2"):
        status = main(["predict", str(folder), "--json", "--workers", workers])
        answers.append(json.loads(capsys.readouterr().out))
        assert status == 1  # the broken file
    one, two = answers
    assert [p["file"] for p in one["predictions"]] == [p["file"] for p in two["predictions"]]
    for key in ("digit", "number", "rejected"):
        assert [p[key] for p in one["predictions"]] == [p[key] for p in two["predictions"]], key
    # the digits' boxes and answers the same; their probabilities to float32 rounding (a
    # process's own arrays may be laid out otherwise in memory, and NumPy's vectorized sums
    # then add in another order)
    assert_close([p["digits"] for p in one["predictions"]],
                 [p["digits"] for p in two["predictions"]])
    assert [p["error"] is None for p in two["predictions"]].count(False) == 1
    assert two["accuracy"] == one["accuracy"] and one["answered"] == 11
    (number,) = [p for p in two["predictions"] if p["file"].endswith("number.png")]
    assert number["number"] == "358" and number["digit"] is None


def test_the_process_pool_is_shut_down_cleanly_after_the_last_file(tmp_path, monkeypatch,
                                                                   capsys):
    """The pool's generator is run to its end: its executor shut down and waited for, its
    workers never killed (a suspended generator was collected at exit: its workers killed,
    two semaphores leaked and a "Bad file descriptor" traceback printed)."""
    from concurrent.futures import ProcessPoolExecutor

    from cnn.tasks import predict

    calls = []
    real_shutdown = ProcessPoolExecutor.shutdown
    monkeypatch.setattr(ProcessPoolExecutor, "shutdown",
                        lambda self, *a, **k: calls.append(("shutdown", a, k))
                        or real_shutdown(self, *a, **k))
    monkeypatch.setattr(predict, "_stop", lambda executor: calls.append(("killed",)))
    folder = tmp_path / "images"
    folder.mkdir()
    for f in sorted(IMAGES.glob("*.png"))[:6]:
        shutil.copy(f, folder / f.name)
    assert main(["predict", str(folder), "--json", "--workers", "2"]) == 0
    assert len(json.loads(capsys.readouterr().out)["predictions"]) == 6
    assert calls == [("shutdown", (), {})]


def test_workers_with_a_results_file_is_still_the_dask_run(monkeypatch):
    from cnn.cli.commands import predict_cluster

    seen = []
    monkeypatch.setattr(predict_cluster, "run", lambda args: seen.append(args.workers) or 0)
    assert main(["predict", str(IMAGES), "--workers", "2", "--out", "r.jsonl"]) == 0
    assert seen == [2]


SCRIPT = """import sys
from pathlib import Path
from cnn.errors import UserError
from cnn.tasks.predict import predict_files


def run():
    files = sorted(Path(sys.argv[1]).glob("*.png"))[:3]
    try:
        print("read", len(predict_files(files, workers=2)))
    except UserError as e:
        print("error:", e)


{call}
"""


@pytest.mark.parametrize("guarded", [True, False])
def test_a_script_without_a_main_guard_is_told_so_when_its_workers_die(tmp_path, guarded):
    # "spawn" runs the main script again in every worker: without the guard each worker calls
    # the pool again and dies, which used to be reported as "out of memory, or killed".
    import subprocess
    import sys

    call = 'if __name__ == "__main__":\n    run()' if guarded else "run()"
    script = tmp_path / "user_script.py"
    script.write_text(SCRIPT.format(call=call))
    done = subprocess.run([sys.executable, str(script), str(IMAGES)], capture_output=True,
                          text=True, cwd=tmp_path, timeout=240,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))  # the tree under test
    if guarded:
        assert "read 3" in done.stdout, done.stdout + done.stderr
    else:
        assert "if __name__ ==" in done.stdout and "workers=1" in done.stdout, done.stdout
        assert "out of memory" not in done.stdout


def test_only_a_script_file_without_the_guard_counts_as_unguarded(tmp_path, monkeypatch):
    # python -m (spawn imports the module by name, never runs it again), an interactive
    # session, a missing file and a FIFO (never opened: it would block) are not "unguarded".
    import types

    from cnn.tasks import predict

    def main_module(file=None, spec=None):
        module = types.ModuleType("__main__")
        if file is not None:
            module.__file__ = str(file)
        module.__spec__ = None if spec is None else types.SimpleNamespace(name=spec)
        monkeypatch.setitem(sys.modules, "__main__", module)
        return predict._unguarded_main()

    bare = tmp_path / "bare.py"
    bare.write_text("print('no guard')\n")
    guarded = tmp_path / "guarded.py"
    guarded.write_text("if __name__ == '__main__':\n    print('guarded')\n")
    assert main_module(bare) is True
    assert main_module(guarded) is False
    assert main_module(bare, spec="cnn.__main__") is False  # python -m cnn
    assert main_module(bare, spec="__main__") is False
    assert main_module() is False  # an interactive session: no file
    assert main_module(tmp_path / "missing.py") is False
    fifo = tmp_path / "pipe.py"
    os.mkfifo(fifo)
    assert main_module(fifo) is False
