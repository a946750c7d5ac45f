"""``cnn serve``'s speed work (issue 30): the number reader starts from the single digit's ink
with the same answers, and ``--workers N`` serves from N processes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the serve extra: pip install -e '.[test]'")
from fastapi.testclient import TestClient

import cnn.vision.numbers as vision_numbers
from cnn.cli import main
from cnn.server.app import ModelStore, create_app, predict_image
from cnn.tasks.reject import Rejector
from cnn.vision.pipeline import to_mnist

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "weight_output" / "weight_detailsC(8,5)-P2-C(16,3)-P2-FC128-FC10.npz"


def digit(subset, d: int) -> np.ndarray:
    _, (x_test, y_test) = subset
    return x_test[int(np.nonzero(y_test == d)[0][0])]


def number_canvas(subset, digits) -> bytes:
    """Digits dark on a white 280 x 560 RGBA canvas, as the page sends a number."""
    page = np.full((280, 560), 255, np.uint8)
    for k, d in enumerate(digits):
        page[40:240, 40 + 250 * k:240 + 250 * k] = 255 - cv2.resize(digit(subset, d), (200, 200))
    _, data = cv2.imencode(".png", np.dstack([page] * 3 + [np.full_like(page, 255)]))
    return data.tobytes()


def photo(subset, digits) -> bytes:
    """Digits written dark on lit, noisy paper with a shadow, 800 x 600 JPEG: the photo path."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:600, 0:800]
    paper = 200 + 40 * xx / 800 - 30 * (yy > 420)  # a light gradient and a hard-edged shadow
    page = paper + rng.normal(0, 4, paper.shape)
    for k, d in enumerate(digits):
        ink = cv2.resize(digit(subset, d), (220, 220)).astype(float) / 255
        page[180:400, 150 + 240 * k:370 + 240 * k] *= 1 - 0.7 * ink
    image = np.clip(page, 0, 255).astype(np.uint8)
    _, data = cv2.imencode(".jpg", cv2.merge([image, image, image]),
                            [cv2.IMWRITE_JPEG_QUALITY, 85])
    return data.tobytes()


@pytest.fixture(scope="module")
def entry():
    return ModelStore([str(SMALL)]).get(None)


@pytest.mark.parametrize("case, digits", [("canvas", (4, 2)), ("canvas", (7,)),
                                          ("photo", (3, 8)), ("photo", (5,))])
def test_answers_are_the_same_whether_the_reader_reuses_the_digits_ink_or_not(
        entry, subset, monkeypatch, case, digits):
    body = number_canvas(subset, digits) if case == "canvas" else photo(subset, digits)
    rejector = Rejector.default()
    reused = []
    original = vision_numbers.ink_map

    def spy(image, polarity="auto", check=True, known=None):
        found = original(image, polarity, check, known)
        reused.append(known is not None and found[0] is known["map"][0])
        return found

    monkeypatch.setattr(vision_numbers, "ink_map", spy)
    fast = predict_image(entry, body, "upload", True, 0.5, rejector, 12)
    assert reused == [True]  # the pipeline's ink was taken, not found again
    monkeypatch.setattr(vision_numbers, "ink_map",
                        lambda image, polarity="auto", check=True, known=None:
                        original(image, polarity, check))
    slow = predict_image(entry, body, "upload", True, 0.5, rejector, 12)
    assert json.dumps(fast, sort_keys=True) == json.dumps(slow, sort_keys=True)
    assert fast["number"]  # read (the answer itself is the small model's, not under test)
    if case == "canvas":
        assert fast["number"] == "".join(map(str, digits))


@pytest.mark.parametrize("case, digits", [("canvas", (7,)), ("photo", (5,)),
                                          ("canvas", (4, 2))])
