"""Weights files: round trip, safety, reference-project compatibility, and shape checks."""

import json
import os
import shutil
import stat

import numpy as np
import pytest
from conftest import REFERENCE_DIR

from cnn.errors import UserError
from cnn.files import atomic_write
from cnn.io.weights import load_model, save_model
from cnn.nn.model import Sequential

SMALL = "C(8,5)-P2-C(16,3)-P2-FC128-FC10"
REFERENCE_SCORES = {  # top-1 on the 10,000 test images, from shared/reference_weights/README.md
    "C(8,5)-P2-C(16,3)-P2-FC128-FC10": 0.9504,
    "C(8,5)-P2-C(16,3)-P2-C(32,3)-P2-FC256-FC10": 0.9556,
    "C(16,3)-P2-C(32,3)-P2-C(64,3)-P2-FC512-FC10": 0.9601,
}


def reference_file(model):
    path = REFERENCE_DIR / f"weight_details{model}.npz"
    if not path.is_file():
        pytest.skip(f"reference weights not found at {path}")
    return path


def test_save_then_load_gives_identical_logits_and_metadata(tmp_path, subset):
    model = Sequential(SMALL, np.random.default_rng(0))
    model.metadata = {"epochs": 3, "accuracy": 0.99}
    path = save_model(model, tmp_path / "w.npz")
    loaded = load_model(path)
    assert loaded.model_string == SMALL
    assert loaded.metadata["epochs"] == 3 and "numpy_version" in loaded.metadata
    x = subset[1][0][:50]
    np.testing.assert_array_equal(loaded.logits(x), model.logits(x))


def test_weights_file_loads_without_pickle_and_carries_model_string(tmp_path):
    path = save_model(Sequential(SMALL, np.random.default_rng(0)), tmp_path / "w.npz")
    with np.load(path, allow_pickle=False) as data:
        assert str(data["model"]) == SMALL
        assert int(data["format_version"]) == 2
        assert str(data["normalization"]) == "x/255"
        assert data["1.conv.weight"].shape == (8, 1, 5, 5)  # PyTorch (F, C, k, k)
        assert data["5.fc.weight"].shape == (128, 400)  # (out, in), in = C*H*W
        json.loads(str(data["metadata"]))


def test_save_never_replaces_an_existing_file_unless_asked(tmp_path):
    target = tmp_path / "w.npz"
    target.write_bytes(b"precious")
    model = Sequential(SMALL, np.random.default_rng(0))
    written = save_model(model, target)
    assert written == tmp_path / "w_1.npz" and target.read_bytes() == b"precious"
    assert save_model(model, target) == tmp_path / "w_2.npz"
    assert save_model(model, target, overwrite=True) == target
    assert load_model(target).model_string == SMALL


def test_saved_file_gets_umask_permissions_not_private_temp_ones(tmp_path):
    old = os.umask(0o022)
    try:
        path = save_model(Sequential(SMALL, np.random.default_rng(0)), tmp_path / "w.npz")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_atomic_write_without_overwrite_takes_a_free_name_and_keeps_the_file(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"old")
    written = atomic_write(tmp_path / "a.txt", lambda f: f.write(b"new"), overwrite=False)
    assert written == tmp_path / "a_1.txt" and written.read_bytes() == b"new"
    assert (tmp_path / "a.txt").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "a_1.txt"]


def test_save_leaves_no_temporary_file_behind(tmp_path):
    save_model(Sequential(SMALL, np.random.default_rng(0)), tmp_path / "w.npz")
    assert [p.name for p in tmp_path.iterdir()] == ["w.npz"]


@pytest.mark.parametrize("model", list(REFERENCE_SCORES))
def test_reference_project_file_loads_with_model_string_from_its_name(model):
    loaded = load_model(reference_file(model))
    assert loaded.model_string == model
    assert loaded.block(1).conv.params["weight"].dtype == np.float32


