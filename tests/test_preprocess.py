"""cnn.vision: any picture of one digit -> an MNIST-like 28 x 28 image.

Every input kind is built from a real MNIST test digit (the most typical one of each class in
the test data), and the result must match ``to_mnist`` of the clean digit: Pearson r above a
threshold *and* higher than with the clean version of any other digit, so a wrong digit fails
(``test_reference_match_rejects_a_different_digit`` shows the threshold can fail).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import load_script
from scipy import ndimage

from cnn.errors import UserError
from cnn.vision.decode import read_image
from cnn.vision.pipeline import preprocess_file, to_mnist

ROOT = Path(__file__).resolve().parent.parent
SUBSET = ROOT / "tests" / "data" / "mnist_subset.npz"
FULL = Path(os.environ.get("CNN_MNIST_DATA", "/work/shared/data/mnist.npz"))
CUSTOM = ROOT / "custom_test_images"

R_MIN = 0.9  # clean-looking renderings: photo, canvas, alpha, 16-bit, huge, specks
R_MIN_RESTROKED = 0.7  # tiny and thick strokes really differ from the clean digit
R_MIN_THIN = 0.6  # a 1-px skeleton loses the shape of the strokes


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def digits() -> list[np.ndarray]:
    """The most typical MNIST test digit of each class, uint8 (28, 28), index = label.

    Typical = highest correlation with the mean training image of its class, among test
    images that a nearest-class-mean rule also assigns to their label (no odd handwriting).
    """
    path = SUBSET if SUBSET.exists() else FULL
    if not path.exists():
        pytest.skip(f"no MNIST data at {SUBSET} or {FULL}")
    with np.load(path) as data:
        x_train, y_train = data["x_train"], data["y_train"]
        x_test, y_test = data["x_test"][:2000], data["y_test"][:2000]

    def unit(a: np.ndarray) -> np.ndarray:
        a = a.reshape(len(a), -1).astype(np.float64)
        a -= a.mean(axis=1, keepdims=True)
        return a / np.linalg.norm(a, axis=1, keepdims=True)

    means = unit(np.stack([x_train[y_train == d].mean(axis=0) for d in range(10)]))
    corr = unit(x_test) @ means.T
    chosen = []
    for d in range(10):
        score = np.where((y_test == d) & (corr.argmax(axis=1) == d), corr[:, d], -np.inf)
        chosen.append(x_test[int(np.argmax(score))])
    return chosen


@pytest.fixture(scope="session")
def references(digits: list[np.ndarray]) -> list[np.ndarray]:
    """``to_mnist`` of each clean digit, float32 (28, 28), index = label."""
    return [to_mnist(d) for d in digits]


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def assert_reads_as(out: np.ndarray, label: int, references: list[np.ndarray],
                    r_min: float = R_MIN) -> None:
    """``out`` is a valid MNIST-like image that matches the clean digit ``label`` best."""
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    rs = [pearson(out, ref) for ref in references]
    assert rs[label] > r_min, f"r = {rs[label]:.3f} with the clean digit {label}"
    assert int(np.argmax(rs)) == label, f"matches digit {int(np.argmax(rs))} best: {np.round(rs, 2)}"


# ---------------------------------------------------------------------------- renderings


def ink(digit: np.ndarray, height: int) -> np.ndarray:
    """Upscaled digit as float32 ink in [0, 1], shape (height, height)."""
    big = cv2.resize(digit.astype(np.float32) / 255.0, (height, height),
                     interpolation=cv2.INTER_CUBIC)
    return np.clip(big, 0.0, 1.0)


def frame(strokes: np.ndarray, shape: tuple[int, int], top: int, left: int) -> np.ndarray:
    """``strokes`` pasted into a zero float32 array of ``shape`` at (top, left)."""
    out = np.zeros(shape, np.float32)
    h, w = strokes.shape
    out[top:top + h, left:left + w] = strokes
    return out


def jpeg(image: np.ndarray, quality: int = 85) -> np.ndarray:
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)


def phone_photo(digit: np.ndarray, seed: int, top: int = 300, left: int = 450,
                height: int = 260) -> np.ndarray:
    """(700, 900, 3) uint8 BGR JPEG: dark-blue ink on cream paper, vignette, noise, blur."""
    rng = np.random.default_rng(seed)
    strokes = frame(ink(digit, height), (700, 900), top, left)
    paper = np.array([0.72, 0.90, 0.96], np.float32)
    pen = np.array([0.30, 0.10, 0.05], np.float32)
    img = paper * (1 - strokes[..., None]) + pen * strokes[..., None]
    y, x = np.mgrid[0:700, 0:900].astype(np.float32)
    img *= (1.05 - 0.35 * ((x - 250) ** 2 + (y - 200) ** 2) / 800**2)[..., None]
    img = cv2.GaussianBlur(img, (0, 0), 1.0) + 0.02 * rng.standard_normal(img.shape, np.float32)
    return jpeg(np.clip(img * 255, 0, 255).astype(np.uint8))


def white_on_black(digit: np.ndarray, size: int = 400) -> np.ndarray:
    """(size, size) uint8 canvas, the digit at 60 % of the height, off-centre."""
    strokes = ink(digit, int(size * 0.6))
    return (frame(strokes, (size, size), size // 10, size // 4) * 255).astype(np.uint8)


@functools.lru_cache(maxsize=1)
def skeleton_module():
    """scripts/make_custom_images.py as a module (for its Zhang-Suen ``skeleton``)."""
    return load_script(ROOT / "scripts" / "make_custom_images.py")


# ---------------------------------------------------------------------------- output format


def test_output_is_28x28_float32_in_unit_range(digits):
    out = to_mnist(digits[3])
    assert out.shape == (28, 28)
    assert out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_output_stroke_cores_reach_one(digits):
    out = to_mnist(phone_photo(digits[5], seed=0))
    assert out.max() == pytest.approx(1.0)
    assert (out > 0.9).sum() >= 0.3 * (out > 0.05).sum()  # MNIST: ~45 % of ink pixels > 0.9


def test_clean_mnist_digit_comes_back_nearly_unchanged(digits):
    for label, digit in enumerate(digits):
        r = pearson(to_mnist(digit), digit / 255.0)
        assert r > 0.9, f"digit {label}: r = {r:.3f}"


def test_centre_of_mass_is_at_14_14_wherever_the_digit_was(digits):
    for top, left in [(0, 0), (300, 640), (440, 0), (150, 300)]:
        out = to_mnist(phone_photo(digits[7], seed=1, top=top, left=left))
        cy, cx = ndimage.center_of_mass(out)
        assert abs(cy - 14.0) <= 0.5 and abs(cx - 14.0) <= 0.5, (top, left, cy, cx)


def test_digit_fits_20x20_box_with_long_side_20(digits):
    for label in (1, 0, 7):
        ys, xs = np.nonzero(to_mnist(white_on_black(digits[label])))
        height, width = np.ptp(ys) + 1, np.ptp(xs) + 1
        assert max(height, width) in (19, 20) and min(height, width) <= 20, (label, height, width)


def test_aspect_ratio_is_kept(digits):
    wide = cv2.resize(digits[0], (56, 28), interpolation=cv2.INTER_AREA)  # a 0 twice as wide
    ys, xs = np.nonzero(to_mnist(wide) > 0.1)
    assert (np.ptp(xs) + 1) / (np.ptp(ys) + 1) == pytest.approx(2 * _aspect(digits[0]), rel=0.15)


def _aspect(digit: np.ndarray) -> float:
    ys, xs = np.nonzero(digit > 25)
    return (np.ptp(xs) + 1) / (np.ptp(ys) + 1)


# ---------------------------------------------------------------------------- polarity


def test_auto_polarity_reads_light_ink_on_dark(digits, references):
    assert_reads_as(to_mnist(white_on_black(digits[4])), 4, references)


def test_auto_polarity_reads_dark_ink_on_light(digits, references):
    black_on_white = 255 - white_on_black(digits[4])
    assert_reads_as(to_mnist(black_on_white), 4, references)


def test_forced_polarity_gives_the_same_result_as_auto(digits):
    canvas = 255 - white_on_black(digits[2])
    forced = to_mnist(canvas, polarity="dark-on-light")
    np.testing.assert_allclose(forced, to_mnist(canvas), atol=1e-6)


def test_wrong_forced_polarity_raises_and_suggests_auto(digits):
    with pytest.raises(UserError, match="use polarity 'auto'"):
        to_mnist(white_on_black(digits[2]), polarity="dark-on-light")


def test_unknown_polarity_is_rejected_with_the_choices(digits):
    with pytest.raises(UserError, match="'dark'.*auto, dark-on-light, light-on-dark"):
        to_mnist(digits[2], polarity="dark")


# ---------------------------------------------------------------------------- input kinds


def test_phone_photo_jpeg_with_gradient_and_noise_reads_as_its_digit(digits, references):
    for label, digit in enumerate(digits):
        assert_reads_as(to_mnist(phone_photo(digit, seed=label)), label, references)


def test_grayscale_photo_reads_as_its_digit(digits, references):
    gray = cv2.cvtColor(phone_photo(digits[6], seed=2), cv2.COLOR_BGR2GRAY)
    assert_reads_as(to_mnist(gray), 6, references)


def test_faint_pencil_on_grey_paper_reads_as_its_digit(digits, references):
    strokes = frame(ink(digits[8], 200), (600, 800), 150, 200)
    img = 0.62 - 0.2 * strokes  # grey paper, ink only 0.2 darker
    img += 0.015 * np.random.default_rng(3).standard_normal(img.shape, np.float32)
    assert_reads_as(to_mnist(jpeg((np.clip(img, 0, 1) * 255).astype(np.uint8))), 8, references)


def test_strong_light_gradient_is_not_mistaken_for_ink(digits, references):
    strokes = frame(ink(digits[0], 220), (600, 800), 200, 300)
    light = np.linspace(1.0, 0.35, 800, dtype=np.float32)[None, :]  # dim towards the right
    img = (0.95 - 0.75 * strokes) * light
    assert img[:, -50:].mean() < img[strokes > 0.5].max()  # dim paper darker than some ink
    assert_reads_as(to_mnist(jpeg((img * 255).astype(np.uint8))), 0, references)


def test_digit_touching_the_frame_edge_reads_as_its_digit(digits, references):
    for label in (3, 9):
        ys, xs = np.nonzero(digits[label])
        cropped = digits[label][ys.min():ys.max() + 1, xs.min():xs.max() + 1]
        h, w = cropped.shape
        strokes = np.clip(cv2.resize(cropped.astype(np.float32) / 255, (w * 12, h * 12),
                                     interpolation=cv2.INTER_CUBIC), 0, 1)
        img = 0.9 - 0.8 * frame(strokes, (700, 900), 700 - h * 12, 0)  # bottom-left corner
        assert_reads_as(to_mnist((img * 255).astype(np.uint8)), label, references)


def test_small_specks_next_to_the_digit_are_dropped(digits):
    photo = phone_photo(digits[1], seed=4, top=200, left=300)
    ys, xs = np.nonzero(ink(digits[1], 260) > 0.5)
    top, left = 200 + ys.min(), 300 + xs.min()  # the digit's box in the photo
    specked = photo.copy()
    rng = np.random.default_rng(4)
    for _ in range(12):  # dust 10 to 30 px above the digit's box
        x, y = left + int(rng.integers(0, 90)), top - int(rng.integers(10, 30))
        cv2.circle(specked, (x, y), 2, (40, 30, 30), -1)
    assert pearson(to_mnist(specked), to_mnist(photo)) > 0.98


def test_ink_far_from_the_digit_is_ignored(digits):
    photo = phone_photo(digits[1], seed=4, top=200, left=300)
    smudged = photo.copy()
    cv2.circle(smudged, (80, 600), 18, (40, 30, 30), -1)  # a blot in the far corner
    assert pearson(to_mnist(smudged), to_mnist(photo)) > 0.98


def test_digit_in_two_pieces_keeps_both(digits, references):
    canvas = white_on_black(digits[5])
    rows = np.flatnonzero(canvas.max(axis=1) > 0)
    cut = rows[0] + (rows[-1] - rows[0]) * 2 // 5
    canvas[cut:cut + 6] = 0  # a gap across the whole digit
    assert cv2.connectedComponents((canvas > 127).astype(np.uint8))[0] - 1 >= 2
    assert_reads_as(to_mnist(canvas), 5, references)


def test_transparent_png_with_strokes_only_in_alpha_reads_as_its_digit(digits, references):
    rgba = np.zeros((400, 400, 4), np.uint8)  # RGB all zero everywhere
    rgba[..., 3] = white_on_black(digits[6])
    assert_reads_as(to_mnist(rgba), 6, references)


def test_transparent_png_with_white_strokes_reads_as_its_digit(digits, references):
    rgba = np.full((400, 400, 4), 255, np.uint8)  # RGB all white, strokes in alpha
    rgba[..., 3] = white_on_black(digits[2])
    assert_reads_as(to_mnist(rgba), 2, references)


def test_opaque_rgba_uses_the_colour_channels(digits, references):
    bgr = cv2.cvtColor(255 - white_on_black(digits[9]), cv2.COLOR_GRAY2BGR)
    rgba = np.dstack([bgr, np.full(bgr.shape[:2], 255, np.uint8)])
    assert_reads_as(to_mnist(rgba), 9, references)


def test_16_bit_image_reads_like_its_8_bit_version(digits):
    canvas = 255 - white_on_black(digits[0])
    wide = canvas.astype(np.uint16) * 257
    np.testing.assert_allclose(to_mnist(wide), to_mnist(canvas), atol=1e-4)


def test_float_and_bool_inputs_are_accepted(digits):
    base = to_mnist(digits[1])
    np.testing.assert_allclose(to_mnist(digits[1] / 255.0), base, atol=1e-4)
    assert pearson(to_mnist(digits[1] > 127), base) > 0.9


def test_tiny_12x12_image_reads_as_its_digit(digits, references):
    for label in (0, 4, 7):
        tiny = cv2.resize(digits[label], (12, 12), interpolation=cv2.INTER_AREA)
        assert_reads_as(to_mnist(tiny), label, references, R_MIN_RESTROKED)


def test_tiny_image_strokes_are_brought_to_full_intensity(digits):
    out = to_mnist(cv2.resize(digits[4], (12, 12), interpolation=cv2.INTER_AREA))
    assert (out > 0.9).sum() >= 0.3 * (out > 0.05).sum()  # MNIST: ~45 % of ink pixels > 0.9


def test_huge_3000x3000_image_reads_as_its_digit(digits, references):
    strokes = frame(ink(digits[2], 1800), (3000, 3000), 700, 500)
    assert_reads_as(to_mnist(((1 - strokes) * 255).astype(np.uint8)), 2, references)


def skeleton_lines(digit: np.ndarray, scale: int, shape: tuple[int, int]) -> np.ndarray:
    """uint8 canvas of ``shape``: the digit's Zhang-Suen skeleton drawn with 1-px lines.

    The skeleton is taken at 112 x 112 and its 8-neighbour links drawn ``scale`` times larger.
    """
    skeleton = skeleton_module().skeleton
    small = cv2.resize(digit, (112, 112), interpolation=cv2.INTER_CUBIC) > 100
    on = set(zip(*np.nonzero(skeleton(small))))
    lines = np.zeros(shape, np.uint8)
    for y, x in on:
        for dy, dx in ((0, 1), (1, -1), (1, 0), (1, 1)):
            if (y + dy, x + dx) in on:
                cv2.line(lines, (scale * x, scale * y), (scale * (x + dx), scale * (y + dy)), 255)
    return lines


def test_one_pixel_strokes_come_out_mnist_wide(digits, references):
    for label in (3, 5, 8):
        lines = skeleton_lines(digits[label], 9, (1000, 1000))
        assert (lines > 0).mean() < 0.01  # really thin: under 1 % of the canvas
        out = to_mnist(lines)
        assert_reads_as(out, label, references, R_MIN_THIN)
        assert (out > 0.5).mean() > 0.07, label  # MNIST-wide strokes, not hairlines


def test_faint_one_pixel_strokes_survive_shrinking_a_5000_px_image(digits, references):
    lines = skeleton_lines(digits[2], 9, (1000, 5000)) // 3  # grey 85 on black, 1 px wide
    assert_reads_as(to_mnist(lines), 2, references, R_MIN_THIN)


def test_very_thick_strokes_are_thinned_to_mnist_width(digits, references):
    for label in (0, 8):
        strokes = ink(digits[label], 300)
        fat = cv2.dilate(strokes, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (25, 25)))
        out = to_mnist((frame(fat, (400, 400), 50, 50) * 255).astype(np.uint8))
        assert_reads_as(out, label, references, R_MIN_RESTROKED)
        assert stroke_width(out) < 4.0, label  # MNIST: median 2.25, 95 % under 3.5


def stroke_width(image: np.ndarray) -> float:
    """Mean stroke width in pixels of the pixels above 0.5: 2 * area / contour length."""
    mask = (image > 0.5).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    return 2.0 * float(mask.sum()) / sum(cv2.arcLength(c, True) for c in contours)


# ---------------------------------------------------------------------------- no digit


def test_blank_image_raises_no_digit_found():
    with pytest.raises(UserError, match="no digit found: the image is blank"):
        to_mnist(np.full((100, 100), 200, np.uint8))


def test_blank_noisy_paper_photo_raises_no_digit_found():
    rng = np.random.default_rng(5)
    y, x = np.mgrid[0:600, 0:800].astype(np.float32)
    paper = 0.9 - 0.3 * x / 800 + 0.02 * rng.standard_normal((600, 800), np.float32)
    with pytest.raises(UserError, match="no digit found"):
        to_mnist(jpeg((np.clip(paper, 0, 1) * 255).astype(np.uint8)))


def test_single_speck_is_not_a_digit():
    speck = np.zeros((400, 400), np.uint8)
    speck[200:203, 200:203] = 255
    with pytest.raises(UserError, match="no digit found"):
        to_mnist(speck)


def test_array_of_wrong_shape_is_rejected():
    with pytest.raises(UserError, match=r"\(5, 5, 2\)"):
        to_mnist(np.zeros((5, 5, 2), np.uint8))


def test_reference_match_rejects_a_different_digit(digits, references):
    """The checks used above fail for a wrong digit: a photo of a 3 is not an 8."""
    out = to_mnist(phone_photo(digits[3], seed=6))
    with pytest.raises(AssertionError):
        assert_reads_as(out, 8, references)


# ---------------------------------------------------------------------------- files


def test_read_image_returns_the_raw_array(tmp_path, digits):
    path = tmp_path / "rgba.png"
    rgba = np.dstack([np.zeros((28, 28, 3), np.uint8), digits[0]])
    cv2.imencode(".png", rgba)[1].tofile(str(path))
    np.testing.assert_array_equal(read_image(path), rgba)


def test_read_image_keeps_16_bits(tmp_path):
    path = tmp_path / "deep.png"
    cv2.imencode(".png", np.full((8, 8), 40000, np.uint16))[1].tofile(str(path))
    image = read_image(path)
    assert image.dtype == np.uint16 and image[0, 0] == 40000


def test_read_image_handles_non_ascii_paths(tmp_path, digits):
    path = tmp_path / "Zahl_fünf_数字.png"
    cv2.imencode(".png", digits[5])[1].tofile(str(path))
    np.testing.assert_array_equal(read_image(path), digits[5])


def test_missing_file_raises_with_its_name(tmp_path):
    with pytest.raises(UserError, match="nope.png.*no such file"):
        read_image(tmp_path / "nope.png")


def test_zero_byte_file_raises_with_its_name(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(UserError, match=r"empty\.jpg.*file is empty \(0 bytes\)"):
        read_image(path)


def test_text_file_named_png_raises_with_its_name(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is not a picture\n")
    with pytest.raises(UserError, match=r"notes\.png.*not an image or corrupt"):
        read_image(path)


def test_truncated_jpeg_raises_with_its_name(tmp_path, digits):
    path = tmp_path / "cut.jpg"
    data = cv2.imencode(".jpg", phone_photo(digits[7], seed=7))[1].tobytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match=r"cut\.jpg"):
        read_image(path)


def test_jpeg_missing_only_its_end_marker_is_reported_truncated(tmp_path, digits):
    path = tmp_path / "almost.jpg"
    data = cv2.imencode(".jpg", phone_photo(digits[7], seed=7))[1].tobytes()
    path.write_bytes(data[:-2])  # some OpenCV builds decode this without complaint
    with pytest.raises(UserError, match=r"almost\.jpg.*truncated"):
        read_image(path)


def test_folder_instead_of_file_raises(tmp_path):
    with pytest.raises(UserError, match="folder"):
        read_image(tmp_path)


def test_preprocess_file_of_blank_image_names_the_file(tmp_path):
    path = tmp_path / "blank.png"
    cv2.imencode(".png", np.full((50, 50), 255, np.uint8))[1].tofile(str(path))
    with pytest.raises(UserError, match=r"^'.*blank\.png': no digit found"):
        preprocess_file(path)


def test_preprocess_file_reads_a_photo(tmp_path, digits, references):
    path = tmp_path / "four.jpg"
    cv2.imencode(".jpg", phone_photo(digits[4], seed=8))[1].tofile(str(path))
    assert_reads_as(preprocess_file(path), 4, references)


def test_every_shipped_custom_image_gives_a_centred_mnist_like_digit():
    files = sorted(p for p in CUSTOM.iterdir() if p.suffix in (".png", ".jpg"))
    assert len(files) >= 40
    assert {p.name[0] for p in files} == set("0123456789")
    for path in files:
        out = preprocess_file(path)
        assert out.shape == (28, 28) and out.dtype == np.float32, path.name
        assert 0.0 <= out.min() and out.max() == pytest.approx(1.0), path.name
        cy, cx = ndimage.center_of_mass(out)
        assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5, path.name
        assert 0.05 < (out > 0.5).mean() < 0.35, path.name


def _shadowed_page(cover: float, darkness: float) -> np.ndarray:
    """A 600 x 600 grey page with a hard-edged shadow of brightness ``darkness`` covering the
    fraction ``cover`` of the frame from the left, a dark thin ring (a "0") in the lit part,
    blur and sensor noise."""
    page = np.full((600, 600), 0.9, np.float32)
    edge = int(600 * cover)
    page[:, :edge] *= darkness
    ink = np.zeros((600, 600), np.uint8)
    cv2.ellipse(ink, ((edge + 600) // 2, 300), (50, 80), 0, 0, 360, 1, 6)
    page[ink > 0] *= 0.3
    page = cv2.GaussianBlur(page, (0, 0), 1.5)
    return page + np.random.default_rng(1).normal(0, 0.02, page.shape).astype(np.float32)


@pytest.mark.parametrize("cover, darkness", [(0.65, 0.25), (0.75, 0.3), (0.7, 0.4)])
def test_dark_shadow_over_most_of_the_page_keeps_dark_ink(cover, darkness):
    # The quadratic fit alone takes the lit strip for light ink on a dark page.
    from cnn.vision.polarity import _ink_sign
    assert _ink_sign(_shadowed_page(cover, darkness), "auto") == -1.0


def test_light_strokes_on_dark_still_read_as_light():
    from cnn.vision.polarity import _ink_sign
    page = np.full((400, 400), 0.1, np.float32)
    cv2.ellipse(page, (200, 200), (60, 100), 0, 0, 360, 0.9, 8)
    assert _ink_sign(page, "auto") == 1.0


def test_tight_crop_of_a_thick_digit_mostly_ink_is_found():
    # A thick "8" whose ink covers most of the crop and touches every side of the frame.
    ink = np.zeros((200, 160), np.uint8)
    cv2.ellipse(ink, (80, 52), (62, 44), 0, 0, 360, 1, 34)
    cv2.ellipse(ink, (80, 146), (66, 48), 0, 0, 360, 1, 36)
    assert ink.mean() > 0.5
    light = np.linspace(0.75, 1.0, 160, dtype=np.float32)[None, :]  # uneven light
    page = np.where(ink > 0, 0.2, 0.8).astype(np.float32) * light
    page = cv2.GaussianBlur(page, (0, 0), 1.5)
    page += np.random.default_rng(0).normal(0, 0.02, page.shape).astype(np.float32)
    page = np.clip(page, 0, 1)
    # The flat-paper pass must see the ink well above its noise (the previous one shifted the
    # residual by its median, an ink level here, and called the crop blank).
    from cnn.vision.illumination import _flatten_illumination, _pad_frame
    work, pad = _pad_frame(1.0 - page)
    ink, noise = _flatten_illumination(work, pad, "flat", relative=True)
    assert float(ink.max()) > max(0.3, 8.0 * noise)
    out = to_mnist(page, choose=lambda batch: np.ones(len(batch)))
    assert out.shape == (28, 28) and out.max() == pytest.approx(1.0)


def _shadow_band_page(darkness: float) -> tuple[np.ndarray, np.ndarray]:
    """A 500 x 400 page (grey) whose left 30 % lies in a hard shadow, a band narrower than
    the opening's square, and a vertical stroke (a "1", 8 px wide) in the lit part; and the
    stroke's mask."""
    page = np.full((500, 400), 0.85, np.float32)
    page[:, :120] *= darkness
    stroke = np.zeros(page.shape, bool)
    stroke[120:380, 260:268] = True
    page[stroke] = 0.2
    page = cv2.GaussianBlur(page, (0, 0), 1.5)
    return page + np.random.default_rng(2).normal(0, 0.01, page.shape).astype(np.float32), stroke


