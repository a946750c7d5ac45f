"""ONNX export and import, checked against ONNX Runtime on real MNIST test images.

Skipped where ``onnx`` or ``onnxruntime`` is missing, except under CI (``$CI`` set), where
they are installed through the test extras and a missing one is an error.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

if os.environ.get("CI"):
    import onnx
    import onnxruntime as ort
else:
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from cnn.cli import main
from cnn.errors import UserError
from cnn.io.catalog import list_weights
from cnn.io.onnx_export import build_onnx, export_onnx, to_nchw
from cnn.io.weights import load_model
from cnn.nn import model_string as P
from cnn.nn.losses import softmax
from cnn.nn.model import Sequential

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "weight_output").glob("*.npz"))
# Every token kind, with stride, padding, ceil-mode pooling overhangs (26 -> P3 -> 9 -> A2 -> 5,
# 26 -> P2 -> 13 -> P2 -> 7), BN after C and after FC, both residual shortcuts, dropout, GAP.
TOKEN_MODELS = [
    "C(4,3,s2,same)-BN-P2-A2-FC10",
    "C(4,5,p1)-P3-C(6,3)-A2-FC16-BN-D0.3-FC10",
    "C(8,3,same)-BN-R(8)-R(16,s2)-GAP-FC10",
    "C(4,3)-R(6)-A3-FC12-FC10",
    "C(3,3)-D0.5-GAP-FC10",
    "C(4,3)-P2-P2-FC10",
    "C(5,4,s3,p2)-P2-FC24-FC10",
]


@pytest.fixture(scope="module")
def images(subset):
    """The 1,000 committed MNIST test images, uint8 (1000, 28, 28)."""
    return subset[1][0]


def random_model(model_string: str, seed: int = 0) -> Sequential:
    """A model with random weights and random batch-norm statistics (so BN is not the
    identity), in eval mode."""
    rng = np.random.default_rng(seed)
    model = Sequential(model_string, rng=rng)
    for module in model.modules():
        if "running_var" in module.buffers:
            c = len(module.buffers["running_var"])
            module.buffers["running_var"] = rng.uniform(0.5, 2.0, c).astype(np.float32)
            module.buffers["running_mean"] = rng.normal(0, 0.5, c).astype(np.float32)
            sign = rng.choice([-1.0, 1.0], c)
            module.params["weight"] = (rng.uniform(0.5, 1.5, c) * sign).astype(np.float32)
            module.params["bias"] = rng.normal(0, 0.3, c).astype(np.float32)
    return model.eval()


def run_onnxruntime(proto_or_path, images: np.ndarray) -> np.ndarray:
    source = proto_or_path.SerializeToString() if hasattr(proto_or_path, "graph") \
        else str(proto_or_path)
    session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: to_nchw(images)})[0]


def assert_same_logits(ours: np.ndarray, theirs: np.ndarray, atol: float = 1e-4) -> None:
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).max() <= atol
    np.testing.assert_array_equal(ours.argmax(1), theirs.argmax(1))


# ----------------------------------------------------------------------------- export
def test_token_models_cover_every_token_kind():
    kinds = {type(s) for m in TOKEN_MODELS for s in P.parse_model(m)}
    assert kinds == set(P.Spec.__args__)
    residuals = [s for m in TOKEN_MODELS for s in P.parse_model(m) if isinstance(s, P.Residual)]
    assert any(s.stride == 1 for s in residuals) and any(s.stride == 2 for s in residuals)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_model_export_matches_onnxruntime_on_1000_mnist_images(path, images, tmp_path):
    model = load_model(path)
    out = export_onnx(model, tmp_path / "model.onnx")
    onnx.checker.check_model(onnx.load(str(out)), full_check=True)
    assert_same_logits(model.logits(images), run_onnxruntime(out, images))


def test_shipped_models_are_all_tested():
    assert len(SHIPPED) >= 3
    assert {p.name for p in SHIPPED} == {w.path.name for w in list_weights(ROOT / "weight_output")}


@pytest.mark.parametrize("model_string", TOKEN_MODELS)
def test_every_token_kind_exports_to_onnxruntime_logits(model_string, images):
    model = random_model(model_string)
    proto = build_onnx(model)
    assert_same_logits(model.logits(images), run_onnxruntime(proto, images))


def test_export_signature_is_nchw_input_with_dynamic_batch_and_logits_output():
    proto = build_onnx(random_model("C(4,3)-P2-FC10"))
    (inp,), (out,) = proto.graph.input, proto.graph.output
    assert inp.name == "input" and out.name == "logits"
    assert inp.type.tensor_type.elem_type == TensorProto.FLOAT
    dims = inp.type.tensor_type.shape.dim
    assert dims[0].dim_param == "N" and [d.dim_value for d in dims[1:]] == [1, 28, 28]
    ops = {n.op_type for n in proto.graph.node}
    assert "Dropout" not in ops and "Gemm" in ops


def test_export_drops_dropout_and_batch_of_one_runs():
    model = random_model("C(3,3)-D0.5-GAP-FC10")
    proto = build_onnx(model)
    assert "Dropout" not in {n.op_type for n in proto.graph.node}
    x = np.full((1, 28, 28), 200, np.uint8)
    assert_same_logits(model.logits(x), run_onnxruntime(proto, x))


def test_export_softmax_gives_probabilities(images):
    model = random_model("C(4,3)-P2-FC16-FC10", seed=3)
    proto = build_onnx(model, softmax=True)
    assert proto.graph.output[0].name == "probabilities"
    probs = run_onnxruntime(proto, images[:100])
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    np.testing.assert_allclose(probs, softmax(model.logits(images[:100])), atol=1e-6)


def test_export_metadata_explains_the_file():
    model = random_model("C(8,3,same)-BN-R(8)-D0.25-GAP-FC10")
    model.metadata = {"epochs": 3, "batch_size": 64, "seed": 7, "accuracy": 0.99}
    props = {p.key: p.value for p in build_onnx(model).metadata_props}
    assert props["model"] == "C(8,3,same)-BN-R(8)-D0.25-GAP-FC10"
    assert props["normalization"].startswith("x/255") and "white digit" in props["normalization"]
    import json

    assert json.loads(props["metadata"]) == model.metadata


@pytest.mark.parametrize("opset", [11, 13, 17])
def test_export_opsets_run_in_onnxruntime(opset, images):
    model = random_model("C(4,3,s2,same)-BN-P2-A2-FC10", seed=opset)
    proto = build_onnx(model, opset=opset)
    assert proto.opset_import[0].version == opset
    assert_same_logits(model.logits(images[:200]), run_onnxruntime(proto, images[:200]))


def test_export_refuses_to_overwrite_and_replaces_with_overwrite(tmp_path, capsys):
    weights = str(SHIPPED[0])
    out = tmp_path / "model.onnx"
    out.write_bytes(b"precious")
    assert main(["export", "--weights", weights, "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "already exists" in err and "--overwrite" in err
    assert out.read_bytes() == b"precious"
    assert list(tmp_path.iterdir()) == [out]  # no temporary file left behind
    assert main(["export", "--weights", weights, "--out", str(out), "--overwrite"]) == 0
    text = capsys.readouterr().out
    assert "onnxruntime" in text and "same top-1 on 64/64" in text
    onnx.checker.check_model(onnx.load(str(out)), full_check=True)


def test_export_rejects_an_opset_out_of_range(tmp_path, capsys):
    out = tmp_path / "m.onnx"
    assert main(["export", "--weights", str(SHIPPED[0]), "--out", str(out), "--opset", "5"]) == 2
    assert "--opset 5 is out of range" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("name,message", [("model.txt", "should end in .onnx"),
                                          ("folder.onnx", "is a folder")])
def test_export_rejects_a_bad_out_path_in_one_line(name, message, tmp_path, capsys):
    (tmp_path / "folder.onnx").mkdir()
    assert main(["export", "--weights", str(SHIPPED[0]), "--out", str(tmp_path / name)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.onnx"]


# ------------------------------------------------------------------------ round trip
@pytest.mark.parametrize("model_string", TOKEN_MODELS)
def test_round_trip_gives_the_same_model_string_and_logits(model_string, images, tmp_path):
    model = random_model(model_string, seed=1)
    model.metadata = {"epochs": 2, "seed": 1}
    path = export_onnx(model, tmp_path / "m.onnx")
    again = load_model(path)
    assert again.model_string == model.model_string  # dropout restored from metadata_props
    assert again.metadata["epochs"] == 2 and again.metadata["source"] == "onnx"
    assert not again.training
    np.testing.assert_allclose(again.logits(images), model.logits(images), rtol=0, atol=1e-6)


def test_round_trip_of_softmax_export_keeps_logits(images, tmp_path):
    model = random_model("C(4,3)-P2-FC10", seed=2)
    again = load_model(export_onnx(model, tmp_path / "m.onnx", softmax=True))
    assert again.metadata["onnx_softmax"] is True
    np.testing.assert_allclose(again.logits(images), model.logits(images), rtol=0, atol=1e-6)


# ------------------------------------------------ hand-built graphs in PyTorch's layout
class GraphBuilder:
    """A tiny helper for ONNX graphs written the way PyTorch's exporter writes them."""

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.n = [], [], 0

    def const(self, array) -> str:
        name = f"w{len(self.inits)}"
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def randn(self, *shape, scale=None) -> str:
        scale = scale or np.sqrt(2.0 / np.prod(shape[1:]))
        return self.const((self.rng.standard_normal(shape) * scale).astype(np.float32))

    def op(self, op_type, inputs, **attrs) -> str:
        self.n += 1
        out = f"/{op_type}_{self.n}/output"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=f"/{op_type}_{self.n}",
                                           **attrs))
        return out

    def conv(self, x, cin, f, k, stride=1, pad=0, bias=True):
        inputs = [x, self.randn(f, cin, k, k)]
        if bias:
            inputs.append(self.const(self.rng.normal(0, 0.1, f).astype(np.float32)))
        return self.op("Conv", inputs, kernel_shape=[k, k], strides=[stride, stride],
                       pads=[pad] * 4, dilations=[1, 1], group=1)

    def bn(self, x, c, eps=1e-5):
        r = self.rng
        arrays = [r.uniform(0.5, 1.5, c), r.normal(0, 0.2, c), r.normal(0, 0.3, c),
                  r.uniform(0.5, 2.0, c)]
        return self.op("BatchNormalization", [x] + [self.const(a.astype(np.float32))
                                                    for a in arrays], epsilon=eps)

    def gemm(self, x, d, u):
        return self.op("Gemm", [x, self.randn(u, d), self.const(np.zeros(u, np.float32))],
                       alpha=1.0, beta=1.0, transB=1)

    def model(self, out, input_shape=("N", 1, 28, 28), classes=10, opset=17, final=None):
        x = helper.make_tensor_value_info("input.1", TensorProto.FLOAT, list(input_shape))
        self.nodes[-1].output[0] = final or "logits"
        y = helper.make_tensor_value_info(final or "logits", TensorProto.FLOAT, ["N", classes])
        graph = helper.make_graph(self.nodes, "torch_jit", [x], [y], self.inits)
        opsets = [helper.make_opsetid("", opset)]
        proto = helper.make_model(graph, opset_imports=opsets, producer_name="pytorch",
                                  ir_version=helper.find_min_ir_version_for(opsets))
        onnx.checker.check_model(proto, full_check=True)
        return proto