@pytest.mark.parametrize("model", list(REFERENCE_SCORES))
def test_reference_weights_reproduce_their_published_top1_accuracy(model, full_mnist):
    _, (x_test, y_test) = full_mnist
    accuracy = np.mean(load_model(reference_file(model)).logits(x_test).argmax(1) == y_test)
    assert accuracy == pytest.approx(REFERENCE_SCORES[model], abs=1e-6)


def test_reference_weights_on_subset_match_a_float64_naive_forward(subset):
    # An independent forward pass in float64 straight from the file's (F, C, k, k) arrays.
    path = reference_file(SMALL)
    with np.load(path) as d:
        w = {k: d[k] for k in d.files}
    x = subset[1][0][:20].astype(np.float64)[:, None] / 255  # (N, 1, 28, 28)

    def conv(x, weight, bias):
        f, c, k, _ = weight.shape
        h = x.shape[2] - k + 1
        out = np.zeros((x.shape[0], f, h, h))
        for p in range(k):
            for q in range(k):
                out += np.einsum("nchw,fc->nfhw", x[:, :, p:p + h, q:q + h], weight[:, :, p, q])
        return np.maximum(out + bias[None, :, None, None], 0)

    def pool(x):
        n, c, h, wd = x.shape
        hp, wp = -(-h // 2) * 2, -(-wd // 2) * 2
        padded = np.full((n, c, hp, wp), -np.inf)
        padded[:, :, :h, :wd] = x
        return padded.reshape(n, c, hp // 2, 2, wp // 2, 2).max(axis=(3, 5))

    a = pool(conv(pool(conv(x, w["weight_1"], w["bias_1"])), w["weight_3"], w["bias_3"]))
    a = np.maximum(a.reshape(len(a), -1) @ w["weight_5"].T + w["bias_5"], 0)
    logits = a @ w["weight_6"].T + w["bias_6"]
    np.testing.assert_allclose(load_model(path).logits(subset[1][0][:20]), logits, rtol=1e-4, atol=1e-4)


def test_loading_weights_that_do_not_fit_names_the_array(tmp_path):
    model = Sequential(SMALL, np.random.default_rng(0))
    arrays = version1_arrays(model)
    arrays["weight_5"] = np.zeros((128, 256), np.float32)
    path = tmp_path / "weight_detailsC(8,5)-P2-C(16,3)-P2-FC128-FC10.npz"
    np.savez(path, **arrays)
    with pytest.raises(UserError, match=r"'weight_5' has shape \(128, 256\) but the model needs \(128, 400\)"):
        load_model(path)


def test_loading_a_reference_file_renamed_to_another_model_says_what_is_missing(tmp_path):
    src = reference_file(SMALL)
    dst = tmp_path / "weight_detailsC(8,5)-P2-C(16,3)-P2-C(32,3)-P2-FC256-FC10.npz"
    shutil.copy(src, dst)
    with pytest.raises(UserError, match="does not fit"):
        load_model(dst)


@pytest.mark.parametrize("content,message", [
    (b"", "cannot read weights file"),
    (b"not a zip file at all", "cannot read weights file"),
])
def test_unreadable_weights_file_is_a_user_error(tmp_path, content, message):
    path = tmp_path / "weight_detailsC(8,5)-P2-FC10.npz"
    path.write_bytes(content)
    with pytest.raises(UserError, match=message):
        load_model(path)


def test_missing_weights_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_model(tmp_path / "nope.npz")


def test_weights_file_without_model_string_in_name_or_content_is_a_user_error(tmp_path):
    path = tmp_path / "mystery.npz"
    np.savez(path, weight_1=np.zeros(3))
    with pytest.raises(UserError, match="has no model string"):
        load_model(path)


def version1_arrays(model):
    """A version-1 / reference-project layout of a v1 model: weight_<t> / bias_<t>."""
    out = {}
    for key, value in model.state_dict().items():
        token, _, name = key.split(".")
        out[f"{name}_{token}"] = value
    return out


def test_first_fc_weights_are_stored_in_channel_height_width_order():
    # Token 3 (FC10) sees a (2, 2, 3) map flattened H, W, C inside; the file uses C, H, W.
    model = Sequential("C(3,3)-P2-FC10", np.random.default_rng(0), input_shape=(5, 5, 1))
    x = np.random.default_rng(1).random((4, 5, 5, 1)).astype(np.float32)
    feature_map = model.forward(x, taps=["2.out"])["2.out"]  # after pool + ReLU: (N, 2, 2, 3)
    state = model.state_dict()
    w, b = state["3.fc.weight"], state["3.fc.bias"]
    chw = feature_map.transpose(0, 3, 1, 2).reshape(4, -1)
    np.testing.assert_allclose(chw @ w.T + b, model.forward(x), rtol=1e-5, atol=1e-6)


def test_he_initialisation_uses_gain_2_before_relu_and_1_for_the_logits():
    model = Sequential("C(16,3)-P2-FC512-FC10", np.random.default_rng(0))
    conv, hidden, logits = model.block(1).conv, model.block(3).fc, model.block(4).fc
    assert conv.params["weight"].std() == pytest.approx(np.sqrt(2 / 9), rel=0.1)
    assert hidden.params["weight"].std() == pytest.approx(np.sqrt(2 / 2704), rel=0.05)
    assert logits.params["weight"].std() == pytest.approx(np.sqrt(1 / 512), rel=0.05)
    assert all(not m.params["bias"].any() for m in (conv, hidden, logits))


RESNET = "C(8,3,same)-BN-R(8)-R(16,s2)-GAP-FC10"


def test_state_dict_has_dotted_keys_by_token_number_in_pytorch_layout():
    model = Sequential(RESNET, np.random.default_rng(0))
    state = model.state_dict()
    assert state["1.conv.weight"].shape == (8, 1, 3, 3)
    assert state["2.bn.running_mean"].shape == (8,) and state["2.bn.running_var"].shape == (8,)
    assert state["4.conv1.weight"].shape == (16, 8, 3, 3) and "4.conv1.bias" not in state
    assert state["4.proj.weight"].shape == (16, 8, 1, 1) and "3.proj.weight" not in state
    assert state["6.fc.weight"].shape == (10, 16)
    assert model.num_params() == sum(
        v.size for k, v in state.items() if not k.endswith(("running_mean", "running_var")))


def test_v1_file_to_model_to_v2_file_to_model_keeps_the_logits(tmp_path, subset):
    source = Sequential(SMALL, np.random.default_rng(3))
    v1 = tmp_path / f"weight_details{SMALL}.npz"
    np.savez(v1, **version1_arrays(source), model=np.array(SMALL), format_version=np.array(1),
             normalization=np.array("x/255"), metadata=np.array("{}"))
    from_v1 = load_model(v1)
    v2 = save_model(from_v1, tmp_path / "v2.npz")
    with np.load(v2) as data:
        assert int(data["format_version"]) == 2 and "weight_1" not in data.files
    from_v2 = load_model(v2)
    x = subset[1][0][:64]
    np.testing.assert_array_equal(from_v1.logits(x), source.logits(x))
    np.testing.assert_array_equal(from_v2.logits(x), from_v1.logits(x))


def test_resnet_save_then_load_keeps_logits_and_running_statistics(tmp_path, subset):
    model = Sequential(RESNET, np.random.default_rng(0))
    x = subset[0][0][:32]
    from cnn.nn.model import to_input
    from cnn.nn.module import Tape

    model.forward(to_input(x), Tape())  # train mode: moves the running statistics
    model.eval()
    loaded = load_model(save_model(model, tmp_path / "r.npz"))
    assert not loaded.training
    np.testing.assert_array_equal(loaded.block(2).bn.buffers["running_mean"],
                                  model.block(2).bn.buffers["running_mean"])
    np.testing.assert_array_equal(loaded.logits(x), model.logits(x))


def test_loading_a_v2_file_that_does_not_fit_names_the_dotted_array(tmp_path):
    model = Sequential(RESNET, np.random.default_rng(0))
    path = save_model(model, tmp_path / "r.npz")
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["4.bn2.running_var"] = np.ones(15, np.float32)
    np.savez(path, **arrays)
    with pytest.raises(UserError, match=r"'4.bn2.running_var' has shape \(15,\) but the model "
                                        r"needs \(16,\)"):
        load_model(path)
    del arrays["4.bn2.running_var"]
    np.savez(path, **arrays)
    with pytest.raises(UserError, match="it has no '4.bn2.running_var' array"):
        load_model(path)


def test_newer_format_version_asks_to_upgrade(tmp_path):
    model = Sequential(SMALL, np.random.default_rng(0))
    path = tmp_path / "w.npz"
    np.savez(path, **model.state_dict(), model=np.array(SMALL), format_version=np.array(3))
    with pytest.raises(UserError, match="format version 3; this cnn reads up to 2"):
        load_model(path)


def test_batchnorm_in_eval_mode_is_its_affine_formula():
    from cnn.nn.batchnorm import BatchNorm

    rng = np.random.default_rng(4)
    bn = BatchNorm(5)
    gamma, beta = rng.standard_normal(5), rng.standard_normal(5)
    mean, var = rng.standard_normal(5), rng.random(5) + 0.1
    bn.params = {"weight": gamma.astype(np.float32), "bias": beta.astype(np.float32)}
    bn.buffers = {"running_mean": mean.astype(np.float32), "running_var": var.astype(np.float32)}
    x = rng.standard_normal((3, 4, 4, 5)).astype(np.float32)
    expected = gamma * (x - mean) / np.sqrt(var + 1e-5) + beta
    np.testing.assert_allclose(bn.eval().forward(x), expected, rtol=1e-5, atol=1e-5)


def test_train_mode_uses_batch_statistics_and_eval_mode_running_ones():
    model = Sequential("C(4,3)-BN-D0.5-FC10", np.random.default_rng(0), input_shape=(6, 6, 1))
    x = np.random.default_rng(1).random((8, 6, 6, 1)).astype(np.float32)
    assert model.training
    a, b = model.forward(x), model.forward(x)
    assert not np.array_equal(a, b)  # dropout draws new masks in train mode
    model.eval()
    np.testing.assert_array_equal(model.forward(x), model.forward(x))
    # no batch statistics: a slice's outputs are the whole batch's (to float32 rounding: BLAS
    # may multiply 3 rows with another kernel than 8; batch statistics would move them by ~1)
    np.testing.assert_allclose(model.forward(x[:3]), model.forward(x)[:3], rtol=1e-5, atol=1e-6)


def test_two_threads_can_run_one_model_in_eval_mode_at_once(subset):
    from concurrent.futures import ThreadPoolExecutor

    from cnn.nn.model import to_input
    from cnn.nn.module import Tape

    model = Sequential(RESNET, np.random.default_rng(0)).eval()
    x = to_input(subset[1][0][:200])
    expected = [model.forward(x[i:i + 20]) for i in range(0, 200, 20)]

    def job(i):  # each call with its own tape, as a web server's requests would
        out = model.forward(x[i:i + 20], Tape(param_grads=False), taps=["4.pre", "6.out"])
        return out["6.out"]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(job, range(0, 200, 20)))
    for got, want in zip(results, expected):
        np.testing.assert_array_equal(got, want)


def test_load_state_dict_restores_everything_a_snapshot_holds():
    model = Sequential(RESNET, np.random.default_rng(0))
    snapshot = model.state_dict()
    for m in model.modules():
        for store in (m.params, m.buffers):
            for key in store:
                store[key] = store[key] + 1
    model.load_state_dict(snapshot)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, snapshot[key], err_msg=key)