@pytest.mark.parametrize("background, expected", [("median", True), ("local", False)])
@pytest.mark.parametrize("darkness", [0.3, 0.5])
def test_median_background_removes_a_shadow_band_the_opening_keeps(darkness, background,
                                                                    expected):
    # The opening's square does not fit into a band of shadow 30 % of the page wide, so the
    # band passes for ink; the median follows it (and still removes the stroke). The "local"
    # case records why the median pass exists; it would change if the opening learned this.
    from cnn.vision.illumination import _flatten_illumination, _pad_frame
    page, stroke = _shadow_band_page(darkness)
    work, pad = _pad_frame(1.0 - page)
    ink, _ = _flatten_illumination(work, pad, background, relative=True)
    inner = ink[pad:-pad, pad:-pad]
    assert np.median(inner[ndimage.binary_erosion(stroke, iterations=2)]) > 0.5
    band = np.zeros_like(stroke)
    band[20:480, 10:110] = True
    assert (np.percentile(inner[band], 99) < 0.1) == expected


@pytest.mark.parametrize("darkness", [0.3, 0.5])
def test_hard_shadow_is_detected_and_a_light_gradient_is_not(darkness):
    from cnn.vision.illumination import _hard_shadow, _pad_frame
    page, _ = _shadow_band_page(darkness)
    assert _hard_shadow(*_pad_frame(1.0 - page))
    gradient = np.linspace(0.35, 0.9, 400, dtype=np.float32)[None, :].repeat(500, axis=0)
    gradient[120:380, 260:268] = 0.15
    assert not _hard_shadow(*_pad_frame(1.0 - gradient))
    plain = np.full((500, 400), 0.85, np.float32)
    plain[120:380, 260:268] = 0.15
    assert not _hard_shadow(*_pad_frame(1.0 - plain))
    faint, _ = _shadow_band_page(0.9)  # a shade of 90 %: two levels, too close to matter
    assert not _hard_shadow(*_pad_frame(1.0 - faint))


