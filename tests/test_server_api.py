"""The ``cnn serve`` API through FastAPI's TestClient: every field, every bad input, no disk."""

from __future__ import annotations

import base64
import json
import struct
import tempfile
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import load_script

pytest.importorskip("fastapi", reason="the serve extra: pip install -e '.[test]'")
from fastapi.testclient import TestClient  # noqa: E402

from cnn.cli import main
from cnn.io.catalog import list_weights
from cnn.io.weights import load_model
from cnn.nn.summary import summary_rows
from cnn.server.activations import activation_maps
from cnn.server.app import ModelStore, create_app
from cnn.server.images import MAX_UPLOAD_BYTES
from cnn.tasks.ensemble import Ensemble
from cnn.tasks.predict import confidence_of
from cnn.vision.pipeline import preprocess_file

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "custom_test_images"
WEIGHTS = ROOT / "weight_output"
SMALL = WEIGHTS / "weight_detailsC(8,5)-P2-C(16,3)-P2-FC128-FC10.npz"
DEEP = WEIGHTS / "weight_detailsC(16,3)-P2-C(32,3)-P2-C(64,3)-P2-FC512-FC10.npz"


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app(ModelStore([str(SMALL)])))


def png_bytes(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", image)
    assert ok
    return data.tobytes()


def png_header(width: int, height: int) -> bytes:
    """A small PNG declaring ``width x height`` grey pixels with only a few rows of data (a
    decompression bomb's header, or a truncated file)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(bytes((width + 1) * 4))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", rows)
            + chunk(b"IEND", b""))


def cli_json(path: Path, capsys) -> dict:
    main(["predict", str(path), "--weights", str(SMALL), "--json"])
    return json.loads(capsys.readouterr().out)


# ---------------------------------------------------------------- predictions
def test_predict_gives_the_object_cnn_predict_json_gives(client, capsys):
    path = IMAGES / "7_1.jpg"
    expected = cli_json(path, capsys)["predictions"][0]
    r = client.post("/api/predict", files={"file": (path.name, path.read_bytes(), "image/jpeg")})
    assert r.status_code == 200
    got = r.json()
    assert set(expected) <= set(got)
    for key in ("digit", "label", "error", "uncertain"):
        assert got[key] == expected[key], key
    assert got["file"] == path.name
    np.testing.assert_allclose(got["probabilities"], expected["probabilities"], atol=1e-6)
    assert got["confidence"] == pytest.approx(expected["confidence"], abs=1e-6)
    assert got["model"] == "C(8,5)-P2-C(16,3)-P2-FC128-FC10"
    assert got["weights"] == SMALL.name
    assert "activations" not in got


def test_raw_body_and_multipart_give_the_same_answer_and_input(client):
    path = IMAGES / "3_3.png"
    data = path.read_bytes()
    raw = client.post("/api/predict?name=3_3.png", content=data,
                      headers={"content-type": "image/png"}).json()
    form = client.post("/api/predict", files={"image": (path.name, data, "image/png")}).json()
    assert raw == form
    scorer = confidence_of(load_model(SMALL))  # the served network chooses, as in cnn predict
    expected_input = np.rint(preprocess_file(path, choose=scorer) * 255).astype(np.uint8)
    np.testing.assert_array_equal(np.array(raw["input"], np.uint8), expected_input)
    assert raw["label"] == 3


def test_activations_are_every_spatial_token_labelled_as_cnn_summary_names_it(client):
    path = IMAGES / "2_3.png"
    got = client.post("/api/predict?activations=1", content=path.read_bytes(),
                      headers={"content-type": "image/png"}).json()
    model = load_model(SMALL)
    names = {f"{row.number} {row.name}": row.shape for row in summary_rows(model)}
    assert [a["label"] for a in got["activations"]] == [
        "1 C(8,5) conv 5x5 + ReLU", "2 P2 max pool 2x2", "3 C(16,3) conv 3x3 + ReLU",
        "4 P2 max pool 2x2"]
    x = preprocess_file(path, choose=confidence_of(model))[None, :, :, None]
    for a in got["activations"]:
        assert f"({a['channels']}, {a['height']}, {a['width']})" == names[a["label"]]
        t = int(a["label"].split()[0]) - 1
        want = model.forward(x, taps=[f"{t + 1}.out"])[f"{t + 1}.out"][0].transpose(2, 0, 1)
        q = np.frombuffer(base64.b64decode(a["data"]), np.uint8).reshape(want.shape)
        assert a["offset"] == 0 and a["scale"] == pytest.approx(float(want.max()), rel=1e-5)
        np.testing.assert_allclose(q * (a["scale"] / 255), want, atol=a["scale"] / 255 * 0.51)
    # The prediction comes from the same pass: equal to the one without activations.
    plain = client.post("/api/predict", content=path.read_bytes(),
                        headers={"content-type": "image/png"}).json()
    np.testing.assert_allclose(got["probabilities"], plain["probabilities"], atol=1e-6)


def test_activation_maps_match_the_flat_forward_for_each_token():
    model = load_model(DEEP)
    x = preprocess_file(IMAGES / "8_3.png")
    maps, logits = activation_maps(model, x)
    assert [label for label, _ in maps][::2] == [
        "1 C(16,3) conv 3x3 + ReLU", "3 C(32,3) conv 3x3 + ReLU", "5 C(64,3) conv 3x3 + ReLU"]
    assert [m.shape for _, m in maps] == [(16, 26, 26), (16, 13, 13), (32, 11, 11), (32, 6, 6),
                                          (64, 4, 4), (64, 2, 2)]
    np.testing.assert_allclose(logits, model.logits(x[None])[0], rtol=1e-5, atol=1e-5)
    assert all(m.min() >= 0 for _, m in maps)  # after the ReLU


def test_maps_with_negative_values_keep_them():
    from cnn.server.app import encode_maps

    a = np.array([[[-2.0, 0.0], [1.0, 3.0]]], np.float32)
    (got,) = encode_maps([("1 C(1,1) conv 1x1", a)])
    assert (got["offset"], got["scale"]) == (-2.0, 5.0)
    q = np.frombuffer(base64.b64decode(got["data"]), np.uint8).reshape(a.shape)
    np.testing.assert_allclose(got["offset"] + q * got["scale"] / 255, a, atol=5 / 255)


def test_a_drawn_canvas_is_read_and_low_confidence_is_flagged(subset):
    _, (x_test, y_test) = subset
    canvas = 255 - cv2.resize(x_test[0], (280, 280), interpolation=cv2.INTER_NEAREST)
    strict = TestClient(create_app(ModelStore([str(SMALL)]), min_confidence=1.0))
    got = strict.post("/api/predict?name=canvas", content=png_bytes(canvas),
                      headers={"content-type": "image/png"}).json()
    assert got["digit"] == int(y_test[0]) and got["file"] == "canvas"
    assert got["uncertain"] is True  # every confidence is below 1.0
    assert got["label"] is None


# ---------------------------------------------------------------- models, health, docs
def test_models_lists_weight_output_with_model_string_and_accuracy(client):
    listing = client.get("/api/models").json()
    assert listing["default"] == SMALL.name
    models = listing["models"]
    assert models[0]["id"] == SMALL.name and models[0]["default"] is True
    assert {m["id"] for m in models} == {w.path.name for w in list_weights()}
    for m in models:
        info = next(w for w in list_weights() if w.path.name == m["id"])
        assert m["model"] == info.model and m["accuracy"] == info.accuracy
        assert m["accuracy"] is None or 0 < m["accuracy"] <= 1


def test_model_parameter_picks_another_network_and_unknown_ids_are_404(client):
    data = (IMAGES / "4_3.png").read_bytes()
    got = client.post(f"/api/predict?activations=1&model={DEEP.name}", content=data,
                      headers={"content-type": "image/png"}).json()
    assert got["model"] == "C(16,3)-P2-C(32,3)-P2-C(64,3)-P2-FC512-FC10"
    assert got["weights"] == DEEP.name and len(got["activations"]) == 6
    for bad in ("nope.npz", "../weight_output/" + DEEP.name, str(DEEP), "/etc/passwd"):
        r = client.post("/api/predict", params={"model": bad}, content=data,
                        headers={"content-type": "image/png"})
        assert r.status_code == 404
        assert r.json() == {"error": f"unknown model {bad!r}: GET /api/models lists the ids "
                                     "to choose from"}


def test_health_and_openapi_docs(client):
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["model"] == "C(8,5)-P2-C(16,3)-P2-FC128-FC10"
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger-ui-bundle.js" in docs.text
    assert "cdn." not in docs.text and "https://" not in docs.text  # served locally: offline
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/api/predict"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", "image/png", "image/jpeg"} <= set(body)
    assert {"/api/models", "/api/health"} <= set(spec["paths"])
    page = client.get("/")
    assert page.status_code == 200 and "<canvas id=\"pad\"" in page.text
    for asset in ("/static/app.js", "/static/style.css"):
        assert client.get(asset).status_code == 200
    assert "http://" not in page.text.replace("http://www.w3.org", "")  # no CDN


def test_an_ensemble_is_served_with_its_first_members_maps():
    store = ModelStore([str(SMALL), str(DEEP)])
    c = TestClient(create_app(store))
    data = (IMAGES / "6_3.png").read_bytes()
    got = c.post("/api/predict?activations=1", content=data,
                 headers={"content-type": "image/png"}).json()
    assert got["model"].startswith("ensemble of 2 (mean): C(8,5)-P2-C(16,3)-P2-FC128-FC10 | ")
    assert got["weights"] == "ensemble"
    assert [a["label"] for a in got["activations"]][0] == "1 C(8,5) conv 5x5 + ReLU"
    ensemble = Ensemble([(str(SMALL), load_model(SMALL)), (str(DEEP), load_model(DEEP))])
    x = preprocess_file(IMAGES / "6_3.png")[None]
    np.testing.assert_allclose(got["probabilities"], ensemble.predict_proba(x)[0], atol=1e-6)


# ---------------------------------------------------------------- bad input
def cli_error(data: bytes, name: str, tmp_path, capsys) -> str:
    """The error line ``cnn predict`` prints for a file holding ``data``, with the path shown
    as the bare file name (the server has no path)."""
    path = tmp_path / name
    path.write_bytes(data)
    # --no-reject: a blank image is an error line there, not the "not a digit" answer
    status = main(["predict", str(path), "--weights", str(SMALL), "--json", "--no-reject"])
    assert status == 1
    line = capsys.readouterr().err.strip().splitlines()[-1]
    return line.removeprefix("cnn: error: ").replace(str(path), name)


BAD = {
    "empty": (b"", 400),
    "not an image": (b"this is a text file, not a picture\n" * 3, 400),
    "truncated JPEG": ((IMAGES / "1_1.jpg").read_bytes()[:3000], 400),
    "truncated PNG": ((IMAGES / "0_2.png").read_bytes()[:200], 400),
    "blank canvas": (png_bytes(np.full((280, 280), 255, np.uint8)), 422),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_a_4xx_with_the_clis_message_and_the_server_goes_on(case, client, tmp_path,
                                                                       capsys):
    data, status = BAD[case]
    name = "bad.png"
    for request in (dict(files={"file": (name, data, "image/png")}),
                    dict(params={"name": name}, content=data,
                         headers={"content-type": "image/png"})):
        r = client.post("/api/predict", **request)
        assert r.status_code == status, r.text
        assert r.json() == {"error": cli_error(data, name, tmp_path, capsys)}
        assert "\n" not in r.json()["error"]
        ok = client.post("/api/predict", content=(IMAGES / "5_3.png").read_bytes(),
                         headers={"content-type": "image/png"})
        assert ok.status_code == 200 and ok.json()["digit"] == 5


def test_over_10_mb_is_refused_before_decoding(client):
    data = b"\x89PNG\r\n\x1a\n" + bytes(MAX_UPLOAD_BYTES)
    r = client.post("/api/predict", content=data, headers={"content-type": "image/png"})
    assert r.status_code == 413
    assert r.json() == {"error": "cannot read image 'upload': the file is 10.0 MB, more than "
                                 "the 10 MB allowed; save a smaller copy"}
    r = client.post("/api/predict", files={"file": ("big.png", data, "image/png")})
    assert r.status_code == 413 and "more than the 10 MB allowed" in r.json()["error"]


def test_more_than_40_megapixels_is_refused_from_the_header(client):
    r = client.post("/api/predict", files={"file": ("huge.png", png_header(8000, 6000),
                                                    "image/png")})
    assert r.status_code == 413
    assert r.json() == {"error": "cannot read image 'huge.png': it declares 48,000,000 pixels, "
                                 "more than the 40 megapixels allowed; save a smaller copy"}
    ok = client.post("/api/predict", files={"file": ("fine.png", png_header(4000, 3000),
                                                     "image/png")})
    assert ok.status_code == 400  # 12 MP is allowed; this header has no pixel data


def test_malformed_multipart_is_a_400(client):
    r = client.post("/api/predict", content=b"--xyz\r\ngarbage",
                    headers={"content-type": "multipart/form-data; boundary=xyz"})
    assert 400 <= r.status_code < 500 and "error" in r.json()
    r = client.post("/api/predict", content=b"abc",
                    headers={"content-type": "multipart/form-data"})
    assert r.status_code == 400 and "boundary" in r.json()["error"]


def test_uploads_never_touch_the_disk(client, tmp_path, monkeypatch):
    spool = tmp_path / "tmp"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    photo = cv2.imread(str(IMAGES / "9_1.jpg"))
    big = cv2.resize(photo, (2400, 3200))
    data = png_bytes(big)  # several MB: a form parser would spool it to a temporary file
    assert len(data) > 2 * 2**20
    r = client.post("/api/predict", files={"file": ("9_big.png", data, "image/png")})
    assert r.status_code == 200 and r.json()["label"] == 9
    assert list(spool.iterdir()) == []


def test_names_from_requests_are_never_paths(client):
    data = (IMAGES / "0_2.png").read_bytes()
    got = client.post("/api/predict", files={"file": ("../../etc/0_x.png", data, "image/png")})
    assert got.json()["file"] == "0_x.png"
    got = client.post("/api/predict", params={"name": "/etc/passwd"}, content=data,
                      headers={"content-type": "image/png"})
    assert got.json()["file"] == "passwd"


# ---------------------------------------------------------------- "not a digit"
@pytest.mark.slow  # end to end; CI runs it (.ci/run: -m slow)
def test_the_gate_rejects_non_digits_in_the_api_as_cnn_predict_does(tmp_path, capsys):

    from cnn.tasks.reject import Rejector

    mnd = load_script(ROOT / "scripts" / "make_non_digits.py", "mnd")
    assert mnd.main(["--out", str(tmp_path / "nd"), "--seed", "777", "--per-kind", "2",
                     "--style", "b"]) == 0
    capsys.readouterr()
    gated = TestClient(create_app(ModelStore([str(SMALL)]), rejector=Rejector.default()))
    files = sorted(p for p in (tmp_path / "nd").rglob("*") if p.is_file())
    # Both read whole numbers by default (a letter may read as a number in both, alike).
    main(["predict", *map(str, files), "--weights", str(SMALL), "--json"])
    expected = {Path(p["file"]).name: p for p in json.loads(capsys.readouterr().out)["predictions"]}
    rejected = 0
    for path in files:
        got = gated.post("/api/predict", files={"file": (path.name, path.read_bytes(),
                                                         "application/octet-stream")}).json()
        want = expected[path.name]
        assert (got["rejected"], got["digit"], got["reason"], got["number"]) == \
            (want["rejected"], want["digit"], want["reason"], want["number"]), path.name
        rejected += got["rejected"]
    assert rejected >= len(files) // 2  # the gate does reject most of them
    digit = gated.post("/api/predict", content=(IMAGES / "5_3.png").read_bytes(),
                       headers={"content-type": "image/png"}).json()
    assert digit["digit"] == 5 and not digit["rejected"] and 0 <= digit["not_digit"] < 0.5


def test_with_the_gate_a_blank_canvas_is_not_a_digit_and_without_it_an_error():
    from cnn.tasks.reject import Rejector

    blank = png_bytes(np.full((280, 280), 255, np.uint8))
    gated = TestClient(create_app(ModelStore([str(SMALL)]), rejector=Rejector.default()))
    r = gated.post("/api/predict", params={"name": "canvas"}, content=blank,
                   headers={"content-type": "image/png"})
    assert r.status_code == 200
    got = r.json()
    assert got["digit"] is None and got["rejected"] and got["reason"].startswith("not a digit: ")
    assert got["input"] is None and got["error"] is None
    plain = TestClient(create_app(ModelStore([str(SMALL)])))
    assert plain.post("/api/predict", content=blank,
                      headers={"content-type": "image/png"}).status_code == 422
