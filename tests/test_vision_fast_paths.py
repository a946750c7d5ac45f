"""The photo pipeline's fast paths against plain references (issue 30), and the number
reader's budget of candidate segments.

Each stage that was made cheaper must give what the plain computation gives: exactly where the
fast path is an identity (the ruled-line band, the percentile, the centre of mass and block
mean), within a stated tolerance where it is an approximation (the opening at half size, a
large crop reduced before normalisation).
"""

from __future__ import annotations

import os
import threading

import cv2
import numpy as np
import pytest
from scipy import ndimage

from cnn.vision.cuts import _MAX_PIECES, _MAX_WIDTH, _MIN_CUT_GAP, _pieces, _within_budget
from cnn.vision.illumination import _COARSE_OPENING, _opening, _reconstruct
from cnn.vision.measures import percentile as _percentile
from cnn.vision.normalize import _normalise, _place, _restroke
from cnn.vision.segment import _remove_long_lines


def _lines_reference(mask: np.ndarray, pad: int) -> np.ndarray:
    """_remove_long_lines as first written: the opening and labelling over the whole picture."""
    h, w = mask.shape
    inner_w, inner_h = w - 2 * pad, h - 2 * pad
    found = {}
    for axis, length in ((1, int(0.8 * inner_w)), (0, int(0.8 * inner_h))):
        if length < 20:
            continue
        kernel = np.ones((1, length) if axis == 1 else (length, 1), np.uint8)
        across = np.ones((9, 1) if axis == 1 else (1, 9), np.uint8)
        runs = cv2.morphologyEx(cv2.dilate(mask, across), cv2.MORPH_OPEN, kernel) & mask
        n, labels, stats, _ = cv2.connectedComponentsWithStats(runs, connectivity=8)
        max_thick = max(3.0, 0.08 * min(inner_w, inner_h))
        thin = [i for i in range(1, n)
                if stats[i, cv2.CC_STAT_AREA] / max(stats[i, 2 + (axis == 0)], 1) <= max_thick]
        if thin:
            runs = np.isin(labels, thin).astype(np.uint8)
            grow = np.ones((3, 1) if axis == 1 else (1, 3), np.uint8)
            found[axis] = (cv2.dilate(runs, grow) & mask, length)
    if not found:
        return mask
    lines = np.zeros_like(mask)
    rest = mask.copy()
    for runs, _ in found.values():
        rest &= 1 - runs
    m, _, rstats, _ = cv2.connectedComponentsWithStats(rest, connectivity=8)
    for axis, (runs, length) in found.items():
        if m > 1:
            biggest = 1 + int(np.argmax(rstats[1:, cv2.CC_STAT_AREA]))
            if rstats[biggest, 2 if axis == 1 else 3] >= 0.6 * length:
                continue
        lines |= runs
    if not lines.any():
        return mask
    rest = mask & (1 - lines)
    n, _, stats, _ = cv2.connectedComponentsWithStats(lines, connectivity=8)
    length = int(sum(max(stats[i, 2], stats[i, 3]) for i in range(1, n)))
    thick = int(max(3, 2 * lines.sum() / max(1, length)))
    across_h = cv2.morphologyEx(rest, cv2.MORPH_CLOSE, np.ones((thick + 2, 1), np.uint8))
    across_v = cv2.morphologyEx(rest, cv2.MORPH_CLOSE, np.ones((1, thick + 2), np.uint8))
    return rest | (lines & (across_h | across_v))