def test_thick_stroke_of_a_tight_crop_is_not_a_hard_shadow(monkeypatch):
    # A tight crop of a thick "1": the median keeps the stroke, so the paper looks two-level
    # with a sharp edge, like a shadow; but it touches the frame only where it is cut.
    import cnn.vision.illumination as pre
    page = np.full((300, 110), 0.85, np.float32)
    page[:, 30:80] = 0.15
    page = cv2.GaussianBlur(page, (0, 0), 1.5)
    page += np.random.default_rng(4).normal(0, 0.01, page.shape).astype(np.float32)
    work, pad = pre._pad_frame(1.0 - page)
    assert not pre._hard_shadow(work, pad)
    monkeypatch.setattr(pre, "_SHADOW_BORDER", 0.0)
    assert pre._hard_shadow(work, pad)  # the border rule is what tells them apart


def test_long_thin_strip_is_read_not_crashed():
    # 49 x 2000: at the background fit's 64 px it is 2 rows high, where y and y^2 repeat the
    # constant term (a singular system for the normal equations).
    page = np.full((49, 2000), 200, np.uint8)
    page[2:47, 990:998] = 20  # a "1" as tall as the strip
    out = to_mnist(page)
    assert out.shape == (28, 28) and out.max() == pytest.approx(1.0)


