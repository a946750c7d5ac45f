"""Image parameterizations and the random warp of activation maximization.

``"pixel"`` (sigmoid of free logits) and ``"fourier"`` (lucid's ``fft_image``, 1/f-scaled
spectrum), and the jitter/scale/rotate warp with its exact adjoint, after lucid
``optvis/param`` and ``optvis/transform`` (Olah, Mordvintsev & Schubert, Distill 2017).
"""

from __future__ import annotations

import numpy as np

from cnn.errors import UserError

DEFAULT_JITTER = 2  # pixels


INIT_SD = 0.01  # lucid's default standard deviation of the initial parameters


FOURIER_MAGIC = 4.0  # lucid's fft_image divides the image by this ("magic") constant


PARAMETERIZATIONS = ("pixel", "fourier")


# ------------------------------------------------------------------- parameterizations
def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic function, computed without overflow for large ``|z|``."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


class PixelParam:
    """Image = ``sigmoid(z)``, one free logit ``z`` per pixel (lucid ``pixel_image`` plus
    ``to_valid_rgb(..., sigmoid=True)``).

    Args:
        shape: image ``(H, W)``.
    """

    name = "pixel"

    def __init__(self, shape: tuple[int, int] = (28, 28)) -> None:
        self.shape = tuple(shape)

    def init(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Initial parameters, float64 ``(n, H, W)``, N(0, 0.01^2): a grey image with noise."""
        return rng.normal(0.0, INIT_SD, (n, *self.shape))

    def to_logits(self, p: np.ndarray) -> np.ndarray:
        """Pixel logits ``z``, ``(n, H, W)`` (the identity here)."""
        return p

    def logits_backward(self, dz: np.ndarray) -> np.ndarray:
        """d/dp from d/dz: the identity."""
        return dz

    def image(self, p: np.ndarray) -> np.ndarray:
        """The image, float64 ``(n, H, W)`` in (0, 1)."""
        return sigmoid(self.to_logits(p))

    def backward(self, x: np.ndarray, dx: np.ndarray) -> np.ndarray:
        """d/dp from d/dx, given the image ``x = image(p)``: through the sigmoid
        (``dx * x * (1 - x)``), then through the logits' map."""
        return self.logits_backward(dx * x * (1.0 - x))


class FourierParam(PixelParam):
    """Image = ``sigmoid(irfft2(scale * spectrum) / 4)``, lucid's ``fft_image`` (decay power 1).

    The spectrum has a real and an imaginary coefficient for every frequency of a real 2-D FFT,
    ``(n, 2, H, W // 2 + 1)``; ``scale = 1 / max(f, 1 / max(H, W)) ** decay_power`` with ``f``
    the frequency magnitude in cycles per pixel, and ``irfft2`` orthonormal (as lucent). The map
    from coefficients to logits is linear, so it is built once as a matrix ``basis``
    ``(2 * H * (W // 2 + 1), H * W)`` by transforming unit coefficients; its transpose is then
    the exact backward pass. (For 28 x 28 that is 840 x 784 numbers.)
    """

    name = "fourier"

    def __init__(self, shape: tuple[int, int] = (28, 28), decay_power: float = 1.0) -> None:
        super().__init__(shape)
        h, w = self.shape
        fy = np.fft.fftfreq(h)[:, None]
        fx = np.fft.rfftfreq(w)[None, :]
        freqs = np.sqrt(fx * fx + fy * fy)  # (H, W // 2 + 1)
        scale = 1.0 / np.maximum(freqs, 1.0 / max(h, w)) ** decay_power
        self.spectrum_shape = (2, h, w // 2 + 1)
        size = int(np.prod(self.spectrum_shape))
        unit = np.eye(size).reshape(size, *self.spectrum_shape)
        spectrum = (unit[:, 0] + 1j * unit[:, 1]) * scale
        self.basis = (np.fft.irfft2(spectrum, s=(h, w), norm="ortho")
                      / FOURIER_MAGIC).reshape(size, h * w)

    def init(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Initial spectra, float64 ``(n, 2, H, W // 2 + 1)``, N(0, 0.01^2)."""
        return rng.normal(0.0, INIT_SD, (n, *self.spectrum_shape))

    def to_logits(self, p: np.ndarray) -> np.ndarray:
        return (p.reshape(len(p), -1) @ self.basis).reshape(len(p), *self.shape)

    def logits_backward(self, dz: np.ndarray) -> np.ndarray:
        return (dz.reshape(len(dz), -1) @ self.basis.T).reshape(len(dz), *self.spectrum_shape)


def make_param(name: str, shape: tuple[int, int] = (28, 28)) -> PixelParam:
    """``'pixel'`` or ``'fourier'`` parameterization.

    Raises:
        UserError: for another name.
    """
    if name == "pixel":
        return PixelParam(shape)
    if name == "fourier":
        return FourierParam(shape)
    raise UserError(f"unknown parameterization {name!r}: choose pixel or fourier")


# ------------------------------------------------------------------- transformations
class Warp:
    """A batch of affine image warps (shift, scale, rotation about the centre) with bilinear
    sampling, and its exact adjoint for the backward pass.

    Output pixel ``(i, j)`` of image ``n`` reads the source at
    ``R(-angle) / scale @ ((i, j) - c) + c - shift``, ``c`` the image centre; source pixels
    outside the frame read 0 (black background). Whole-pixel shifts with scale 1 and angle 0
    move pixels exactly, with no interpolation.

    Args:
        shape: image ``(H, W)``.
        shifts: float ``(N, 2)``, (rows, columns) in pixels; scales: ``(N,)``; angles: ``(N,)``
            in degrees, counter-clockwise as displayed.
    """

    def __init__(self, shape: tuple[int, int], shifts: np.ndarray, scales: np.ndarray,
                 angles: np.ndarray) -> None:
        h, w = shape
        n = len(shifts)
        self.shape, self.n = (h, w), n
        rows, cols = np.mgrid[0:h, 0:w]
        ci, cj = (h - 1) / 2.0, (w - 1) / 2.0
        di, dj = rows.ravel() - ci, cols.ravel() - cj  # (P,)
        theta = np.deg2rad(np.asarray(angles, dtype=np.float64))[:, None]
        s = np.asarray(scales, dtype=np.float64)[:, None]
        cos, sin = np.cos(theta) / s, np.sin(theta) / s
        u = cos * di - sin * dj + ci - shifts[:, :1]  # source row, (N, P)
        v = sin * di + cos * dj + cj - shifts[:, 1:]  # source column
        i0, j0 = np.floor(u), np.floor(v)
        fu, fv = u - i0, v - j0
        index, weight = [], []
        for a, b, wt in ((0, 0, (1 - fu) * (1 - fv)), (0, 1, (1 - fu) * fv),
                         (1, 0, fu * (1 - fv)), (1, 1, fu * fv)):
            ii, jj = i0 + a, j0 + b
            valid = (ii >= 0) & (ii < h) & (jj >= 0) & (jj < w)
            flat = np.where(valid, ii * w + jj, 0).astype(np.int64)
            index.append(flat + (np.arange(n) * h * w)[:, None])
            weight.append(np.where(valid, wt, 0.0))
        self.index = np.stack(index, axis=-1)  # (N, P, 4) into the flattened batch
        self.weight = np.stack(weight, axis=-1)

    @classmethod
    def random(cls, rng: np.random.Generator, n: int, shape: tuple[int, int] = (28, 28),
               jitter: int = DEFAULT_JITTER, scale: float = 0.0, rotate: float = 0.0) -> "Warp":
        """Random warps: whole-pixel shifts uniform in [-jitter, jitter] on each axis, scale
        uniform in [1 - scale, 1 + scale], angle uniform in [-rotate, rotate] degrees."""
        shifts = rng.integers(-jitter, jitter + 1, size=(n, 2)).astype(np.float64)
        scales = rng.uniform(1 - scale, 1 + scale, n) if scale else np.ones(n)
        angles = rng.uniform(-rotate, rotate, n) if rotate else np.zeros(n)
        return cls(shape, shifts, scales, angles)

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Warp a batch ``(N, H, W)``."""
        flat = x.reshape(-1)
        return (flat[self.index] * self.weight).sum(axis=-1).reshape(self.n, *self.shape)

    def adjoint(self, g: np.ndarray) -> np.ndarray:
        """The transpose of :meth:`apply`: d/dx from d/d(warped x), ``(N, H, W)``."""
        h, w = self.shape
        contrib = self.weight * g.reshape(self.n, h * w, 1)
        out = np.bincount(self.index.ravel(), contrib.ravel(), minlength=self.n * h * w)
        return out.reshape(self.n, h, w)


# ------------------------------------------------------------------- regularizers
def regularizers(x: np.ndarray, l2: float, tv: float) -> tuple[np.ndarray, np.ndarray]:
    """Penalty of each image and its gradient.

    ``l2 * sum(x ** 2) + tv * (sum |x[i+1,j] - x[i,j]| + sum |x[i,j+1] - x[i,j]|)``: L2 towards
    the black background and total variation as ``tf.image.total_variation`` (lucid's
    ``objectives.L2`` and ``objectives.total_variation``; squared L2 so that its pull is
    proportional to the pixel's value). The objective's gradient is scaled to a mean absolute
    value of 1 per pixel before the two are combined (see :func:`visualize_channels`), so a
    weight of 0.5 means: a white pixel is kept only where the objective's gradient there is
    at least the average.

    Args:
        x: images ``(N, H, W)``.
    Returns:
        ``(penalty (N,), d penalty / dx (N, H, W))``.
    """
    penalty = l2 * (x * x).sum(axis=(1, 2))
    grad = (2.0 * l2) * x
    if tv:
        dr, dc = np.diff(x, axis=1), np.diff(x, axis=2)
        penalty = penalty + tv * (np.abs(dr).sum(axis=(1, 2)) + np.abs(dc).sum(axis=(1, 2)))
        sr, sc = tv * np.sign(dr), tv * np.sign(dc)
        grad[:, 1:, :] += sr
        grad[:, :-1, :] -= sr
        grad[:, :, 1:] += sc
        grad[:, :, :-1] -= sc
    return penalty, grad