def lenet_graph(reshape=False, dropout=True, softmax_end=False):
    """conv5 - relu - maxpool2 - conv5 - BN - relu - maxpool2 - flatten - gemm - relu -
    dropout - gemm, as ``torch.onnx.export`` of a LeNet in eval mode (BN kept)."""
    g = GraphBuilder(0)
    x = g.op("MaxPool", [g.op("Relu", [g.conv("input.1", 1, 6, 5)])], kernel_shape=[2, 2],
             strides=[2, 2], pads=[0, 0, 0, 0], ceil_mode=0)
    x = g.op("Relu", [g.bn(g.conv(x, 6, 16, 5), 16)])
    x = g.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])
    if reshape == "view":  # x.view(x.size(0), -1) with a dynamic batch axis
        n = g.op("Gather", [g.op("Shape", [x]), g.const(np.array(0, np.int64))], axis=0)
        target = g.op("Concat", [g.op("Unsqueeze", [n, g.const(np.array([0], np.int64))]),
                                 g.const(np.array([-1], np.int64))], axis=0)
        x = g.op("Reshape", [x, target])
    elif reshape:
        x = g.op("Reshape", [x, g.const(np.array([-1, 256], np.int64))])
    else:
        x = g.op("Flatten", [x], axis=1)
    x = g.op("Relu", [g.gemm(x, 256, 32)])
    if dropout:
        x = g.op("Dropout", [x])
    x = g.gemm(x, 32, 10)
    if softmax_end:
        x = g.op("Softmax", [x], axis=1)
    return g.model(x, final="probs" if softmax_end else None)