def test_a_desk_is_filled_with_the_sheets_own_light_so_an_unevenly_lit_edge_is_no_ink():
    # A sheet lit from the right (ink-bright values 0.15 on its dark left, 0.02 on its right)
    # on a dark, grainy desk: the desk must be replaced by paper that meets the sheet without a
    # step, else the darker left edge stands out against one median paper level like ink.
    from cnn.vision.illumination import _mask_cluttered_desk

    rng = np.random.default_rng(0)
    h, w = 240, 320
    sheet = np.zeros((h, w), bool)
    sheet[30:210, 40:280] = True
    light = np.linspace(0.15, 0.02, w, dtype=np.float32)[None, :].repeat(h, 0)
    work = np.where(sheet, light, 0.75 + 0.2 * rng.standard_normal((h, w))).astype(np.float32)
    out = _mask_cluttered_desk(work, sheet)
    assert out is not work and np.array_equal(out[60:180, 80:240], work[60:180, 80:240])
    left_out, left_in = out[120, 20], out[120, 60]  # outside and inside the dark left edge
    right_out, right_in = out[120, 300], out[120, 260]
    assert abs(left_out - left_in) < 0.03 and abs(right_out - right_in) < 0.03
    assert left_out - right_out > 0.08  # the fill follows the light, not one level
    assert out[~sheet].max() < 0.2  # no desk grain left


