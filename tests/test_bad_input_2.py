"""Bad input, second round (issue 28): no hangs, no memory bombs, no silent NaN, photos the
right way up, one line instead of a traceback, and the server's host check.

Each test fails without its fix: the crafted files are the ones the fuzz run found (see
``benchmarks/fuzz.py`` for the categories, run at random).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from test_onnx import GraphBuilder, lenet_graph  # noqa: E402

from cnn.cli import main  # noqa: E402
from cnn.errors import UserError  # noqa: E402
from cnn.io.weights import load_model  # noqa: E402
from cnn.nn.model import Sequential  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TINY = "C(4,3)-P2-FC10"
FUZZ = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


def cnn_run(args, cwd=ROOT, timeout=60, env=None, **kwargs) -> subprocess.CompletedProcess:
    env = env or dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "cnn", *args], cwd=cwd, env=env, timeout=timeout,
                          capture_output=True, text=True, **kwargs)


def one_line(path, what=UserError) -> str:
    """Loading ``path`` fails with one line (and nothing else: no other exception type)."""
    with pytest.raises(what) as info:
        load_model(path)
    message = str(info.value)
    assert "\n" not in message and message
    return message


def save_proto(proto, path: Path) -> Path:
    path.write_bytes(proto.SerializeToString())
    return path


# ------------------------------------------------------------------------------ ONNX graphs
def small_graph():
    """conv3 - relu - flatten - gemm: the smallest graph the importer takes (a GraphBuilder)."""
    g = GraphBuilder(7)
    x = g.op("Relu", [g.conv("input.1", 1, 2, 3)])
    x = g.gemm(g.op("Flatten", [x], axis=1), 2 * 26 * 26, 10)
    return g, x


def test_an_identity_feeding_itself_is_refused_not_spun_on(tmp_path):
    g, x = small_graph()
    proto = g.model(x)
    loop = helper.make_node("Identity", ["loop"], ["loop"], name="self_loop")
    proto.graph.node.insert(1, loop)
    proto.graph.node[2].input[0] = "loop"  # the relu reads 'loop', which only 'loop' writes
    path = save_proto(proto, tmp_path / "loop.onnx")
    result = cnn_run(["summary", "--weights", str(path)], timeout=30)  # spun for ever before
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "cycle" in result.stderr


def test_a_two_node_cycle_is_refused():
    g, x = small_graph()
    proto = g.model(x)
    proto.graph.node.extend([helper.make_node("Identity", ["b"], ["a"], name="i1"),
                             helper.make_node("Identity", ["a"], ["b"], name="i2")])
    from cnn.io.onnx_checks import check_graph

    with pytest.raises(UserError, match="cycle through Identity node"):
        check_graph(proto.graph)


def test_a_sparse_huge_onnx_file_is_refused_unread(tmp_path):
    from cnn.io.onnx_import import MAX_BYTES

    path = tmp_path / "sparse.onnx"
    with open(path, "wb") as f:
        f.truncate(MAX_BYTES + 1)  # a hole: no disk used, and nothing must be read
    message = one_line(path)
    assert "refused unread" in message and f"{MAX_BYTES + 1:,}" in message


def crafted(tmp_path, name, change) -> Path:
    g, x = small_graph()
    proto = g.model(x)
    change(proto)
    return save_proto(proto, tmp_path / f"{name}.onnx")


def _strides_zero(proto):
    conv = proto.graph.node[0]
    for a in conv.attribute:
        if a.name == "strides":
            a.ints[:] = [0, 0]


def _no_output(proto):
    proto.graph.node.append(helper.make_node("Relu", ["logits"], [], name="nothing_out"))


def _no_input(proto):
    proto.graph.node.append(helper.make_node("Relu", [], ["dangling"], name="nothing_in"))


def _undefined_dtype(proto):
    proto.graph.initializer[0].data_type = TensorProto.UNDEFINED


def _external_constant(location):
    def change(proto):
        t = numpy_helper.from_array(np.zeros(3, np.float32), "c")
        t.ClearField("raw_data")
        t.data_location = TensorProto.EXTERNAL
        t.external_data.add(key="location", value=location)
        proto.graph.node.insert(0, helper.make_node("Constant", [], ["c"], value=t, name="k"))
    return change


@pytest.mark.parametrize("name, change, expected", [
    ("strides0", _strides_zero, "strides [0, 0]; each should be 1..4096"),
    ("no_output", _no_output, "node 'nothing_out' has no output"),
    ("no_input", _no_input, "node 'nothing_in' has no input"),
    ("undefined", _undefined_dtype, "has data type UNDEFINED"),
    ("secret", _external_constant("secret.bin"), "external data file 'secret.bin'"),
    ("passwd", _external_constant("/etc/passwd"), "external data file '/etc/passwd'"),
    ("updir", _external_constant("../../x"), "external data file '../../x'"),
    ("zero", _external_constant("/dev/zero"), "external data file '/dev/zero'"),
])
def test_crafted_onnx_files_are_one_line(name, change, expected, tmp_path):
    (tmp_path / "secret.bin").write_bytes(np.ones(3, np.float32).tobytes())
    path = crafted(tmp_path, name, change)
    cwd = os.getcwd()
    os.chdir(tmp_path)  # where a Constant's 'secret.bin' was read from before
    try:
        assert expected in one_line(path)
    finally:
        os.chdir(cwd)


def test_external_data_pointing_at_a_fifo_does_not_block(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    path = crafted(tmp_path, "fifo", _external_constant("fifo"))
    result = cnn_run(["summary", "--weights", path.name], cwd=tmp_path, timeout=30)
    assert result.returncode == 2 and "external data file 'fifo'" in result.stderr


def test_metadata_json_nested_100000_deep_is_ignored_not_a_recursion_error(tmp_path):
    proto = lenet_graph()
    helper.set_model_props(proto, {"metadata": "[" * 100_000 + "]" * 100_000})
    model = load_model(save_proto(proto, tmp_path / "deep.onnx"))
    assert model.metadata["source"] == "onnx" and "accuracy" not in model.metadata


@pytest.mark.parametrize("array, value, expected", [
    ("var", -1.5, "running variance is never negative"),
    ("weight", 3e38, "holds 3e+38 at index 1"),
    ("weight", 3e10, "beyond the +-1e+06"),
])
def test_onnx_import_refuses_finite_but_broken_weights(array, value, expected, tmp_path):
    proto = lenet_graph()
    bn = next(n for n in proto.graph.node if n.op_type == "BatchNormalization")
    name = bn.input[4] if array == "var" else proto.graph.node[0].input[1]
    init = next(t for t in proto.graph.initializer if t.name == name)
    a = numpy_helper.to_array(init).copy()
    a.reshape(-1)[1] = value
    init.CopyFrom(numpy_helper.from_array(a, name))
    assert expected in one_line(save_proto(proto, tmp_path / "broken.onnx"))


def test_onnx_float64_beyond_float32_is_refused_by_name(tmp_path):
    proto = lenet_graph()
    name = proto.graph.node[0].input[1]
    init = next(t for t in proto.graph.initializer if t.name == name)
    a = numpy_helper.to_array(init).astype(np.float64)
    a.reshape(-1)[0] = 1e300
    init.CopyFrom(numpy_helper.from_array(a, name))
    message = one_line(save_proto(proto, tmp_path / "f64.onnx"))
    assert f"initializer '{name}' holds 1e+300 at index 0" in message


# random graphs: whatever the nodes, one line or a model, never a hang or another exception
OPS = ["Conv", "Relu", "MaxPool", "Identity", "Flatten", "Gemm", "Add", "Dropout", "Reshape",
       "BatchNormalization", "GlobalAveragePool", "Softmax", "Constant", "Shape", "Gather"]


@st.composite
def random_graphs(draw):
    names = ["input.1", "w0", "w1"]
    nodes = []
    for i in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(OPS))
        inputs = draw(st.lists(st.sampled_from(names + ["x", ""]), min_size=0, max_size=3))
        outputs = [draw(st.sampled_from([f"t{i}", "x", "logits", "input.1"]))]
        attrs = {}
        if op in ("Conv", "MaxPool"):
            attrs["strides"] = draw(st.lists(st.integers(-2, 3), min_size=1, max_size=3))
        nodes.append(helper.make_node(op, inputs, outputs, name=f"n{i}", **attrs))
        names.append(outputs[0])
    x = helper.make_tensor_value_info("input.1", TensorProto.FLOAT, ["N", 1, 28, 28])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])
    inits = [numpy_helper.from_array(np.ones((2, 1, 3, 3), np.float32), "w0"),
             numpy_helper.from_array(np.zeros(draw(st.integers(0, 3)), np.float32), "w1")]
    return helper.make_model(helper.make_graph(nodes, "g", [x], [y], inits))


@FUZZ
@given(proto=random_graphs())
def test_random_onnx_graphs_load_or_give_one_line(proto):
    from cnn.io.onnx_import import translate

    try:
        from cnn.io.onnx_checks import check_graph
        check_graph(proto.graph)
        translate(proto)
    except UserError as e:
        assert "\n" not in str(e)


# ------------------------------------------------------------------------------ images
def radiance_hdr(width: int, height: int) -> bytes:
    """A Radiance HDR header declaring ``width x height`` and a little run-length data."""
    return (b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n" + f"-Y {height} +X {width}\n".encode()
            + bytes([2, 2, width >> 8, width & 255]) + b"\x80\x00" * 64)


def test_a_radiance_hdr_declaring_144_megapixels_is_refused_before_decoding(tmp_path,
                                                                          monkeypatch):
    import cv2

    from cnn.server.images import decode_image
    from cnn.vision import decode

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded a file whose header declares too many pixels")

    monkeypatch.setattr(cv2, "imdecode", no_decoding)
    bomb = tmp_path / "bomb.png"  # named .png, as in the issue: the bytes decide the format
    bomb.write_bytes(radiance_hdr(12_000, 12_000))
    with pytest.raises(UserError, match="declares 144,000,000 pixels"):
        decode.read_image(bomb)  # cnn predict and folder training read files through it
    with pytest.raises(UserError, match="declares 144,000,000 pixels"):
        decode_image(bomb.read_bytes(), "bomb.png")  # cnn serve's uploads


@pytest.mark.parametrize("header, pixels", [
    (b"PF\n9000 5000\n-1\n", 45_000_000),
    (b"P7\nWIDTH 9000\nHEIGHT 5000\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n", 45_000_000),
    (b"#?RADIANCE\n\n+X 9000 -Y 5000\n", 45_000_000),
])
def test_formats_pillow_does_not_read_have_their_size_checked(header, pixels):
    from cnn.vision.decode import read_header

    assert read_header(header + b"\0" * 16)[0] == pixels


def test_a_format_whose_size_cannot_be_read_is_not_decoded(monkeypatch):
    import cv2

    from cnn.vision.decode import decode_image_bytes

    monkeypatch.setattr(cv2, "imdecode", lambda *a: pytest.fail("decoded an unchecked file"))
    with pytest.raises(UserError, match="a format whose size cannot be checked"):
        decode_image_bytes(b"\x00\x01unknown format" * 10, "x.img")


def tagged(image: np.ndarray, orientation: int, fmt: str = "PNG") -> bytes:
    """``image`` (grey uint8) stored as a camera would: pixels turned so that the EXIF
    ``orientation`` tag turns them back (Pillow's inverse of exif_transpose)."""
    from PIL import Image

    inverse = {1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
               4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
               6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
               8: Image.Transpose.ROTATE_270}[orientation]
    im = Image.fromarray(image)
    if inverse is not None:
        im = im.transpose(inverse)
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    im.save(buf, fmt, exif=exif.tobytes(), **({"quality": 100} if fmt == "JPEG" else {}))
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF", "WEBP"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_as_pillow_does(orientation, fmt):
    from PIL import Image, ImageOps

    from cnn.vision.decode import decode_image_bytes

    rng = np.random.default_rng(orientation)
    image = np.kron(rng.integers(0, 2, (6, 4)) * 255, np.ones((8, 8))).astype(np.uint8)
    data = tagged(image, orientation, fmt)
    ours = decode_image_bytes(data, "photo")
    pillow = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("L"))
    assert ours.shape[:2] == image.shape == pillow.shape
    ours = ours if ours.ndim == 2 else ours[..., :3].mean(axis=2)
    assert np.abs(ours.astype(int) - image).mean() < 8  # lossless but JPEG/WebP: a few levels
    assert np.abs(pillow.astype(int) - image).mean() < 8