def resnet_graph(folded: bool):
    """stem conv(3, pad 1) - relu, a basic block with identity shortcut, one with a stride-2
    1x1 projection, ceil-mode average pool, GAP - flatten - gemm. ``folded``: the batch norms
    folded into the convolutions (as PyTorch's eval-mode export does); else BN nodes."""
    g = GraphBuilder(1)

    def conv_bn(x, cin, f, k, s, p):
        if folded:
            return g.conv(x, cin, f, k, s, p, bias=True)
        return g.bn(g.conv(x, cin, f, k, s, p, bias=False), f)

    x = g.op("Relu", [g.conv("input.1", 1, 8, 3, 1, 1)])
    h = g.op("Relu", [conv_bn(x, 8, 8, 3, 1, 1)])
    x = g.op("Relu", [g.op("Add", [conv_bn(h, 8, 8, 3, 1, 1), x])])
    h = g.op("Relu", [conv_bn(x, 8, 12, 3, 2, 1)])
    x = g.op("Relu", [g.op("Add", [conv_bn(h, 12, 12, 3, 1, 1), conv_bn(x, 8, 12, 1, 2, 0)])])
    x = g.op("AveragePool", [x], kernel_shape=[3, 3], strides=[3, 3], ceil_mode=1)  # 14 -> 5
    x = g.op("Flatten", [g.op("GlobalAveragePool", [x])], axis=1)
    return g.model(g.gemm(x, 12, 10))