def _card_far_away(digit: np.ndarray | None, rng) -> np.ndarray:
    """A 960 x 1280 grey photo of a small light card (about 5 % of the picture) on a dark,
    grainy desk, with ``digit`` (an MNIST uint8 (28, 28), or None: a blank card) written
    on it in dark ink about 40 px tall: what a phone sees of a card a metre away."""
    photo = (0.3 + 0.04 * rng.standard_normal((960, 1280))).astype(np.float32)
    y0, x0, h, w = 380, 600, 200, 260
    photo[y0:y0 + h, x0:x0 + w] = 0.88 + 0.01 * rng.standard_normal((h, w))
    if digit is not None:
        ink = cv2.resize(digit.astype(np.float32) / 255.0, (56, 56),
                         interpolation=cv2.INTER_LINEAR)
        patch = photo[y0 + 70:y0 + 126, x0 + 100:x0 + 156]
        patch[:] = patch * (1.0 - 0.8 * ink)
    return np.clip(photo, 0.0, 1.0)


def _read_right(photos: list) -> int:
    """How many of ``photos`` (float32 (H, W) in [0, 1], index = label) the default model
    reads as their label through ``to_mnist``, as ``cnn predict`` chooses candidates."""
    from cnn.tasks.predict import confidence_of
    from cnn.tasks.predictor import load_predictor

    _, model = load_predictor(None)
    read = 0
    for label, photo in enumerate(photos):
        x = to_mnist((photo * 255).astype(np.uint8), choose=confidence_of(model))
        read += int(np.argmax(model.predict_proba(x[None])[0])) == label
    return read