def _ruled_page(seed: int) -> tuple[np.ndarray, int]:
    """A padded binary mask: a digit-like scribble, ruled lines (some drifting, some broken),
    a margin line, specks; uint8 (H, W) and the pad."""
    rng = np.random.default_rng(seed)
    h, w, pad = int(rng.integers(120, 260)), int(rng.integers(120, 260)), 30
    mask = np.zeros((h + 2 * pad, w + 2 * pad), np.uint8)
    inner = mask[pad:pad + h, pad:pad + w]
    for _ in range(int(rng.integers(0, 5))):
        y = int(rng.integers(0, h))
        drift = int(rng.integers(-3, 4))
        x0, x1 = int(rng.integers(0, w // 5)), int(rng.integers(4 * w // 5, w))
        cv2.line(inner, (x0, y), (x1, min(h - 1, max(0, y + drift))), 1,
                 int(rng.integers(1, 4)))
    if rng.random() < 0.5:
        x = int(rng.integers(0, w))
        cv2.line(inner, (x, 0), (x, h - 1), 1, 2)
    cv2.ellipse(inner, (w // 2, h // 2), (w // 6, h // 4), int(rng.integers(0, 180)), 0, 300, 1,
                int(rng.integers(2, 7)))
    inner |= (rng.random(inner.shape) < 0.002).astype(np.uint8)
    return mask, pad


@pytest.mark.parametrize("seed", range(12))
def test_ruled_lines_removed_in_their_band_equal_the_whole_picture_reference(seed):
    mask, pad = _ruled_page(seed)
    np.testing.assert_array_equal(_remove_long_lines(mask, pad), _lines_reference(mask, pad))


def test_the_reference_does_remove_lines_so_the_comparison_means_something():
    removed = [int((_lines_reference(*_ruled_page(s)) != _ruled_page(s)[0]).sum())
               for s in range(12)]
    assert sum(r > 0 for r in removed) >= 6


def _shadowed_paper(shape=(301, 403), seed=0) -> np.ndarray:
    """Ink-bright float32 picture: a smooth light gradient, a hard shadow's wedge, strokes."""
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    work = 0.1 + 0.15 * xx / w + 0.05 * yy / h
    work[(xx - 0.6 * w) > 0.8 * (yy - 0.2 * h)] += 0.25  # the wedge
    for _ in range(6):
        p = rng.integers(0, [w, h], size=(2, 2))
        cv2.line(work, tuple(map(int, p[0])), tuple(map(int, p[1])), 0.9, 3)
    return (work + rng.normal(0, 0.01, work.shape)).astype(np.float32)


def test_small_openings_are_the_exact_grey_opening():
    work = _shadowed_paper()
    size = _COARSE_OPENING - 1
    np.testing.assert_array_equal(
        _opening(work, size), ndimage.grey_opening(work, size=(size, size), mode="nearest"))


@pytest.mark.parametrize("shape", [(301, 403), (300, 400), (257, 180)])
def test_large_openings_at_half_size_follow_the_full_opening(shape):
    work = _shadowed_paper(shape)
    size = int(0.45 * min(shape))
    assert size >= _COARSE_OPENING
    fast = _opening(work, size)
    full = ndimage.grey_opening(work, size=(size, size), mode="nearest")
    assert fast.shape == work.shape and fast.dtype == np.float32
    assert np.all(fast <= work)
    # the strokes are gone (the background stays under the ink level) ...
    assert float(fast.max()) < 0.6
    # ... and away from the edges of the opening's flat regions the two agree closely
    diff = np.abs(fast - full)
    assert float(np.median(diff)) < 0.01
    assert float(np.mean(diff > 0.05)) < 0.03


@pytest.mark.parametrize("shape", [(301, 403), (300, 400), (257, 180)])
def test_the_half_size_opening_is_its_plain_numpy_formula(shape):
    work = _shadowed_paper(shape, seed=3)
    size = int(0.45 * min(shape))
    h, w = shape
    even = np.pad(work, ((0, h % 2), (0, w % 2)), mode="edge")
    blocks = np.minimum(np.minimum(even[0::2, 0::2], even[1::2, 0::2]),
                        np.minimum(even[0::2, 1::2], even[1::2, 1::2]))
    coarse = ndimage.grey_opening(blocks, size=(size // 2, size // 2), mode="nearest")
    full = np.repeat(np.repeat(coarse, 2, axis=0), 2, axis=1)[:h, :w]
    np.testing.assert_array_equal(_opening(work, size), np.minimum(full, work))


def _reconstruct_reference(marker: np.ndarray, image: np.ndarray, side: int = 256) -> np.ndarray:
    """_reconstruct as first written: float geodesic dilations, checked after each one."""
    h, w = image.shape
    factor = min(1.0, side / max(h, w))
    size = (max(2, round(w * factor)), max(2, round(h * factor)))
    small_image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    small = np.minimum(cv2.resize(marker, size, interpolation=cv2.INTER_AREA), small_image)
    for _ in range(4 * max(size)):
        grown = np.minimum(cv2.dilate(small, np.ones((3, 3), np.uint8)), small_image)
        if np.array_equal(grown, small):
            break
        small = grown
    flooded = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.maximum(marker, np.minimum(flooded, image))


@pytest.mark.parametrize("shape", [(301, 403), (700, 520)])
def test_reconstruction_at_16_bits_is_the_float_reconstruction(shape):
    work = _shadowed_paper(shape, seed=2)
    marker = _opening(work, int(0.45 * min(shape)))
    fast, reference = _reconstruct(marker, work), _reconstruct_reference(marker, work)
    assert fast.dtype == np.float32 and fast.shape == work.shape
    assert float(np.abs(fast - reference).max()) < 2e-5
    # and it did flood: the wedge's tip, which the opening's square cannot enter, is back
    assert float(np.abs(reference - marker).max()) > 0.1


@pytest.mark.parametrize("n", [1, 2, 3, 10, 101, 1000])
@pytest.mark.parametrize("q", [0, 60, 75, 100])
def test_percentile_is_numpys_linear_percentile(n, q):
    values = np.random.default_rng(n).random(n).astype(np.float32)
    assert _percentile(values.copy(), q) == pytest.approx(float(np.percentile(values, q)),
                                                          abs=1e-7)


@pytest.mark.parametrize("seed", range(5))
def test_place_centres_by_the_centre_of_mass_and_averages_4x4_blocks(seed):
    rng = np.random.default_rng(seed)
    digit = np.zeros((int(rng.integers(30, 78)), int(rng.integers(10, 78))), np.float32)
    cv2.ellipse(digit, (digit.shape[1] // 2, digit.shape[0] // 3),
                (digit.shape[1] // 3, digit.shape[0] // 4), 0, 0, 270, 1.0, 5)
    out = _place(digit)
    assert out.shape == (28, 28)
    # the same placement by the textbook route: ndimage's centre of mass, reshape-mean
    cy, cx = ndimage.center_of_mass(digit)
    top, left = int(round(4 * 14 + 1.5 - cy)), int(round(4 * 14 + 1.5 - cx))
    fine = np.zeros((112, 112), np.float32)
    fine[top:top + digit.shape[0], left:left + digit.shape[1]] = digit
    np.testing.assert_allclose(out, fine.reshape(28, 4, 28, 4).mean(axis=(1, 3)), atol=1e-6)


def _ring_digit(side: int, thick: int) -> tuple[np.ndarray, np.ndarray, tuple]:
    """A slanted "0" as ink (float32 in [0, 1]) about ``side`` px high, strokes ``thick`` px,
    its selection and box."""
    canvas = np.zeros((side + 20, side + 20), np.float32)
    c = side // 2 + 10
    cv2.ellipse(canvas, (c, c), (side // 3, side // 2 - 2 - thick), 10, 0, 360, 1.0, thick,
                cv2.LINE_AA)
    selected = canvas > 0.3
    ys, xs = np.nonzero(selected)
    return canvas, selected, (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)


@pytest.mark.parametrize("side, thick", [(500, 3), (900, 40), (1200, 2), (900, 200), (600, 90),
                                         (700, 140)])
def test_a_large_crop_reduced_first_is_normalised_like_the_full_crop(monkeypatch, side, thick):
    """Thin strokes (thickened on the reduced crop) and very thick ones (thinned on it): the
    28 x 28 digit matches the one computed at full size (the plain path, no reduction)."""
    ink, selected, box = _ring_digit(side, thick)
    fast = _normalise(ink, selected, box, 0.3)
    monkeypatch.setattr("cnn.vision.normalize._CROP_SIDE", 10 ** 6)
    full = _normalise(ink, selected, box, 0.3)
    assert fast.shape == (28, 28) and fast.dtype == np.float32
    assert float(np.abs(fast - full).mean()) < 0.02
    assert np.corrcoef(fast.ravel(), full.ravel())[0, 1] > 0.97


@pytest.mark.parametrize("change", [-17, -9, -2, 1, 6, 12])
def test_restroke_at_8_bits_is_the_float_morphology_rounded(change):
    """Erosion and dilation commute with rounding to 8 bits: the fast path's result is the
    float32 morphology's, rounded to the nearest 1/255, on a digit's anti-aliased strokes."""
    ink, _, _ = _ring_digit(300, 25)
    noisy = np.clip(ink + 0.03 * np.random.default_rng(change + 20).random(ink.shape,
                                                                          np.float32), 0, 1)
    size = abs(change) + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    exact = (cv2.dilate if change > 0 else cv2.erode)(noisy, kernel)
    got = _restroke(noisy, change)
    assert got.dtype == np.float32 and got.shape == noisy.shape
    assert np.array_equal(got, np.floor(exact * 255.0 + 0.5).astype(np.float32)
                          / np.float32(255.0))
    assert float(np.abs(got - exact).max()) <= 0.5 / 255 + 1e-6
    assert (got < noisy).any() if change < 0 else (got > noisy).any()  # it did move the ink


def test_pieces_counts_the_pairs_of_cuts_at_most_the_widest_segment_apart():
    rng = np.random.default_rng(3)
    cuts = sorted(set(rng.integers(0, 600, 80).tolist()))
    height = 40.0
    brute = sum(1 for i in range(len(cuts)) for j in range(i + 1, len(cuts))
                if cuts[j] - cuts[i] <= _MAX_WIDTH * height)
    assert _pieces(cuts, height) == brute


def test_a_clean_line_keeps_every_cut_inside_its_blobs():
    height = 60.0
    fixed = [0, 130, 260]
    inside = [40, 65, 90, 175, 200, 225]
    assert _within_budget(inside, fixed, height) == set(inside)


def test_a_textured_blob_is_thinned_to_the_budget_keeping_the_blob_boundaries():
    height = 30.0
    fixed = [0, 1000]
    inside = list(range(3, 1000, 3))  # a minimum every 3 px: thousands of segments
    assert _pieces(sorted(set(inside) | set(fixed)), height) > 10 * _MAX_PIECES
    kept = _within_budget(inside, fixed, height)
    assert kept and kept < set(inside)
    assert _pieces(sorted(kept | set(fixed)), height) <= _MAX_PIECES
    gaps = np.diff(sorted(kept))
    assert gaps.min() >= _MIN_CUT_GAP * height  # thinned evenly, not cut off at one end
    assert max(kept) > 900


def test_many_blobs_alone_over_the_budget_drop_every_inside_cut_and_end():
    height = 20.0
    fixed = list(range(0, 3000, 4))  # hundreds of specks side by side: blob boundaries only
    assert _pieces(fixed, height) > _MAX_PIECES
    assert _within_budget([1, 2, 5, 6, 9], fixed, height) == set()


@pytest.mark.parametrize("seed", range(6))
def test_components_over_the_ink_box_equal_opencvs_over_the_whole_picture(seed):
    from cnn.vision.measures import components

    rng = np.random.default_rng(seed)
    for _ in range(60):
        h, w = (int(v) for v in rng.integers(3, 400 if seed < 3 else 60, 2))
        mask = (rng.random((h, w)) > rng.uniform(0.6, 0.995)).astype(np.uint8)
        if rng.random() < 0.5:
            mask = cv2.dilate(mask, np.ones((3, 3), np.uint8))
        if rng.random() < 0.8:  # ink in a box of the picture, its corner at odd or even x, y
            top, left = (int(v) for v in rng.integers(0, [h, w]))
            mask[:top] = 0
            mask[:, :left] = 0
            mask[int(rng.integers(top, h + 1)):] = 0
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        got = components(mask)
        assert got[0] == n
        assert np.array_equal(got[1], labels)  # the same numbering, not only the same parts
        assert np.array_equal(got[2][1:], stats[1:])
        assert got[2][0, 4] == stats[0, 4]
    assert components(np.zeros((5, 7), np.uint8))[0] == 1


@pytest.mark.parametrize("seed", range(6))
def test_among_is_numpys_isin_for_integer_labels(seed):
    from cnn.vision.measures import among

    rng = np.random.default_rng(seed)
    for _ in range(40):
        top = int(rng.choice([3, 40, 3000]))
        dtype = rng.choice([np.int32, np.int64, np.uint8]) if top < 256 else np.int32
        labels = rng.integers(0, top, tuple(rng.integers(1, 60, 2))).astype(dtype)
        if rng.random() < 0.3:
            labels = labels[::2, 1:]  # a strided view
        if rng.random() < 0.2 and labels.dtype != np.uint8:
            labels = labels - top // 2  # negative labels
        k = int(rng.choice([0, 1, 2, 5, 8, 9, 30]))
        values = rng.integers(-5, top + 5, k).tolist()
        got, want = among(labels, values), np.isin(labels, values)
        assert got.dtype == bool and got.shape == labels.shape
        assert np.array_equal(got, want), (k, top)


def test_labelling_the_same_mask_again_gives_the_same_read_only_arrays():
    from cnn.vision.measures import components

    mask = np.zeros((60, 80), np.uint8)
    mask[10:20, 10:30] = 1
    mask[40:50, 50:60] = 1
    n, labels, stats = components(mask)
    again = components(mask.copy())  # equal values: the stages label one mask in turn
    assert again[0] == n and again[1] is labels and again[2] is stats
    with pytest.raises(ValueError):
        labels[0, 0] = 5  # shared: nobody may change it
    mask[40:50, 50:60] = 0  # a different mask: labelled anew, as OpenCV labels it
    n2, labels2, _ = components(mask)
    assert n2 == 2 and labels2 is not labels
    assert np.array_equal(labels2, cv2.connectedComponentsWithStats(mask, connectivity=8)[1])
    assert components(mask.astype(bool).view(np.uint8))[1] is labels2
    assert components(np.zeros((5, 7), np.uint8))[0] == 1 and components(mask)[0] == 2


@pytest.mark.parametrize("seed", range(4))
def test_a_digit_normalised_from_a_crop_with_its_origin_equals_the_whole_pictures(seed):
    from cnn.vision.normalize import _normalise

    rng = np.random.default_rng(seed)
    ink = np.zeros((300, 400), np.float32)
    cv2.ellipse(ink, (200, 150), (30 + 10 * seed, 60), 15 * seed, 0, 300, 1.0, 1 + 4 * seed)
    ink = cv2.GaussianBlur(ink, (0, 0), 1.0)  # anti-aliased edges around the mask
    selected = ink > 0.2
    ys, xs = np.nonzero(selected)
    box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    whole = _normalise(ink, selected, box, 0.3)
    # a crop exactly around the digit (as the number reader cuts a line), and one with margin
    for margin in (0, int(rng.integers(1, 30))):
        y0, x0 = box[1] - margin, box[0] - margin
        crop = selected[y0:box[3] + margin, x0:box[2] + margin]
        inner = (box[0] - x0, box[1] - y0, box[2] - x0, box[3] - y0)
        assert np.array_equal(_normalise(ink, crop, inner, 0.3, (y0, x0)), whole)
    if seed == 0:  # a thin stroke, thickened: what the reader did before, the ink cut at
        # the crop, lost the edges and the thickened stroke's outer half at the box
        tight = _normalise(ink[box[1]:box[3], box[0]:box[2]],
                           selected[box[1]:box[3], box[0]:box[2]],
                           (0, 0, box[2] - box[0], box[3] - box[1]), 0.3)
        assert np.abs(tight - whole).max() > 0.1


@pytest.mark.parametrize("kind", ["uniform", "8-bit levels", "periodic", "mostly zero",
                                  "sorted", "small"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_median_and_percentile_of_a_whole_picture_equal_numpys(kind, dtype):
    from cnn.vision.measures import median, order_statistics, percentile

    rng = np.random.default_rng(len(kind))
    for n in ([1, 2, 7, 1000, 39_999, 40_001, 99_999] if kind == "small" else [100_001, 250_000]):
        if kind == "uniform":
            x = rng.random(n)
        elif kind == "8-bit levels":  # a photo's grey levels: many ties
            x = rng.integers(0, 256, n) / 255.0
        elif kind == "periodic":  # a pattern against the sample's stride
            x = np.tile(np.linspace(0, 1, 97), n // 97 + 1)[:n]
        elif kind == "mostly zero":  # clipped paper: the bracket is one value
            x = np.zeros(n)
            x[rng.integers(0, n, n // 50)] = rng.random(n // 50)
        elif kind == "sorted":
            x = np.sort(rng.random(n))
        else:
            x = rng.random(n)
        x = x.astype(dtype).reshape(-1, 1) if n % 2 else x.astype(dtype)
        got, want = median(x), np.median(x)
        assert got == want and np.asarray(got).dtype == np.asarray(want).dtype
        for q in (0, 0.1, 25, 60, 75, 99.9, 100):
            got, want = percentile(x, q), np.percentile(x, q)
            assert got == want and np.asarray(got).dtype == np.asarray(want).dtype
        ranks = sorted({0, n // 3, n - 1})
        assert np.array_equal(order_statistics(x, ranks), np.sort(x.ravel())[ranks])
        # unsorted, with neighbours that share one bracket and one far away
        ranks = [n - 1, n // 2, max(0, n // 2 - 1), n // 2, min(n - 1, n // 2 + 3), 0]
        assert np.array_equal(order_statistics(x, ranks), np.sort(x.ravel())[ranks])


def _photo_of_a_digit(seed: int) -> np.ndarray:
    """(900, 1300, 3) uint8 BGR: an MNIST-like stroke in dark ink on a lit, shadowed sheet."""
    rng = np.random.default_rng(seed)
    page = 1.0 - _shadowed_paper((900, 1300), seed)  # paper bright, ink dark
    cv2.ellipse(page, (650, 450), (60, 110), 0, 0, 360, 0.15, 14)  # a "0"
    bgr = np.repeat((np.clip(page, 0, 1) * 255).astype(np.uint8)[:, :, None], 3, axis=2)
    return np.clip(bgr + rng.integers(0, 6, bgr.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_photo_reads_the_same_with_or_without_the_second_thread(monkeypatch, seed):
    from cnn.vision import pipeline

    image = _photo_of_a_digit(seed)
    light = 255 - image  # light ink: the dark-ink work made meanwhile is thrown away

    def scores(batch):  # any fixed scorer
        return batch.reshape(len(batch), -1).mean(axis=1)
    monkeypatch.setattr(cv2, "getNumThreads", lambda: 1)
    alone = pipeline.to_mnist(light, choose=scores)
    monkeypatch.setattr(cv2, "getNumThreads", lambda: 2)
    np.testing.assert_array_equal(alone, pipeline.to_mnist(light, choose=scores))
    monkeypatch.undo()
    ran_on = []
    plain = pipeline._beside

    def watched(fn, *args):
        def traced(*a):
            ran_on.append(threading.current_thread().name)
            return fn(*a)
        return plain(traced, *args)
    monkeypatch.setattr(pipeline, "_beside", watched)
    monkeypatch.setattr(cv2, "getNumThreads", lambda: 1)  # here and now
    alone = pipeline.to_mnist(image, choose=scores)
    assert ran_on == [threading.current_thread().name]  # the local background, here
    monkeypatch.setattr(cv2, "getNumThreads", lambda: 2)  # on the second thread
    beside = pipeline.to_mnist(image, choose=scores)
    # the dark-ink working image (made while the polarity is decided), the local background
    assert len(ran_on) == 3 and all(n.startswith("cnn-vision") for n in ran_on[1:])
    np.testing.assert_array_equal(alone, beside)


def test_beside_hands_over_results_and_errors_and_a_forked_child_makes_its_own_thread(
        monkeypatch):
    from cnn.vision import pipeline

    def fail():
        raise ValueError("broken")

    for threads in (1, 2):
        monkeypatch.setattr(cv2, "getNumThreads", lambda n=threads: n)
        assert pipeline._beside(pow, 3, 4).result() == 81
        with pytest.raises(ValueError, match="broken"):
            pipeline._beside(fail).result()
    made = pipeline._second_thread
    assert made is not None and made[0] == os.getpid()
    monkeypatch.setattr(pipeline, "_second_thread", (made[0] + 1, made[1]))  # as after fork
    assert pipeline._beside(pow, 2, 5).result() == 32
    assert pipeline._second_thread[0] == os.getpid() and pipeline._second_thread[1] is not made[1]


def test_grey_from_8_bit_colour_is_the_clipped_float_formula():
    from cnn.vision.decode import _to_gray

    image = np.random.default_rng(3).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    reference = np.clip(image.astype(np.float32) / 255.0, 0.0, 1.0) @ np.array(
        [0.114, 0.587, 0.299], np.float32)
    gray, from_alpha = _to_gray(image)
    assert not from_alpha and gray.dtype == np.float32
    np.testing.assert_array_equal(gray, reference)
    floats = np.full((4, 4), 1.5, np.float32)  # over 1: read as 0..255, still clipped
    floats[0, 0] = 300.0
    assert float(_to_gray(floats)[0].max()) == 1.0


@pytest.mark.parametrize("shape, side, expected", [((900, 1300), 650, (450, 650)),
                                                    ((30, 20), 64, (30, 20)),
                                                    ((1000, 3), 100, (100, 2))])
def test_reduced_keeps_small_pictures_and_shrinks_large_ones_by_their_area(shape, side,
                                                                           expected):
    from cnn.vision.measures import reduced

    image = np.random.default_rng(0).random(shape).astype(np.float32)
    small = reduced(image, side)
    assert small.shape == expected
    if expected == shape:
        assert small is image
    else:
        assert abs(float(small.mean()) - float(image.mean())) < 0.01


def test_a_forced_polarity_is_checked_on_the_full_picture():
    from cnn.vision.polarity import _ink_sign

    page = np.full((1440, 1920), 0.6, np.float32)  # large: "auto" would judge a 640-px copy
    cv2.circle(page, (300, 300), 15, 0.9, -1)  # a glare spot: light "ink"
    cv2.line(page, (900, 500), (1000, 900), 0.45, 1)  # a faint 1-px stroke: the dark ink
    assert _ink_sign(page, "dark-on-light") == -1.0  # the copy would dilute it to nothing