def keras_graph():
    """The layout tf2onnx writes for a Keras model: NHWC input transposed to NCHW, BN with
    epsilon 1e-3, NCHW -> NHWC transpose before flatten, MatMul + Add."""
    g = GraphBuilder(2)
    x = g.op("Transpose", ["input.1"], perm=[0, 3, 1, 2])
    x = g.op("Relu", [g.bn(g.conv(x, 1, 4, 3, 2, 1), 4, eps=1e-3)])  # 14
    x = g.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])  # 7
    x = g.op("Reshape", [g.op("Transpose", [x], perm=[0, 2, 3, 1]),
                         g.const(np.array([-1, 196], np.int64))])
    x = g.op("Add", [g.op("MatMul", [x, g.randn(196, 10, scale=0.1)]),
                     g.const(np.linspace(-0.2, 0.2, 10).astype(np.float32))])
    return g.model(x, input_shape=("N", 28, 28, 1))


def onnxruntime_on(proto, images, nhwc=False):
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    x = to_nchw(images)
    if nhwc:
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    return session.run(None, {"input.1": x})[0]


@pytest.mark.parametrize("name,proto,expected", [
    ("lenet", lambda: lenet_graph(), "C(6,5)-P2-C(16,5)-BN-P2-FC32-FC10"),
    ("lenet_reshape_no_dropout", lambda: lenet_graph(reshape=True, dropout=False),
     "C(6,5)-P2-C(16,5)-BN-P2-FC32-FC10"),
    ("lenet_view", lambda: lenet_graph(reshape="view"), "C(6,5)-P2-C(16,5)-BN-P2-FC32-FC10"),
    ("resnet_bn", lambda: resnet_graph(folded=False), "C(8,3,p1)-R(8)-R(12,s2)-A3-GAP-FC10"),
    ("resnet_folded_bn", lambda: resnet_graph(folded=True),
     "C(8,3,p1)-R(8)-R(12,s2)-A3-GAP-FC10"),
])
def test_import_of_pytorch_layout_graph_gives_onnxruntime_logits(name, proto, expected, images,
                                                                   tmp_path):
    proto = proto()
    path = tmp_path / f"{name}.onnx"
    onnx.save(proto, str(path))
    model = load_model(path)
    assert P.format_model(P.parse_model(expected)) == model.model_string
    assert_same_logits(model.logits(images), onnxruntime_on(proto, images))