def test_a_small_card_far_away_is_the_sheet_and_its_dark_digit_is_read(test_digits):
    # A card under 15 % of the photo, its digit too small to leave a hole at 256 px, was taken
    # for light ink on a dark ground (the card read as the digit): phone photos "far".
    from cnn.vision.polarity import _bright_sheet, _ink_sign

    rng = np.random.default_rng(4)
    photos = [_card_far_away(test_digits[label][0], rng) for label in range(10)]
    for label, photo in enumerate(photos):
        sheet = _bright_sheet(photo)
        assert sheet is not None, label
        assert 0.03 < sheet.mean() < 0.15  # the card, not the desk
        assert _ink_sign(photo, "auto") < 0  # dark ink on the card
    assert _read_right(photos) >= 8


def _large_card(rng, top: int = 200) -> np.ndarray:
    """A 960 x 1280 grey photo of a light card (520 x 640 px, 27 % of the picture) on a dark,
    grainy desk, from row ``top`` down (0: it runs out of the picture at the top), with "4071"
    written on it in a thin, light pen (strokes 2-3 px wide, 30 % darker than the card: at
    256 px lighter than Otsu's threshold, so no hole there)."""
    photo = (0.3 + 0.04 * rng.standard_normal((960, 1280))).astype(np.float32)
    photo[top:top + 520, 300:940] = 0.88 + 0.01 * rng.standard_normal((520, 640))
    pen = np.zeros(photo.shape, np.uint8)
    cv2.putText(pen, "4071", (420, top + 300), cv2.FONT_HERSHEY_SIMPLEX, 3.0, 255, 2,
                cv2.LINE_AA)
    return np.clip(photo * (1.0 - 0.3 * pen / 255.0), 0.0, 1.0).astype(np.float32)


