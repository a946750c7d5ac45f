"""``cnn export --web DIR``: the folder it writes, the weights header against the model, and its
refusals (fast; the browser runs the page in tests/test_web_export_browser.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cnn.cli import main
from cnn.io.web_export import EXPORT_FILES, build_header, export_web, read_weights_script
from cnn.nn.model import Sequential

ROOT = Path(__file__).resolve().parents[1]
PLAIN = ROOT / "weight_output" / "weight_detailsC(8,5)-P2-C(16,3)-P2-FC128-FC10.npz"


def test_export_writes_the_page_and_the_default_models_weights(tmp_path, capsys):
    from cnn.io.catalog import default_weights
    from cnn.io.weights import load_model

    out = tmp_path / "site"
    assert main(["export", "--web", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(EXPORT_FILES)
    model = load_model(default_weights())
    header, values = read_weights_script(out / "weights.js")
    assert header["model"] == model.model_string
    assert header["source"] == default_weights().name
    assert header["input"] == [28, 28, 1] and header["classes"] == 10
    assert [t["label"].split()[1] for t in header["tokens"]] == str(model.model_string).split("-")
    assert values.dtype == np.float32 and values.size == header["values"]
    assert "index.html" in capsys.readouterr().out
    html = (out / "index.html").read_text()
    assert html.index("weights.js") < html.index("cnn.js") < html.index("page.js")


def _arrays(header, values):
    """Every (token number, layer name, key) -> its array, from the header's offsets."""
    found = {}
    for token in header["tokens"]:
        for layer in token["layers"]:
            for key in ("weight", "bias", "scale", "shift"):
                if layer.get(key):
                    offset, length = layer[key]
                    found[(token["number"], layer["name"], key)] = values[offset:offset + length]
    return found


def test_header_arrays_are_the_models_in_engine_layout(tmp_path):
    from cnn.io.weights import load_model

    model = load_model(PLAIN)
    export_web(model, tmp_path / "site")
    header, values = read_weights_script(tmp_path / "site" / "weights.js")
    arrays = _arrays(header, values)
    conv = model.block(1).children["conv"]
    assert np.array_equal(arrays[(1, "conv", "weight")], conv.params["weight"].ravel())
    assert np.array_equal(arrays[(5, "fc", "weight")],
                          model.block(5).children["fc"].params["weight"].ravel())
    assert sum(a.size for a in arrays.values()) == values.size == model.num_params()
    layers = {t["number"]: [(la["type"], la.get("kernel")) for la in t["layers"]]
              for t in header["tokens"]}
    assert layers[1] == [("conv", 5)] and layers[2] == [("maxpool", None), ("relu", None)]
    assert [t["relu_deferred"] for t in header["tokens"]] == [True, False, True, False, False,
                                                               False]
    assert [t["map"] for t in header["tokens"]] == [True] * 4 + [False] * 2


def test_batch_norm_is_written_as_its_eval_mode_scale_and_shift():
    model = Sequential("C(4,3)-BN-R(6,s2)-D0.3-A2-GAP-FC10", rng=np.random.default_rng(0))
    for m in model.modules():
        if "running_var" in m.buffers:
            m.buffers["running_var"] = np.linspace(0.5, 2, m.channels).astype(np.float32)
            m.buffers["running_mean"] = np.linspace(-1, 1, m.channels).astype(np.float32)
    model.eval()
    header, data = build_header(model)
    arrays = _arrays(header, np.frombuffer(data, "<f4"))
    bn = model.block(2).children["bn"]
    x = np.random.default_rng(1).normal(size=(3, 26, 26, 4)).astype(np.float32)
    ours = x * arrays[(2, "bn", "scale")] + arrays[(2, "bn", "shift")]
    np.testing.assert_allclose(ours, bn.forward(x), rtol=1e-6, atol=1e-6)
    kinds = [[la["type"] for la in t["layers"]] for t in header["tokens"]]
    assert kinds[2] == ["conv", "bn", "relu", "conv", "bn", "conv", "bn", "relu"]  # with proj
    assert header["tokens"][2]["type"] == "residual"
    assert kinds[3:] == [["identity"], ["avgpool"], ["gap"], ["dense"]]


def test_an_existing_folder_is_refused_and_replaced_only_with_overwrite(tmp_path, capsys):
    out = tmp_path / "site"
    weights = str(PLAIN)
    assert main(["export", "--web", str(out), "--weights", weights]) == 0
    before = (out / "weights.js").read_text()
    assert main(["export", "--web", str(out), "--weights", weights]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "already exists" in err and "--overwrite" in err
    other = str(ROOT / "weight_output" /
                "weight_detailsC(8,5)-P2-C(16,3)-P2-C(32,3)-P2-FC256-FC10.npz")
    assert main(["export", "--web", str(out), "--weights", other, "--overwrite"]) == 0
    assert (out / "weights.js").read_text() != before
    assert "FC256" in read_weights_script(out / "weights.js")[0]["model"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_overwrite_never_replaces_a_folder_that_is_not_an_export(tmp_path, capsys):
    out = tmp_path / "notes"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    assert main(["export", "--web", str(out), "--weights", str(PLAIN), "--overwrite"]) == 2
    assert "not a previous web export" in capsys.readouterr().err
    assert (out / "mine.txt").read_text() == "keep me"


def test_an_empty_folder_is_used(tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    assert main(["export", "--web", str(out), "--weights", str(PLAIN), "-q"]) == 0
    assert (out / "index.html").is_file()


@pytest.mark.parametrize("bad, message", [
    ("missing.npz", "not found"),
    ("garbage.npz", "garbage.npz"),
])
def test_bad_weights_give_one_error_line(tmp_path, capsys, bad, message):
    (tmp_path / "garbage.npz").write_bytes(b"not a zip file at all")
    out = tmp_path / "site"
    assert main(["export", "--web", str(out), "--weights", str(tmp_path / bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cnn: error:") and err.count("\n") == 0 and message in err
    assert not out.exists()


def test_web_and_out_are_one_or_the_other(tmp_path, capsys):
    assert main(["export", "--weights", str(PLAIN)]) == 2
    assert main(["export", "--web", str(tmp_path / "s"), "--out", str(tmp_path / "m.onnx"),
                 "--weights", str(PLAIN)]) == 2
    err = capsys.readouterr().err
    assert err.count("--out FILE.onnx (ONNX) or --web DIR") == 2


def test_a_file_in_place_of_the_folder_is_refused(tmp_path, capsys):
    (tmp_path / "site").write_text("x")
    assert main(["export", "--web", str(tmp_path / "site"), "--weights", str(PLAIN)]) == 2
    assert "is a file" in capsys.readouterr().err