def test_import_of_softmax_graph_gives_its_probabilities(images, tmp_path):
    proto = lenet_graph(softmax_end=True)
    onnx.save(proto, str(tmp_path / "p.onnx"))
    model = load_model(tmp_path / "p.onnx")
    assert model.metadata["onnx_softmax"] is True
    np.testing.assert_allclose(model.predict_proba(images), onnxruntime_on(proto, images),
                               atol=1e-5)


def test_import_of_keras_layout_graph_gives_onnxruntime_logits(images, tmp_path):
    proto = keras_graph()
    onnx.save(proto, str(tmp_path / "k.onnx"))
    model = load_model(tmp_path / "k.onnx")
    assert model.model_string == "C(4,3,s2,same)-BN-P2-FC10"
    assert_same_logits(model.logits(images), onnxruntime_on(proto, images, nhwc=True))


def one_line_error(path) -> str:
    with pytest.raises(UserError) as info:
        load_model(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_unsupported_operator_gives_one_line_naming_operator_and_node(tmp_path, capsys):
    g = GraphBuilder(3)
    x = g.op("LeakyRelu", [g.conv("input.1", 1, 4, 3)], alpha=0.1)
    x = g.gemm(g.op("Flatten", [x], axis=1), 4 * 26 * 26, 10)
    path = tmp_path / "leaky.onnx"
    onnx.save(g.model(x), str(path))
    message = one_line_error(path)
    assert "unsupported ONNX operator 'LeakyRelu'" in message and "/LeakyRelu_2" in message
    # the command line: one line on stderr, status 2, no traceback, nothing printed as loaded
    code = main(["summary", "--weights", str(path)])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err.count("\n") == 1 and "LeakyRelu" in captured.err
    assert "Traceback" not in captured.err


def test_floor_mode_pooling_that_drops_an_edge_is_refused_by_name(tmp_path):
    g = GraphBuilder(4)
    x = g.op("Relu", [g.conv("input.1", 1, 4, 3)])  # 26
    x = g.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])  # 13
    x = g.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])  # 6 (floor): not ours
    x = g.gemm(g.op("Flatten", [x], axis=1), 4 * 6 * 6, 10)
    onnx.save(g.model(x), str(tmp_path / "floor.onnx"))
    message = one_line_error(tmp_path / "floor.onnx")
    assert "MaxPool node '/MaxPool_4'" in message and "ceil mode" in message


def test_convolution_without_relu_is_refused_by_name(tmp_path):
    g = GraphBuilder(5)
    x = g.conv("input.1", 1, 4, 3)
    x = g.gemm(g.op("Flatten", [x], axis=1), 4 * 26 * 26, 10)
    onnx.save(g.model(x), str(tmp_path / "norelu.onnx"))
    message = one_line_error(tmp_path / "norelu.onnx")
    assert "/Conv_1" in message and "Relu" in message


def test_unreadable_onnx_file_is_one_line(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"this is not a protobuf \xff\xfe")
    assert "cannot read ONNX file" in one_line_error(bad)
    assert "not found" in one_line_error(tmp_path / "missing.onnx")


def test_onnx_file_with_external_data_is_refused(tmp_path):
    path = tmp_path / "ext.onnx"
    onnx.save_model(lenet_graph(), str(path), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="ext.data", size_threshold=0)
    assert "external data" in one_line_error(path)