@pytest.mark.parametrize("top", [200, 0])
def test_a_large_card_with_a_thin_pens_number_is_the_sheet(top):
    # Cards of 15-40 % of the photo, their number in a thin pen, were taken for light ink on a
    # dark ground (number photos B: "5500" read "1111"): only cards under 15 % were looked at
    # for marks too fine for 256 px. Now any sheet that reaches at most one side is.
    from cnn.vision.polarity import _bright_sheet, _ink_sign, _sides_touched

    photo = _large_card(np.random.default_rng(8), top)
    sheet = _bright_sheet(photo)
    assert sheet is not None and 0.2 < sheet.mean() < 0.35
    assert _sides_touched(sheet) == (1 if top == 0 else 0)
    assert _ink_sign(photo, "auto") < 0  # dark ink on the card
    blank = _large_card(np.random.default_rng(8), top)
    blank[top + 150:top + 350, 400:900] = photo[top + 10:top + 210, 400:900]  # wipe the pen
    assert _bright_sheet(blank) is None  # no mark: a light blob, not a sheet


def test_specks_in_a_large_chalk_smear_are_no_writing():
    # A chalk "7" over a light eraser smear (a third of the picture, in view) where the board
    # shows through in a few specks: the large-sheet branch must not read the specks as a
    # pen's marks (the chalk would then be lost as the "paper").
    from cnn.vision.polarity import _bright_sheet, _ink_sign

    rng = np.random.default_rng(3)
    board = 0.15 + 0.03 * rng.standard_normal((960, 1280))
    smear = np.zeros((960, 1280), np.float32)
    cv2.ellipse(smear, (640, 480), (420, 300), 0, 0, 360, 1, -1)
    img = np.where(smear > 0, 0.5 + 0.02 * rng.standard_normal(smear.shape), board)
    for i in range(5):
        cv2.circle(img, (450 + 80 * i, 650), 4, 0.2, -1)
    chalk = np.zeros_like(smear)
    cv2.line(chalk, (500, 300), (780, 300), 1, 30)
    cv2.line(chalk, (780, 300), (600, 700), 1, 30)
    img = np.where(chalk > 0, 0.95 + 0.1 * rng.standard_normal(img.shape), img)
    img = np.clip(img, 0, 1).astype(np.float32)
    assert _bright_sheet(img) is None
    assert _ink_sign(img, "auto") > 0  # light chalk on a dark board


