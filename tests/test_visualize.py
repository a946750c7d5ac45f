"""Feature visualization (``cnn.tasks.visualize``, ``cnn visualize``): the method works, not just runs.

The network is the shipped small model when ``weight_output/`` has it, else the same
architecture trained for 3 epochs on the committed MNIST subset (~2 s).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from cnn.cli import main
from cnn.cli.commands.train import train_and_save
from cnn.errors import UserError
from cnn.io.weights import load_model
from cnn.tasks import visualize as vis
from cnn.tasks import visualize_param as vis_param

ROOT = Path(__file__).resolve().parents[1]
SUBSET = ROOT / "tests" / "data" / "mnist_subset.npz"
SMALL = "C(8,5)-P2-C(16,3)-P2-FC128-FC10"
SHIPPED = ROOT / "weight_output" / f"weight_details{SMALL}.npz"
INPUT = ROOT / "feature_visualize" / "input.jpg"
STEPS = 128  # enough to converge on 28 x 28; the CLI default is 256


@pytest.fixture(scope="session")
def weights(tmp_path_factory) -> Path:
    if SHIPPED.is_file():
        return SHIPPED
    out = tmp_path_factory.mktemp("visualize") / f"weight_details{SMALL}.npz"
    train_and_save(SMALL, epochs=3, validation=200, data=SUBSET, out=out, plot=False,
                   quiet=True, seed=0)
    return out


@pytest.fixture(scope="session")
def model(weights):
    return load_model(weights)


@pytest.fixture(scope="session")
def conv_images(model):
    """Visualizations of every channel of layer 3, the second convolution."""
    return vis.visualize_channels(model, 3, "all", steps=STEPS, progress=False)


@pytest.fixture(scope="session")
def logit_images(model):
    """Visualizations of the 10 class logits (layer 6)."""
    return vis.visualize_channels(model, 6, "all", steps=STEPS, progress=False)


# ------------------------------------------------------------------ the method works
def test_channel_image_excites_its_channel_more_than_random_noise(model, conv_images):
    noise = np.random.default_rng(1).uniform(0, 1, (32, 28, 28)).astype(np.float32)
    best_noise = vis.mean_activations(model, 3, noise).max(axis=0)
    own = np.diag(vis.mean_activations(model, 3, conv_images))
    assert (own > best_noise).mean() >= 0.75, (own, best_noise)


def test_channel_image_excites_its_channel_more_than_other_channels_images(model, conv_images):
    act = vis.mean_activations(model, 3, conv_images)  # act[image, channel]
    winners = act.argmax(axis=0)  # for each channel, the image that excites it most
    assert (winners == np.arange(len(act))).mean() >= 0.75, winners


def test_class_logit_image_is_classified_as_its_digit(model, logit_images):
    assert model.logits(logit_images).argmax(axis=1).tolist() == list(range(10))


def test_fourier_parameterization_class_images_are_classified_as_their_digits(model):
    images = vis.visualize_channels(model, 6, "all", steps=STEPS, param="fourier",
                                    progress=False)
    assert (model.logits(images).argmax(axis=1) == np.arange(10)).mean() >= 0.9


def test_visualizations_are_finite_images_in_0_1(conv_images, logit_images):
    for images in (conv_images, logit_images):
        assert images.dtype == np.float32 and images.shape[1:] == (28, 28)
        assert np.isfinite(images).all() and images.min() >= 0 and images.max() <= 1


def test_dead_channel_still_gives_a_nonblank_finite_image(weights, subset):
    model = load_model(weights)
    conv2 = model.block(3).conv
    conv2.params["bias"][5] = -1000.0  # channel 5 of layer 3 never fires any more
    (_, _), (x_test, _) = subset
    assert vis.mean_activations(model, 3, x_test[:200], pre=False)[:, 5].max() == 0
    image = vis.visualize_channels(model, 3, 5, steps=STEPS, progress=False)[0]
    pixel = vis_param.make_param("pixel")
    start = pixel.image(pixel.init(1, np.random.default_rng(0)))[0]  # where it began
    assert np.isfinite(image).all() and 0 <= image.min() and image.max() <= 1
    assert image.std() > 0.05
    gain = vis.mean_activations(model, 3, np.stack([start, image]))[:, 5]
    assert gain[1] > gain[0]  # the pre-ReLU objective still climbed


def test_first_layer_channel_objective_gives_a_nearly_flat_image(model):
    # Layer 1 is linear in the image: every interior pixel has the same coefficient.
    images = vis.visualize_channels(model, 1, "all", steps=STEPS, progress=False)
    assert images[:, 8:20, 8:20].std(axis=(1, 2)).max() < 0.05


def test_neuron_objective_of_first_layer_paints_only_the_receptive_field(model):
    image = vis.visualize_channels(model, 1, 0, steps=STEPS, objective="neuron", jitter=0,
                                   progress=False)[0]
    # C(8,5): the centre unit (12, 12) of the 24 x 24 map sees image rows/cols 12..16.
    outside = np.ones((28, 28), bool)
    outside[12:17, 12:17] = False
    assert image[outside].max() < 0.5 < image[~outside].max()


def test_visualizing_leaves_the_weights_unchanged(weights):
    model = load_model(weights)
    before = model.state_dict()
    vis.visualize_channels(model, 4, [0, 1], steps=5, progress=False)
    vis.visualize_channels(model, 5, [0, 1], steps=5, param="fourier", progress=False)
    after = model.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)
    assert all(not m.grads for m in model.modules())  # input gradients only


RESNET = "C(8,3,same)-BN-R(8)-R(16,s2)-GAP-FC10"


@pytest.fixture(scope="session")
def resnet(tmp_path_factory):
    out = tmp_path_factory.mktemp("visualize") / "resnet.npz"
    train_and_save(RESNET, epochs=1, validation=200, data=SUBSET, out=out, plot=False,
                   quiet=True, seed=0)
    return load_model(out)


def test_residual_block_channels_are_visualized_in_eval_mode_and_excite_their_channel(resnet):
    assert not resnet.training
    state = resnet.state_dict()
    images = vis.visualize_channels(resnet, 4, [0, 1, 2, 3], steps=64, l2=0, tv=0,
                                    progress=False)
    assert not resnet.training  # batch statistics and dropout never enter the objective
    pixel = vis_param.make_param("pixel")
    start = pixel.image(pixel.init(1, np.random.default_rng(0)))  # where each image began
    at_start = vis.mean_activations(resnet, 4, start)[0, :4]
    own = np.diag(vis.mean_activations(resnet, 4, images)[:, :4])
    assert (own > at_start + 0.1).all(), (own, at_start)  # every objective climbed
    for key, value in resnet.state_dict().items():  # running statistics untouched
        np.testing.assert_array_equal(value, state[key], err_msg=key)


def test_layer_activation_reads_the_pre_and_out_taps(resnet, subset):
    x = subset[1][0][:5]
    pre = vis.layer_activation(resnet, 3, x, pre=True)
    out = vis.layer_activation(resnet, 3, x, pre=False)
    assert pre.shape == (5, 28, 28, 8) and (pre < 0).any()
    np.testing.assert_array_equal(out, np.maximum(pre, 0))


def test_same_seed_gives_the_same_image_and_another_seed_another(model):
    a, b, c = (vis.visualize_channels(model, 4, 2, steps=10, seed=s, progress=False)
               for s in (7, 7, 8))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


# ------------------------------------------------------------------ errors
def test_out_of_range_layer_error_lists_the_valid_layers(model):
    with pytest.raises(UserError, match=r"layer 7 is out of range: .* has layers 1\.\.6 "
                                        r"\(1 C\(8,5\), 2 P2, .* 6 FC10\)"):
        vis.visualize_channels(model, 7, 0, progress=False)


def test_out_of_range_channel_error_lists_the_valid_channels(model):
    with pytest.raises(UserError, match=r"channel 16 is out of range: layer 3 C\(16,3\) "
                                        r"\(convolution, 16 channels\) has channels 0\.\.15"):
        vis.check_channels(model, 3, 16)


# ------------------------------------------------------------------ gradients (naive vs fast)
def central_difference(f, x, index, h=1e-5):
    xp, xm = x.copy(), x.copy()
    xp[index] += h
    xm[index] -= h
    return (f(xp) - f(xm)) / (2 * h)


@pytest.mark.parametrize("layer", [2, 3, 4, 5, 6])
def test_input_gradient_matches_central_differences(weights, layer):
    model = load_model(weights).astype(np.float64)
    rng = np.random.default_rng(layer)
    x = rng.uniform(0, 1, (2, 28, 28, 1))
    channels = [1, 3]
    _, grad = vis.objective_and_grad(model, layer, channels, x)
    for _ in range(6):
        index = (int(rng.integers(2)), int(rng.integers(4, 24)), int(rng.integers(4, 24)), 0)
        numeric = central_difference(
            lambda z: vis.objective_and_grad(model, layer, channels, z)[0][index[0]], x, index)
        assert grad[index] == pytest.approx(numeric, rel=1e-4, abs=1e-8)


@pytest.mark.parametrize("name", ["pixel", "fourier"])
def test_parameterization_backward_matches_central_differences(name):
    param = vis_param.make_param(name)
    rng = np.random.default_rng(0)
    p = param.init(2, rng) * 30  # away from the flat start so the sigmoid is not linear
    weight = rng.normal(size=(2, 28, 28))
    analytic = param.backward(param.image(p), weight)
    for _ in range(6):
        index = tuple(int(rng.integers(s)) for s in p.shape)
        numeric = central_difference(lambda q: (param.image(q) * weight).sum(), p, index)
        assert analytic[index] == pytest.approx(numeric, rel=1e-5, abs=1e-9)


def test_regularizer_gradient_matches_central_differences():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (2, 28, 28))
    _, grad = vis_param.regularizers(x, l2=0.7, tv=0.4)
    for _ in range(8):
        index = tuple(int(rng.integers(s)) for s in x.shape)
        numeric = central_difference(lambda z: vis_param.regularizers(z, 0.7, 0.4)[0].sum(), x, index)
        assert grad[index] == pytest.approx(numeric, rel=1e-6)


def test_warp_adjoint_is_the_transpose_of_apply():
    rng = np.random.default_rng(0)
    warp = vis_param.Warp.random(rng, 3, jitter=2, scale=0.15, rotate=12)
    x, y = rng.normal(size=(2, 3, 28, 28))
    assert (warp.apply(x) * y).sum() == pytest.approx((x * warp.adjoint(y)).sum(), rel=1e-10)


def test_whole_pixel_jitter_moves_pixels_exactly_and_fills_black():
    x = np.random.default_rng(0).uniform(0, 1, (1, 28, 28))
    moved = vis_param.Warp((28, 28), np.array([[1.0, -2.0]]), np.ones(1), np.zeros(1)).apply(x)
    expected = np.zeros_like(x)
    expected[:, 1:, :-2] = x[:, :-1, 2:]
    np.testing.assert_allclose(moved, expected, atol=1e-12)


# ------------------------------------------------------------------ command line
def read_grey(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image is not None, path
    return image


def test_cli_channel_all_writes_pngs_arrays_and_contact_sheet_and_keeps_other_files(
        weights, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    status = main(["visualize", "--weights", str(weights), "--layer", "4", "--channel", "all",
                   "--out", str(out), "--steps", "16", "-q"])
    assert status == 0
    for k in range(16):
        assert read_grey(out / f"feature_visualize_{k}.png").shape == (280, 280)
        array = np.load(out / f"feature_visualize_{k}.npy")
        assert array.shape == (28, 28) and array.dtype == np.float32
        assert 0 <= array.min() and array.max() <= 1
    assert (out / "contact_sheet_layer4.png").is_file()
    assert (out / "keep.txt").read_text() == "mine"


def test_cli_image_mode_writes_bar_collage_feature_maps_and_top_channels(weights, tmp_path,
                                                                          capsys):
    out = tmp_path / "new" / "folder"  # created if missing
    status = main(["visualize", "--weights", str(weights), "--layer", "3", "--image",
                   str(INPUT), "--top", "5", "--out", str(out), "--steps", "16", "-q"])
    assert status == 0
    for name in ("mean_activation_bar.png", "collaged_feature_visualize.png",
                 "feature_maps.png"):
        assert read_grey(out / name).size > 0
    assert len(list(out.glob("feature_visualize_*.png"))) == 5
    assert "read as 2" in capsys.readouterr().out  # the default input is a "2"


def test_cli_out_of_range_channel_exits_2_with_one_line(weights, capsys):
    status = main(["visualize", "--weights", str(weights), "--layer", "6", "--channel", "10"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.strip().splitlines() == [
        "cnn: error: channel 10 is out of range: layer 6 FC10 (class logits, 10 units) "
        "has channels 0..9; or give 'all'"]


def number_image(subset, digits, path: Path) -> Path:
    """MNIST test digits pasted side by side, dark on a white 280-high page: a number."""
    _, (x_test, y_test) = subset
    page = np.full((280, 60 + 220 * len(digits)), 255, np.uint8)
    for k, d in enumerate(digits):
        image = x_test[int(np.nonzero(y_test == d)[0][0])]
        page[40:240, 40 + 220 * k:240 + 220 * k] = 255 - cv2.resize(image, (200, 200))
    cv2.imwrite(str(path), page)
    return path


def test_cli_digit_picks_one_digit_of_a_number_and_out_of_range_is_one_line(
        weights, subset, tmp_path, capsys):
    image = number_image(subset, (4, 2), tmp_path / "42.png")
    base = ["visualize", "--weights", str(weights), "--layer", "3", "--image", str(image),
            "--top", "1", "--out", str(tmp_path / "out"), "--steps", "4", "-q"]
    assert main(base) == 0
    out = capsys.readouterr().out
    assert f"{image}: the number 42; visualizing digit 1 of 2, a 4; --digit K picks another" in out
    assert "read as 4" in out
    assert main(base + ["--digit", "2"]) == 0
    out = capsys.readouterr().out
    assert "visualizing digit 2 of 2, a 2\n" in out and "read as 2" in out
    assert main(base + ["--digit", "3"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"cnn: error: --digit 3: {image} holds the number 42, 2 digits; give --digit 1 to 2"]
    single = ["visualize", "--weights", str(weights), "--image", str(INPUT), "--digit", "2"]
    assert main(single) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"cnn: error: --digit 2: {INPUT} holds one digit, not a number; leave out --digit"]


def test_the_menu_asks_for_a_digit_only_for_an_image_of_a_number(weights, subset, tmp_path):
    from cnn.cli.menu import number_in

    given = number_in(weights, str(number_image(subset, (4, 2), tmp_path / "42.png")))
    assert (given.number, given.count) == ("42", 2)
    assert number_in(weights, str(INPUT)) is None  # the default input: one "2"
