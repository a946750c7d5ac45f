"""``POST /api/predict?max_digits=N``: whole numbers through the API, as ``cnn predict`` reads
them."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the serve extra: pip install -e '.[test]'")
from fastapi.testclient import TestClient

from cnn.cli import main
from cnn.server.app import ModelStore, create_app

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "weight_output" / "weight_detailsC(8,5)-P2-C(16,3)-P2-FC128-FC10.npz"
PNG = {"content-type": "image/png"}
SPOTS = [(60, 40), (280, 40)]  # where the digits are pasted: (x, y) of a 200 x 200 square


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app(ModelStore([str(SMALL)])))


def canvas(subset, digits, scale: int = 1) -> np.ndarray:
    """MNIST test digits (the first of each class) pasted side by side, dark on a white
    280 x 560 canvas as the page sends it, at SPOTS; ``scale`` enlarges the whole canvas."""
    _, (x_test, y_test) = subset
    page = np.full((280, 560), 255, np.uint8)
    for (x, y), d in zip(SPOTS, digits):
        image = x_test[int(np.nonzero(y_test == d)[0][0])]
        page[y:y + 200, x:x + 200] = 255 - cv2.resize(image, (200, 200))
    return cv2.resize(page, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)


def encode(image: np.ndarray, ext: str = ".png") -> bytes:
    ok, data = cv2.imencode(ext, image)
    assert ok
    return data.tobytes()


def ink_box(image: np.ndarray, spot, side: int = 200) -> list[int]:
    """The ink's bounding box inside one pasted square: [x0, y0, x1, y1], exclusive ends."""
    x, y = spot
    ys, xs = np.nonzero(image[y:y + side, x:x + side] < 128)
    return [x + int(xs.min()), y + int(ys.min()), x + int(xs.max()) + 1, y + int(ys.max()) + 1]


def test_a_42_of_two_mnist_digits_reads_42_with_a_box_over_each_in_order(client, subset):
    image = canvas(subset, (4, 2))
    r = client.post("/api/predict?max_digits=12&activations=1&name=canvas",
                    content=encode(image), headers=PNG)
    assert r.status_code == 200
    got = r.json()
    assert got["number"] == "42"
    assert (got["digit"], got["confidence"], got["probabilities"]) == (None, None, [])
    assert not got["rejected"] and got["error"] is None
    assert [d["digit"] for d in got["digits"]] == [4, 2]
    for d, spot in zip(got["digits"], SPOTS):
        want = ink_box(image, spot)
        assert all(abs(a - b) <= 3 for a, b in zip(d["box"], want)), (d["box"], want)
        p = np.array(d["probabilities"])
        assert p.shape == (10,) and abs(p.sum() - 1) < 1e-4 and int(p.argmax()) == d["digit"]
        assert d["confidence"] == pytest.approx(p.max(), abs=1e-6)
        assert d["top3"][0] == [d["digit"], pytest.approx(p.max(), abs=1e-6)]
        crop = np.array(d["input"], np.uint8)
        assert crop.shape == (28, 28) and crop.max() > 200
        assert d["activations"][0]["label"] == "1 C(8,5) conv 5x5 + ReLU"
    assert got["digits"][0]["box"][2] <= got["digits"][1]["box"][0]  # left to right
    # The maps are the digit's own: the second digit's differ from the first's.
    maps = [base64.b64decode(d["activations"][0]["data"]) for d in got["digits"]]
    assert maps[0] != maps[1]
    # The top level shows the first digit (what the page shows by default).
    assert got["input"] == got["digits"][0]["input"]
    assert got["activations"] == got["digits"][0]["activations"]


def test_the_api_reads_the_number_cnn_predict_reads(client, subset, tmp_path, capsys):
    path = tmp_path / "42.png"
    path.write_bytes(encode(canvas(subset, (4, 2))))
    main(["predict", str(path), "--weights", str(SMALL), "--json", "--max-digits", "12"])
    want = json.loads(capsys.readouterr().out)["predictions"][0]
    got = client.post("/api/predict?max_digits=12", files={"file": ("42.png", path.read_bytes(),
                                                                  "image/png")}).json()
    assert got["number"] == want["number"] == "42"
    for g, w in zip(got["digits"], want["digits"]):
        assert (g["box"], g["digit"]) == (w["box"], w["digit"])
        assert g["confidence"] == pytest.approx(w["confidence"], abs=1e-6)


def test_a_single_digit_keeps_the_single_digit_answer(client, subset):
    image = canvas(subset, (7,))
    plain = client.post("/api/predict?max_digits=1", content=encode(image), headers=PNG).json()
    assert plain["digit"] == 7 and plain["number"] is None and plain["digits"] == []
    got = client.post("/api/predict", content=encode(image), headers=PNG).json()  # 12
    for key in ("digit", "confidence", "probabilities", "input", "rejected", "uncertain"):
        assert got[key] == plain[key], key
    assert got["number"] == "7" and len(got["digits"]) == 1
    (d,) = got["digits"]
    assert d["digit"] == 7 and d["probabilities"] == plain["probabilities"]
    assert all(abs(a - b) <= 3 for a, b in zip(d["box"], ink_box(image, SPOTS[0])))
    one = client.post("/api/predict?max_digits=1", content=encode(canvas(subset, (4, 2))),
                      headers=PNG).json()
    assert one["digit"] in (4, 2) and one["number"] is None  # 1: one digit only


@pytest.mark.parametrize("turned", [False, True])
def test_boxes_of_a_large_jpeg_are_in_its_own_upright_pixels(client, subset, turned):
    """A JPEG this large is decoded reduced; a phone's (stored turned, with an EXIF tag saying
    so) is turned upright: the boxes are in the upright photo's own pixels."""
    import io

    from PIL import Image

    image = canvas(subset, (4, 2), scale=4)  # 2240 x 1120
    stored = Image.fromarray(image)
    exif = Image.Exif()
    if turned:  # stored a quarter turn anticlockwise; orientation 6: turn it clockwise
        stored = stored.transpose(Image.Transpose.ROTATE_90)
        exif[0x0112] = 6
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", quality=90, exif=exif)
    got = client.post("/api/predict?max_digits=12", content=buffer.getvalue(),
                      headers={"content-type": "image/jpeg"}).json()
    assert got["number"] == "42"
    for d, (x, y) in zip(got["digits"], SPOTS):
        want = ink_box(image, (4 * x, 4 * y), side=800)
        assert all(abs(a - b) <= 12 for a, b in zip(d["box"], want)), (d["box"], want)


@pytest.mark.parametrize("bad", ["0", "17", "-1", "2.5", "abc", "", "\u0663"])
def test_a_bad_max_digits_is_a_422_with_one_line(client, bad):
    data = encode(np.full((28, 28), 255, np.uint8))
    r = client.post("/api/predict", params={"max_digits": bad}, content=data, headers=PNG)
    assert r.status_code == 422
    assert r.json() == {"error": f"max_digits {bad!r} should be a whole number from 1 to 16 "
                                 "(1 reads one digit; 12, the default, a number of up to 12 "
                                 "digits)"}