def test_a_blank_card_or_a_light_stroke_on_black_is_no_sheet():
    from cnn.vision.polarity import _bright_sheet

    rng = np.random.default_rng(5)
    assert _bright_sheet(_card_far_away(None, rng)) is None  # no mark on it
    canvas = np.zeros((480, 640), np.float32)
    cv2.line(canvas, (300, 100), (340, 380), 1.0, 40)  # a thick chalk "1": no hole, no mark
    assert _bright_sheet(canvas) is None
    # a large light region without a hole at 256 px that runs out of the picture on two
    # sides is no sheet (its fine "marks" are not looked for: a page's lit part beside a hard
    # shadow shades into darker paper)
    lit = np.full((960, 1280), 0.25, np.float32)
    lit[0:800, 0:700] = np.linspace(0.95, 0.8, 700, dtype=np.float32)[None, :]
    lit[400:420, 300:303] = 0.3  # a small dark mark, too small for 256 px
    assert _bright_sheet(lit) is None
    # chalk has grain: scattered dark specks in a light stroke are no marks on a sheet
    board = (0.15 + 0.03 * rng.standard_normal((960, 1280))).astype(np.float32)
    stroke = np.zeros(board.shape, np.uint8)
    cv2.line(stroke, (560, 200), (700, 760), 1, 90)
    grain = 0.85 + 0.2 * rng.standard_normal(board.shape)
    board = np.clip(np.where(stroke > 0, grain, board), 0, 1).astype(np.float32)
    assert _bright_sheet(board) is None


def _glare_on_a_board(digit: np.ndarray, rng, centre=(300, 800)) -> np.ndarray:
    """A 960 x 1280 grey photo of a grey whiteboard with ``digit`` (MNIST uint8 (28, 28))
    written on it in dark marker about 300 px tall, and a lamp's reflection beside it: a
    bright round spot (Gaussian, sigma 120 px) saturating at its core."""
    yy, xx = np.mgrid[0:960, 0:1280].astype(np.float32)
    spot = 0.9 * np.exp(-((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2) / (2 * 120.0 ** 2))
    board = 0.55 + spot + 0.01 * rng.standard_normal((960, 1280))
    ink = cv2.resize(digit.astype(np.float32) / 255.0, (300, 300), interpolation=cv2.INTER_LINEAR)
    board[330:630, 300:600] *= 1.0 - 0.85 * ink
    return np.clip(board, 0.0, 1.0).astype(np.float32)


def test_a_glare_spot_is_no_light_ink(test_digits):
    # A lamp's reflection on a whiteboard or a glossy sheet was the light tail that made the
    # picture look light-on-dark (phone photos "glare": 17 of 20 turned away).
    from cnn.vision.polarity import _glare, _ink_sign

    rng = np.random.default_rng(6)
    photos = [_glare_on_a_board(test_digits[label][0], rng) for label in range(10)]
    for label, photo in enumerate(photos):
        assert _glare(photo), label
        assert _ink_sign(photo, "auto") < 0, label  # the marker's dark ink
    assert _read_right(photos) >= 8


def test_chalk_strokes_and_a_thick_light_digit_are_no_glare(test_digits):
    from cnn.vision.polarity import _glare, _ink_sign

    rng = np.random.default_rng(7)
    board = (0.15 + 0.02 * rng.standard_normal((960, 1280))).astype(np.float32)
    for label in (0, 8):
        ink = cv2.resize(test_digits[label][0].astype(np.float32) / 255.0, (400, 400))
        chalk = board.copy()
        chalk[280:680, 440:840] = np.maximum(chalk[280:680, 440:840], 0.9 * ink)
        assert not _glare(chalk) and _ink_sign(chalk, "auto") > 0
    # a white brush stroke as thick as a glare spot but long, beside dark marks: not round
    screen = (0.3 + 0.02 * rng.standard_normal((600, 800))).astype(np.float32)
    cv2.line(screen, (300, 60), (300, 540), 1.0, 130)
    cv2.line(screen, (600, 200), (700, 400), 0.0, 12)
    assert not _glare(screen)
    # a light round object on a plain dark ground: round and thick, but no dark ink beside
    for seed in range(10):
        ground = (0.2 + 0.02 * np.random.default_rng(seed).standard_normal((960, 1280)))
        ground = ground.astype(np.float32)
        cv2.circle(ground, (640, 480), 200, 0.95, -1)
        assert not _glare(ground), seed
    # a small light dot beside dark writing: round, but no thicker than a stroke
    dot = _glare_on_a_board(test_digits[3][0], rng)
    dot[:] = np.clip(0.55 + 0.01 * rng.standard_normal(dot.shape), 0, 1)
    cv2.circle(dot, (900, 300), 30, 1.0, -1)
    cv2.line(dot, (300, 400), (500, 600), 0.05, 20)
    assert not _glare(dot)