def test_a_phone_photo_saved_turned_reads_as_the_upright_digit(tmp_path, capsys):
    import cv2

    sample = sorted((ROOT / "custom_test_images").glob("7_*.png"))[0]  # 7 turned is no 7
    upright = cv2.imread(str(sample), cv2.IMREAD_GRAYSCALE)
    (tmp_path / "upright.png").write_bytes(tagged(upright, 1))
    for k in (3, 6, 8):
        (tmp_path / f"turned{k}.jpg").write_bytes(tagged(upright, k, "JPEG"))
    assert main(["predict", "--json", "-q", str(tmp_path)]) in (0, 1)
    answers = {Path(p["file"]).stem: p["digit"]
               for p in json.loads(capsys.readouterr().out)["predictions"]}
    assert answers["turned3"] == answers["turned6"] == answers["turned8"] == 7
    assert answers["upright"] == 7


# ------------------------------------------------------------------------------ memory
BIG = "C(2000,3,same)-C(2000,3,same)-GAP-FC10"  # inside the model-string limits


def test_training_a_model_too_large_for_its_batch_is_refused_with_the_estimate(tmp_path):
    subset = ROOT / "tests" / "data" / "mnist_subset.npz"
    result = cnn_run(["train", "--model", BIG, "--epochs", "1", "--batch-size", "64",
                      "--data", str(subset), "--out", str(tmp_path / "w.npz"), "-q"], timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    line = result.stderr.strip()
    assert "needs about" in line and "GiB of activations" in line and "per image" in line
    fits = int(line.split("--batch-size ")[1].split()[0])
    from cnn.nn.memory import MAX_BATCH_BYTES, estimate

    model = Sequential(BIG, None)
    per_image, fixed = estimate(model.specs, model.input_shape, model.token_shapes, True, 1)
    assert 1 <= fits < 64 and fixed + fits * per_image <= MAX_BATCH_BYTES
    assert not (tmp_path / "w.npz").exists()


def test_inference_runs_in_chunks_that_fit_and_gives_the_same_answers(monkeypatch):
    from cnn.nn import memory

    model = Sequential("C(16,3,same)-BN-R(16)-R(32,s2)-GAP-FC10",
                       np.random.default_rng(0)).eval()
    x = np.random.default_rng(1).random((40, 28, 28, 1), dtype=np.float32)
    whole = model.logits(x)
    per_image, fixed = memory.estimate(model.specs, model.input_shape, model.token_shapes,
                                       False, 1)
    monkeypatch.setattr(memory, "MAX_BATCH_BYTES", fixed + 7 * per_image)
    sizes = []
    forward = model.forward
    monkeypatch.setattr(model, "forward", lambda b, *a, **k: sizes.append(len(b)) or
                        forward(b, *a, **k))
    monkeypatch.setattr(memory, "get_num_threads", lambda: 1)
    chunked = model.logits(x)
    assert max(sizes) == 7 and sum(sizes) == 40
    np.testing.assert_allclose(chunked, whole, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("model", ["C(8,5)-P2-C(16,3)-P2-FC128-FC10",
                                   "C(16,3,same)-BN-R(16)-R(32,s2)-R(64,s2)-GAP-FC10"])
def test_the_shipped_models_train_at_their_batch_sizes(model):
    from cnn.nn.memory import check_training_batch

    check_training_batch(Sequential(model, None), 256)  # no refusal of what ran before


# ------------------------------------------------------------------------------ the server
SMALL = ROOT / "weight_output" / "weight_detailsC(8,5)-P2-C(16,3)-P2-FC128-FC10.npz"


def start_server(*extra):
    """``cnn serve`` on a free port: ``(process, base URL, port)``."""
    import re

    proc = subprocess.Popen([sys.executable, "-m", "cnn", "serve", "--weights", str(SMALL),
                             "--port", "0", "--no-reject", *extra], cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for _ in range(5):
        line = proc.stdout.readline()
        match = re.match(r"open (http://127\.0\.0\.1:(\d+)/)", line)
        if match:
            return proc, match.group(1), int(match.group(2))
    proc.kill()
    raise AssertionError(f"no URL printed: {proc.stderr.read()}")


def stop_server(proc) -> str:
    import signal

    proc.send_signal(signal.SIGINT)
    assert proc.wait(15) == 0
    return proc.stderr.read()


def raw_request(port: int, data: bytes, read: bool = True) -> bytes:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        if not read:
            return b""
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
        return answer


def test_serve_answers_its_own_names_and_refuses_a_rebound_host():
    pytest.importorskip("fastapi")
    proc, url, port = start_server()
    try:
        get = "GET /api/health HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n"
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}"):
            assert raw_request(port, get.format(host).encode()).startswith(b"HTTP/1.1 200")
        for host in (f"evil.example:{port}", "attacker.test", f"127.0.0.1.evil.example:{port}"):
            answer = raw_request(port, get.format(host).encode())
            assert answer.startswith(b"HTTP/1.1 400") and b"Invalid host header" in answer
        # half a body, then the client goes away: no ASGI traceback in the log
        raw_request(port, (f"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                           "Content-Type: image/png\r\nContent-Length: 100000\r\n\r\n"
                           ).encode() + b"\x89PNG" * 250, read=False)
        import time

        time.sleep(0.5)
        assert raw_request(port, get.format(f"127.0.0.1:{port}").encode()).startswith(
            b"HTTP/1.1 200")  # still serving
    finally:
        err = stop_server(proc)
    assert "Traceback" not in err and "Exception in ASGI" not in err, err


def test_allow_host_opts_in_to_other_names():
    from cnn.server.hosts import allowed_hosts

    assert allowed_hosts("127.0.0.1") == ["localhost", "127.0.0.1", "[::1]"]
    assert "[::1]" in allowed_hosts("::1") and "*" in allowed_hosts("127.0.0.1", ["*"])
    assert "digits.example.org" in allowed_hosts("127.0.0.1", ["Digits.example.org"])
    wide = allowed_hosts("0.0.0.0")
    import socket

    assert socket.gethostname().lower() in wide


def test_the_app_with_a_host_list_refuses_other_hosts():
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from cnn.server.app import ModelStore, create_app
    from cnn.server.hosts import allowed_hosts

    app = create_app(ModelStore([str(SMALL)]), allowed_hosts=allowed_hosts("127.0.0.1"))
    client = TestClient(app, base_url="http://127.0.0.1:8000")
    assert client.get("/api/health").status_code == 200
    assert client.get("/api/health", headers={"Host": "[::1]:8000"}).status_code == 200
    assert client.get("/api/health", headers={"Host": "rebound.example"}).status_code == 400


# ------------------------------------------------------------------------------ the terminal
def test_the_menu_on_input_that_is_not_utf8_asks_again():
    result = subprocess.run([sys.executable, "-m", "cnn"], input=b"\xff\n0\n", cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=str(ROOT),
                                     PYTHONIOENCODING="utf-8:strict"),
                            capture_output=True, timeout=60)
    out, err = result.stdout.decode(), result.stderr.decode()
    assert result.returncode == 0 and "Traceback" not in err, err
    assert "that answer is not utf-8 text (byte b'\\xff'); type it again" in out


def test_ctrl_c_while_the_modules_import_is_status_130_without_a_traceback():
    result = cnn_run(["summary", "--model", TINY], env=dict(
        os.environ, PYTHONPATH=str(ROOT), CNN_TEST_SIGINT_AT="imports"))
    assert result.returncode == 130 and result.stderr == "cnn: interrupted\n"
    assert result.stdout == ""


# ------------------------------------------------------------------------------ weights files
def weights_with(tmp_path: Path, name: str = "w.npz", metadata=None, **arrays) -> Path:
    """A version-2 weights file of :data:`TINY` with ``metadata`` and some arrays replaced
    (written with np.savez directly, so float64 and any value survive)."""
    model = Sequential(TINY, np.random.default_rng(0))
    state = {k: v.astype(np.float32) for k, v in model.state_dict().items()}
    state.update(arrays)
    path = tmp_path / name
    np.savez(path, **state, model=np.array(TINY), format_version=np.array(2),
             normalization=np.array("x/255"),
             metadata=np.array(json.dumps(metadata if metadata is not None else {})))
    return path


@pytest.mark.parametrize("key, value, expected", [
    ("1.conv.weight", np.full((4, 1, 3, 3), 3e38, np.float32), "holds 3e+38 at index 0"),
    ("1.conv.weight", np.full((4, 1, 3, 3), 1e300), "holds 1e+300 at index 0"),
    ("3.fc.bias", np.array([0.0] * 9 + [-2e6], np.float32), "holds -2e+06 at index 9"),
])
def test_finite_but_broken_weights_are_refused_naming_the_array(key, value, expected, tmp_path,
                                                                capsys):
    path = weights_with(tmp_path, **{key: value})
    assert main(["summary", "--weights", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"array '{key}' {expected}" in err


def test_a_negative_running_variance_is_refused(tmp_path):
    model = Sequential("C(4,3)-BN-P2-FC10", np.random.default_rng(0))
    state = model.state_dict()
    state["2.bn.running_var"] = np.array([1.0, -0.5, 1.0, 1.0], np.float32)
    path = tmp_path / "bn.npz"
    np.savez(path, **state, model=np.array("C(4,3)-BN-P2-FC10"), format_version=np.array(2),
             metadata=np.array("{}"))
    assert "array '2.bn.running_var' holds -0.5 at index 1; a batch norm's running variance " \
           "is never negative" in one_line(path)


def test_a_model_that_loads_predicts_finite_probabilities_at_the_bounds():
    from cnn.nn.weight_limits import MAX_ABS_WEIGHT, weight_problem

    assert weight_problem("1.conv.weight", np.array([MAX_ABS_WEIGHT, -MAX_ABS_WEIGHT])) is None
    assert weight_problem("x.running_var", np.array([0.0, MAX_ABS_WEIGHT ** 2])) is None
    shipped = sorted((ROOT / "weight_output").glob("*.npz"))
    assert shipped and all(load_model(p) for p in shipped)  # no shipped file is refused


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3), max_leaves=8)
META_KEYS = ["accuracy", "seconds_per_epoch", "epochs", "batch_size", "lr", "seed", "date"]


@FUZZ
@given(metadata=st.fixed_dictionaries({}, optional={k: json_values for k in META_KEYS}))
def test_summary_prints_any_metadata_in_one_piece(metadata, tmp_path_factory, capsys):
    metadata.setdefault("accuracy", 0.5)
    path = weights_with(tmp_path_factory.mktemp("meta"), metadata=metadata)
    assert main(["summary", "--weights", str(path)]) == 0
    out = capsys.readouterr().out
    control = [c for c in out if ord(c) < 32 and c != "\n" or 0x7f <= ord(c) < 0xa0]
    assert not control, f"raw control characters printed: {control}"


def test_escape_sequences_in_metadata_and_names_are_shown_escaped(tmp_path, capsys):
    path = weights_with(tmp_path, metadata={"accuracy": 0.9, "date": "\x1b[2J\x1b]0;pwned\x07",
                                            "lr": "\u202eevil"})
    assert main(["summary", "--weights", str(path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "\\x1b[2J\\x1b]0;pwned\\x07" in out and "\\u202eevil" in out
    bad = weights_with(tmp_path, "bad.npz")  # a model string holding an escape sequence
    with np.load(bad) as d:
        arrays = dict(d)
    arrays["model"] = np.array("C(4,3)\x1b[2J-FC10")
    np.savez(bad, **arrays)
    assert main(["summary", "--weights", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\\x1b[2J" in err and err.count("\n") == 1


@pytest.mark.parametrize("model", ["FC128-D0.5-A2-FC10", "C(8,3)-FC64-D0.5-C(8,5,s2)-FC10",
                                   "GAP-D0.1-R(32,s2)-FC10"])
def test_a_spatial_token_after_fc_and_dropout_is_one_line(model):
    with pytest.raises(UserError, match="whose output is a vector"):
        Sequential(model, None)


def test_the_server_computes_at_most_a_few_requests_at_once(monkeypatch):
    pytest.importorskip("fastapi")
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from fastapi.testclient import TestClient

    from cnn.server import app as app_module
    from cnn.server.memory import MAX_AT_ONCE

    running, most = [0], [0]
    lock = threading.Lock()

    def slow_predict(entry, data, name, *rest):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return {"digit": 1}

    monkeypatch.setattr(app_module, "predict_image", slow_predict)
    client = TestClient(app_module.create_app(app_module.ModelStore([str(SMALL)])))
    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda i: client.post(
            "/api/predict", content=b"x", headers={"Content-Type": "image/png"}).status_code,
            range(32)))
    assert codes == [200] * 32 and 1 <= most[0] <= MAX_AT_ONCE < 16


GLIBC_PROBE = """
import sys
from pathlib import Path
import numpy as np
from cnn.parallel.allocator import keep_freed_memory
from cnn.server.memory import release_memory_settings
keep_freed_memory()  # what cnn's first layer call does in every process
if sys.argv[1] == "serve" and not release_memory_settings():
    print("no glibc"); sys.exit()
pages = lambda: int(Path("/proc/self/statm").read_text().split()[1])
before = pages()
a = [np.ones(4 * 2**20, np.float32) for _ in range(8)]  # 8 x 16 MiB on the heap, touched
while a:
    a.pop()  # the last first: each freed block joins the heap's free top
print(pages() - before)
"""


def test_serve_gives_freed_memory_back_above_its_trim_threshold():
    def kept(mode: str) -> str:  # pages still resident after 8 x 16 MiB are freed
        return subprocess.run([sys.executable, "-c", GLIBC_PROBE, mode], capture_output=True,
                              text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(ROOT))
                              ).stdout.strip()

    served = kept("serve")
    if served == "no glibc":
        pytest.skip("no glibc mallopt here")
    # the server trims the heap's free top each time it reaches 64 MiB: after 4 and after 8
    # blocks, so next to nothing stays; training keeps all 128 MiB, by design
    # (cnn.parallel.allocator)
    assert int(served) < 2048
    assert int(kept("train")) >= 8 * 4000


@pytest.mark.slow
def test_the_fuzz_run_is_clean():
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "fuzz.py"), "--budget",
                             "120", "--json"], capture_output=True, text=True, timeout=900,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == 9 and all(r["tried"] > 0 for r in rows)
    assert [r for r in rows if r["clean"] != r["tried"]] == [] and result.returncode == 0


def test_folder_training_skips_a_radiance_bomb_with_its_line(tmp_path):
    import shutil

    from cnn.data.folders import load_folder

    (tmp_path / "7").mkdir()
    (tmp_path / "7" / "bomb.png").write_bytes(radiance_hdr(12_000, 12_000))
    shutil.copy(sorted((ROOT / "custom_test_images").glob("7_*.png"))[0], tmp_path / "7" / "a.png")
    data = load_folder(tmp_path)
    assert len(data.labels) == 1 and len(data.skipped) == 1
    assert "declares 144,000,000 pixels" in data.skipped[0][1]


def test_a_radiance_header_hiding_its_size_is_not_decoded(monkeypatch):
    import cv2

    from cnn.vision.decode import decode_image_bytes

    monkeypatch.setattr(cv2, "imdecode", lambda *a: pytest.fail("decoded an unchecked file"))
    hidden = b"#?RADIANCE\n#" + b"x" * 70_000 + b"\n\n-Y 12000 +X 12000\n" + b"\0" * 64
    with pytest.raises(UserError, match="a format whose size cannot be checked"):
        decode_image_bytes(hidden, "hidden.hdr")


def test_opencv_refuses_more_than_40_megapixels_itself():
    code = ("import numpy as np, sys; sys.path.insert(0, '.');"
            "import cnn.vision.decode, cv2;"  # sets OPENCV_IO_MAX_IMAGE_PIXELS before decoding
            "from test_bad_input_2 import radiance_hdr;"
            "d = np.frombuffer(radiance_hdr(12000, 12000), np.uint8)\n"
            "try:\n    cv2.imdecode(d, cv2.IMREAD_UNCHANGED); print('decoded')\n"
            "except cv2.error:\n    print('refused')\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT / "tests", timeout=60,
                            capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert result.stdout.strip() == "refused", result.stderr