def test_a_lone_candidates_maps_pass_is_its_only_forward_pass(entry, subset, monkeypatch,
                                                              case, digits):
    """With activation maps asked for, the single-digit pipeline's lone candidate is scored by
    the maps' forward pass (kept for the answer): one pass of the classifier for a lone
    digit, not two; the answer is the one the plain scorer gives."""
    import cnn.server.app as app
    from cnn.tasks.predict import confidence_of

    body = number_canvas(subset, digits) if case == "canvas" else photo(subset, digits)
    network = entry.network
    passes = []
    real_forward = type(network).forward
    monkeypatch.setattr(type(network), "forward",
                        lambda self, *a, **k: passes.append(len(a[0])) or
                        real_forward(self, *a, **k))
    fast = predict_image(entry, body, "upload", True, 0.5, None, 12)
    fast_passes = list(passes)
    monkeypatch.setattr(app, "_choose_keeping_maps",
                        lambda network, plain, seen: confidence_of(network))
    passes.clear()
    slow = predict_image(entry, body, "upload", True, 0.5, None, 12)
    for key in ("digit", "number", "activations", "input"):
        assert json.dumps(fast[key]) == json.dumps(slow[key]), key
    np.testing.assert_allclose(fast["probabilities"] or [0], slow["probabilities"] or [0],
                               rtol=1e-5, atol=1e-7)
    if len(digits) == 1:  # the scorer's pass on the lone candidate, then the maps': one saved
        assert len(passes) == len(fast_passes) + 1
        if case == "canvas":  # nothing else to score: the reader's segment is that digit
            assert fast_passes == [1]
    else:  # a number: each digit's own maps as before
        assert len(fast_passes) <= len(passes)


def test_the_reader_takes_the_pipelines_ink_only_when_found_for_the_same_polarity(
        subset, monkeypatch):
    page = cv2.imdecode(np.frombuffer(number_canvas(subset, (4, 2)), np.uint8),
                        cv2.IMREAD_UNCHANGED)
    own = vision_numbers.ink_map(page)
    keep: dict = {}
    to_mnist(page, keep=keep)
    kept = keep["ink_map"]
    assert kept["canvas"] and kept["sign"] == -1.0
    assert np.array_equal(kept["map"][1], own[1])  # the canvas path finds the same ink
    fake = np.zeros_like(own[0])  # a stand-in ink, to tell which one comes back
    # found for another polarity: the reader finds its own
    other = dict(kept, polarity="light-on-dark", map=(fake,) + own[1:5])
    got = vision_numbers.ink_map(page, "auto", known=other)
    assert got[0] is not fake and np.array_equal(got[0], own[0])

    def photo_stage(*args):
        raise AssertionError("the photo stages ran on a clean canvas the pipeline had read")

    monkeypatch.setattr(vision_numbers, "_ink_sign", photo_stage)
    got = vision_numbers.ink_map(page, "auto", known=kept)
    assert got[0] is kept["map"][0] and got[5] == "dark-on-light"


def test_health_names_the_process_that_answered():
    client = TestClient(create_app(ModelStore([str(SMALL)])))
    assert client.get("/api/health").json()["pid"] == os.getpid()


@pytest.mark.parametrize("value", ["0", "-1", "two", "33", ""])
def test_bad_workers_are_one_line(value, capsys):
    with pytest.raises(SystemExit) as info:
        main(["serve", "--weights", str(SMALL), "--workers", value])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"--workers expects a whole number from 1 to 32, got {value!r}" in err


@pytest.mark.slow
def test_two_workers_answer_from_two_processes_and_ctrl_c_stops_them_all():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "cnn", "serve", "--weights", str(SMALL),
                             "--port", "0", "--quiet", "--workers", "2"], cwd=ROOT, env=env,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)  # its own process group, as a terminal's
    try:
        url = None
        for _ in range(5):
            match = re.search(r"(http://127\.0\.0\.1:\d+/)", proc.stdout.readline())
            if match:
                url = match.group(1)
                break
        assert url, "no URL printed"
        pids: set[int] = set()
        deadline = time.monotonic() + 60
        while len(pids) < 2 and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url + "api/health", timeout=10) as r:
                    pids.add(json.load(r)["pid"])
            except OSError:
                time.sleep(0.2)  # the workers are still loading the model
        assert len(pids) == 2 and proc.pid not in pids
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole group
        assert proc.wait(30) == 0
        assert proc.stdout.read().endswith("server stopped\n")
        assert "Traceback" not in proc.stderr.read()
        for pid in pids:  # every worker is gone
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