def test_predict_and_summary_accept_an_onnx_file(tmp_path, capsys):
    out = tmp_path / "shipped.onnx"
    assert main(["export", "--weights", str(SHIPPED[-1]), "--out", str(out), "-q"]) == 0
    capsys.readouterr()
    assert main(["summary", "--weights", str(out)]) == 0
    assert load_model(SHIPPED[-1]).model_string in capsys.readouterr().out
    samples = sorted((ROOT / "custom_test_images").glob("*.png"))[:6]
    assert main(["predict", "--weights", str(out), "-q", *map(str, samples)]) in (0, 1)
    onnx_out = capsys.readouterr().out
    assert main(["predict", "--weights", str(SHIPPED[-1]), "-q", *map(str, samples)]) in (0, 1)
    npz_out = capsys.readouterr().out
    assert "0_2.png" in onnx_out  # same predictions and confidences, line for line
    assert onnx_out.replace(out.name, "W") == npz_out.replace(SHIPPED[-1].name, "W")


def test_evaluate_and_visualize_accept_an_onnx_file(tmp_path, capsys):
    import json

    out = tmp_path / "m.onnx"
    assert main(["export", "--weights", str(SHIPPED[0]), "--out", str(out), "-q"]) == 0
    reports = []
    for weights in (out, SHIPPED[0]):
        capsys.readouterr()
        assert main(["evaluate", "--weights", str(weights), "--data",
                     str(ROOT / "tests" / "data" / "mnist_subset.npz"), "--json"]) == 0
        reports.append(json.loads(capsys.readouterr().out))
    assert reports[0]["n"] == 1000 and reports[0]["accuracy"] == reports[1]["accuracy"]
    assert reports[0]["confusion_matrix"] == reports[1]["confusion_matrix"]
    assert main(["visualize", "--weights", str(out), "--layer", "1", "--channel", "0",
                 "--steps", "5", "--out", str(tmp_path / "vis"), "-q"]) == 0
    assert (tmp_path / "vis" / "feature_visualize_0.png").is_file()


# --------------------------------------------------------------- torch.onnx.export
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the TorchScript exporter's notice
def test_import_of_a_torch_onnx_export_gives_torch_logits(images, tmp_path):
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class Basic(nn.Module):
        def __init__(self, cin, f, stride):
            super().__init__()
            self.c1 = nn.Conv2d(cin, f, 3, stride, 1, bias=False)
            self.b1 = nn.BatchNorm2d(f)
            self.c2 = nn.Conv2d(f, f, 3, 1, 1, bias=False)
            self.b2 = nn.BatchNorm2d(f)
            self.short = (nn.Sequential(nn.Conv2d(cin, f, 1, stride, bias=False),
                                        nn.BatchNorm2d(f))
                          if stride != 1 or cin != f else nn.Identity())

        def forward(self, x):
            h = torch.relu(self.b1(self.c1(x)))
            return torch.relu(self.b2(self.c2(h)) + self.short(x))

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                        nn.MaxPool2d(2, ceil_mode=True), Basic(8, 8, 1), Basic(8, 16, 2),
                        nn.AvgPool2d(2, ceil_mode=True), nn.Flatten(), nn.Linear(16 * 4 * 4, 32),
                        nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 10))
    with torch.no_grad():  # non-trivial running statistics
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    net = net.float().eval()  # float32 whatever default dtype other tests set
    path = tmp_path / "torch.onnx"
    try:
        torch.onnx.export(net, torch.zeros(2, 1, 28, 28, dtype=torch.float32), str(path), input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "N"}},
                          dynamo=False)
    except Exception as e:  # an exporter this torch lacks
        pytest.skip(f"torch.onnx.export (TorchScript exporter) unavailable: {e}")
    model = load_model(path)
    assert model.model_string == "C(8,3,same)-P2-R(8)-R(16,s2)-A2-FC32-FC10"
    with torch.no_grad():
        expected = net(torch.from_numpy(to_nchw(images))).numpy()
    assert_same_logits(model.logits(images), expected)
    assert_same_logits(run_onnxruntime(path, images), expected)


def test_shape_arithmetic_with_a_missing_input_gives_one_line(tmp_path):
    # Found by benchmarks/fuzz.py: a Gather in the Reshape's shape path with one input only
    # crashed with IndexError instead of a one-line error.
    proto = lenet_graph(reshape="view")
    gather = next(n for n in proto.graph.node if n.op_type == "Gather")
    del gather.input[1:]
    path = tmp_path / "gather.onnx"
    path.write_bytes(proto.SerializeToString())
    assert "Gather needs 2" in one_line_error(path)
