"""Feature visualization by activation maximization: what does a channel respond to?

Starting from small random noise, an input image is optimized by gradient ascent so that it
excites one channel of one layer as much as possible; the image shows what the channel
"looks for". The method follows Olah, Mordvintsev & Schubert, "Feature Visualization",
Distill (2017), https://distill.pub/2017/feature-visualization/, and its reference
implementations lucid (``lucid/optvis``, TensorFlow) and lucent (``lucent/optvis``, PyTorch),
adapted to one 28 x 28 grey channel:

- **objective**: the mean *pre-ReLU* activation of the channel for convolution and pooling
  layers (lucid's ``objectives.channel``), the unit's pre-activation for FC layers, the class
  logit for the last layer. Pre-ReLU keeps a gradient for channels the image does not yet
  excite (a dead ReLU would give none), so even "dead" channels get a picture.
- **gradient**: the engine's own backward pass (``Sequential.backward(..., input_grad=True)``
  from the token's ``pre`` tap, in eval mode)
  gives d objective / d input; the weights are never changed (``backward`` fills ``grads``,
  only optimizers update ``params``, and no optimizer sees the network's layers here).
- **parameterization** (lucid ``optvis/param``): ``"pixel"``, the image is ``sigmoid(z)`` of
  free pixel logits ``z`` (always a valid image in (0, 1)); ``"fourier"``, ``z`` is the inverse
  real FFT of a spectrum whose coefficients are scaled by ``1 / max(f, 1/28)`` (``1/f``, decay
  power 1, lucid's ``fft_image``: equal steps in every frequency then favour the low
  frequencies natural images have), divided by lucid's "magic" 4, then the same sigmoid.
  Both start from N(0, 0.01^2) parameters, i.e. a grey image with small noise.
- **transformation robustness**: before each step the image is shifted by a random whole
  number of pixels in [-jitter, jitter] (lucid's ``jitter``; its 8 px at 224 px is ~1-2 px at
  28 px), optionally scaled and rotated (``random_scale``, ``random_rotate``); pixels moved in
  from outside the frame are 0, MNIST's black background. The gradient goes back through the
  exact adjoint of that bilinear warp.
- **regularizers**: L2 (``l2 * sum(x ** 2)``, lucid's ``objectives.L2``, which pulls pixels
  to the black background) and total variation (``tv * sum(|x[i+1,j] - x[i,j]| +
  |x[i,j+1] - x[i,j]|)``, lucid's ``objectives.total_variation``, which favours smooth
  strokes). So that one pair of weights suits every layer and channel, the objective's
  gradient of each image is first divided by its mean absolute value, as in Mordvintsev's
  DeepDream (``g / mean(|g|)``): the objectives' raw gradients differ by orders of magnitude
  between a first-layer channel and a logit, and a fixed weight would blank some channels
  and leave others unregularized. Defaults 0.3 and 0.3.
- **optimizer**: Adam (``cnn.optim.Adam``), lr 0.05, 256 steps by default, one seeded
  ``numpy.random.Generator``; a tqdm progress bar.
- **other objective**: ``"neuron"``, the centre unit of the channel only (lucid's
  ``objectives.neuron``). The first convolution's pre-activation is linear in the image and
  every interior pixel enters the channel's mean with the same coefficient (the sum of the
  filter), so the channel objective of layer 1 is maximized by a nearly flat image (white if
  the filter sums to more than 0, black otherwise); the neuron objective shows the pattern
  one unit of it responds to instead.

Layers are numbered as ``cnn summary`` prints them: the tokens of the model string, 1..T,
pooling counted. Channels are numbered from 0 (so channel ``d`` of the last layer is the logit
of digit ``d``); file names use the same channel number, ``feature_visualize_<channel>.png``.

Images here are network inputs: float ``(N, 28, 28)`` in [0, 1], white strokes on black.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
from tqdm import tqdm

from .errors import UserError
from .files import atomic_write
from .model import Sequential, to_input
from .optim import Adam
from .module import Tape
from .parse import AvgPool, BatchNorm, Conv, Dropout, FC, GlobalAvgPool, Pool, Residual

DEFAULT_STEPS = 256
DEFAULT_LR = 0.05
DEFAULT_JITTER = 2  # pixels
DEFAULT_L2 = 0.3
DEFAULT_TV = 0.3
INIT_SD = 0.01  # lucid's default standard deviation of the initial parameters
FOURIER_MAGIC = 4.0  # lucid's fft_image divides the image by this ("magic") constant
PARAMETERIZATIONS = ("pixel", "fourier")
OBJECTIVES = ("channel", "neuron")
UPSCALE = 10  # 28 x 28 -> 280 x 280, nearest neighbour


# ------------------------------------------------------------------- layers and channels
def check_layer(model: Sequential, layer: int) -> int:
    """Index (0-based, into ``model.specs``) of layer number ``layer`` (1-based).

    Raises:
        UserError: if ``layer`` is not in 1..T, listing the valid numbers and their tokens.
    """
    count = len(model.specs)
    if not isinstance(layer, (int, np.integer)) or not 1 <= layer <= count:
        names = ", ".join(f"{i + 1} {spec}" for i, spec in enumerate(model.specs))
        raise UserError(f"layer {layer} is out of range: {model.model_string} has layers "
                        f"1..{count} ({names}); see 'cnn summary'")
    return int(layer) - 1


def channel_count(model: Sequential, layer: int) -> int:
    """Channels of a convolution or pooling layer, units of an FC layer (1-based ``layer``)."""
    return int(model.token_shapes[check_layer(model, layer)][-1])


def describe_layer(model: Sequential, layer: int) -> str:
    """E.g. ``'layer 3 C(16,3) (convolution, 16 channels)'``."""
    t = check_layer(model, layer)
    spec = model.specs[t]
    count = channel_count(model, layer)
    unit = "channels" if len(model.token_shapes[t]) == 3 else "units"
    if isinstance(spec, Conv):
        kind = "convolution"
    elif isinstance(spec, Pool):
        kind = "max pooling"
    elif isinstance(spec, AvgPool):
        kind = "average pooling"
    elif isinstance(spec, BatchNorm):
        kind = "batch norm"
    elif isinstance(spec, Residual):
        kind = "residual block"
    elif isinstance(spec, Dropout):
        kind = "dropout"
    elif isinstance(spec, GlobalAvgPool):
        kind = "global average pooling"
    elif t == len(model.specs) - 1:
        kind, unit = "class logits", "units"
    else:
        kind = "fully connected"
    kind = f"{kind}, {count} {unit}"
    return f"layer {layer} {spec} ({kind})"


def check_channels(model: Sequential, layer: int, channels) -> list[int]:
    """Channel numbers (0-based) to visualize.

    Args:
        channels: ``"all"``, one number (int or its text) or a sequence of them.
    Returns:
        the list of channel numbers, each in 0..C-1.
    Raises:
        UserError: for a layer or channel out of range, listing the valid ones.
    """
    count = channel_count(model, layer)
    if isinstance(channels, str) and channels.strip().lower() == "all":
        return list(range(count))
    items = [channels] if isinstance(channels, (str, int, np.integer)) else list(channels)
    out = []
    for item in items:
        try:
            k = int(item)
        except (TypeError, ValueError):
            k = None
        if k is None or (isinstance(item, float) and item != k):
            raise UserError(f"channel {item!r} is not a whole number: "
                            f"{describe_layer(model, layer)} has channels 0..{count - 1}; "
                            "or give 'all'")
        if not 0 <= k < count:
            raise UserError(f"channel {item} is out of range: {describe_layer(model, layer)} "
                            f"has channels 0..{count - 1}; or give 'all'")
        out.append(k)
    return out


def layer_activation(model: Sequential, layer: int, images: np.ndarray,
                     pre: bool = True) -> np.ndarray:
    """Activations of layer ``layer`` for a batch of images.

    Args:
        images: ``(N, 28, 28)`` or ``(N, 28, 28, 1)``; uint8 in [0, 255] or float in [0, 1].
        pre: the token's ``pre`` tap, before its ReLU (what visualization maximizes);
            ``False`` gives its ``out`` tap, what the next token sees (after the ReLU when
            the token has one; logits for the last).
    Returns:
        float32, ``(N, H, W, C)`` for convolution and pooling layers, ``(N, units)`` for FC.
    """
    check_layer(model, layer)
    tap = f"{layer}.{'pre' if pre else 'out'}"
    return model.forward(to_input(images, model.input_shape), taps=[tap])[tap]


def mean_activations(model: Sequential, layer: int, images: np.ndarray,
                     pre: bool = True) -> np.ndarray:
    """Mean activation of every channel of ``layer`` per image: float32 ``(N, C)``.

    The mean is over the spatial positions for convolution and pooling layers; FC units are
    returned as they are. ``pre`` as in :func:`layer_activation`.
    """
    act = layer_activation(model, layer, images, pre=pre)
    return act.mean(axis=(1, 2)) if act.ndim == 4 else act


def objective_and_grad(model: Sequential, layer: int, channels: Sequence[int], x: np.ndarray,
                       objective: str = "channel") -> tuple[np.ndarray, np.ndarray]:
    """The activation-maximization objective of each image and its gradient w.r.t. the image.

    Image ``n`` is scored on channel ``channels[n]`` of ``layer``:

    - ``"channel"``: the mean pre-ReLU activation of the channel over all positions
      (convolution, pooling; lucid's ``objectives.channel``) or the unit's pre-activation (FC;
      the logit for the last layer);
    - ``"neuron"``: the pre-ReLU activation of the channel's centre unit, position
      ``(H // 2, W // 2)`` (lucid's ``objectives.neuron``); the same as ``"channel"`` for FC.

    The gradient comes from the engine's backward pass, started from the token's ``pre`` tap
    on a tape that asks for the input gradient only; the weights are not changed. The model
    is put in eval mode (batch norm with its running statistics, no dropout), so one image's
    objective never depends on the others in the batch.

    Args:
        x: input batch, float32 (or float64 for gradient checks), ``(N, 28, 28, 1)``.
        channels: N channel numbers, 0-based.
    Returns:
        ``(objective, grad)``: float ``(N,)`` and ``(N, 28, 28, 1)``, ``grad[n]`` =
        d objective[n] / d x[n].
    Raises:
        UserError: for an unknown ``objective``.
    """
    if objective not in OBJECTIVES:
        raise UserError(f"unknown objective {objective!r}: choose channel or neuron")
    check_layer(model, layer)
    model.eval()  # running statistics, no dropout: batch statistics never enter the objective
    tap = f"{layer}.pre"
    channels = np.asarray(channels, dtype=np.int64)
    tape = Tape(param_grads=False)  # input gradient only: the shared modules are not written
    act = model.forward(x, tape, taps=[tap])[tap]
    rows = np.arange(len(x))
    dact = np.zeros_like(act)
    if act.ndim == 4 and objective == "channel":
        _, h, w, _ = act.shape
        value = act[rows, :, :, channels].mean(axis=(1, 2))
        dact[rows, :, :, channels] = 1.0 / (h * w)
    elif act.ndim == 4:
        _, h, w, _ = act.shape
        value = act[rows, h // 2, w // 2, channels]
        dact[rows, h // 2, w // 2, channels] = 1.0
    else:
        value = act[rows, channels]
        dact[rows, channels] = 1.0
    grad = model.backward(dact, tape, start=tap, input_grad=True)
    return value, grad


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


# ------------------------------------------------------------------- optimization
class _Images:
    """Holds the parameters being optimized in the ``params``/``grads`` form ``cnn.optim``
    optimizers update (they minimize, so ``grads`` holds minus the ascent direction)."""

    def __init__(self, p: np.ndarray) -> None:
        self.params = {"p": p}
        self.grads = {"p": np.zeros_like(p)}


def visualize_channels(model: Sequential, layer: int, channels="all", *,
                       steps: int = DEFAULT_STEPS, lr: float = DEFAULT_LR, param: str = "pixel",
                       jitter: int = DEFAULT_JITTER, scale: float = 0.0, rotate: float = 0.0,
                       l2: float = DEFAULT_L2, tv: float = DEFAULT_TV, objective: str = "channel",
                       seed: int | None = 0, progress: bool = True) -> np.ndarray:
    """Synthesize, for each channel, the input that maximizes it (see the module docstring).

    All channels are optimized together as one batch, image ``n`` for ``channels[n]``.

    Args:
        model: the trained network; its weights are not changed.
        layer: layer number as ``cnn summary`` prints it, 1..T.
        channels: ``"all"``, one channel number or a sequence of them (0-based).
        steps: Adam steps (>= 1); lr: Adam's learning rate (> 0).
        param: ``"pixel"`` or ``"fourier"``.
        jitter: largest random shift per step, whole pixels (>= 0).
        scale: random scale in [1 - scale, 1 + scale] per step (0: none; < 1).
        rotate: random rotation in [-rotate, rotate] degrees per step (0: none).
        l2, tv: weights of the L2 and total-variation penalties (>= 0), relative to the
            objective's gradient scaled to a mean absolute value of 1 (see :func:`regularizers`).
        objective: ``"channel"`` or ``"neuron"`` (see :func:`objective_and_grad`).
        seed: seeds the initial noise and the random transformations.
        progress: show a tqdm bar.
    Returns:
        float32 ``(len(channels), 28, 28)``, values in (0, 1), white on black as the network
        sees them.
    Raises:
        UserError: layer or channel out of range, or a bad setting (the message names it).
    """
    chans = check_channels(model, layer, channels)
    if steps < 1:
        raise UserError(f"steps must be >= 1, got {steps}")
    if not lr > 0:
        raise UserError(f"learning rate must be > 0, got {lr}")
    if jitter < 0 or int(jitter) != jitter:
        raise UserError(f"jitter must be a whole number of pixels >= 0, got {jitter}")
    if not all(np.isfinite(v) for v in (lr, scale, rotate, l2, tv)):
        raise UserError(f"lr, scale, rotate, l2 and tv must be finite numbers, got {lr}, "
                        f"{scale}, {rotate}, {l2}, {tv}")
    if not 0 <= scale < 1:
        raise UserError(f"scale must be in [0, 1), got {scale}")
    if rotate < 0 or l2 < 0 or tv < 0:
        raise UserError(f"rotate, l2 and tv must be >= 0, got {rotate}, {l2}, {tv}")
    if objective not in OBJECTIVES:
        raise UserError(f"unknown objective {objective!r}: choose channel or neuron")
    rng = np.random.default_rng(seed)
    h, w, c = model.input_shape
    parameterization = make_param(param, (h, w))
    n = len(chans)
    holder = _Images(parameterization.init(n, rng))
    optimizer = Adam([(holder, "p")], lr=lr)
    label = f"layer {layer}, {n} channel{'s' if n != 1 else ''}"
    for _ in tqdm(range(steps), desc=label, unit="step", disable=not progress, leave=False,
                  dynamic_ncols=True):
        x = parameterization.image(holder.params["p"])
        warp = Warp.random(rng, n, (h, w), int(jitter), scale, rotate)
        seen = warp.apply(x).astype(np.float32).reshape(n, h, w, c)
        _, dseen = objective_and_grad(model, layer, chans, seen, objective)
        _, dpenalty = regularizers(x, l2, tv)
        dobj = warp.adjoint(dseen.reshape(n, h, w).astype(np.float64))
        dobj /= np.abs(dobj).mean(axis=(1, 2), keepdims=True) + 1e-12  # DeepDream's scaling
        dx = dobj - dpenalty
        holder.grads["p"] = -parameterization.backward(x, dx)  # Adam minimizes
        optimizer.step()
    return parameterization.image(holder.params["p"]).astype(np.float32)


def rank_channels(model: Sequential, layer: int,
                  image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Channels of ``layer`` ordered by how much ``image`` excites them.

    Args:
        image: one network input, ``(28, 28)`` float in [0, 1].
    Returns:
        ``(order, means)``: channel numbers, most excited first, and every channel's mean
        activation after the ReLU (float32 ``(C,)``, indexed by channel). Ties (e.g. several
        channels at 0) are broken by the mean pre-ReLU activation.
    """
    post = mean_activations(model, layer, image[None], pre=False)[0]
    pre = mean_activations(model, layer, image[None], pre=True)[0]
    return np.lexsort((-pre, -post)), post


# ------------------------------------------------------------------- files
def upscale(image: np.ndarray, factor: int = UPSCALE) -> np.ndarray:
    """A ``(H, W)`` image in [0, 1] as uint8 ``(H * factor, W * factor)``, nearest neighbour."""
    grey = np.clip(np.rint(np.asarray(image, dtype=np.float64) * 255), 0, 255).astype(np.uint8)
    return np.repeat(np.repeat(grey, factor, axis=0), factor, axis=1)


def write_png(path: str | os.PathLike, pixels: np.ndarray, overwrite: bool = True) -> Path:
    """Write a uint8 grey ``(H, W)`` or BGR ``(H, W, 3)`` array as PNG, atomically; returns
    the path written (with ``overwrite=False``, the next free name when ``path`` exists)."""
    ok, data = cv2.imencode(".png", pixels)
    if not ok:  # pragma: no cover - OpenCV always encodes uint8 arrays
        raise UserError(f"could not encode {path} as PNG")
    return atomic_write(path, lambda f: f.write(data.tobytes()), overwrite=overwrite)


def save_visualization(folder: str | os.PathLike, channel: int, image: np.ndarray) -> list[Path]:
    """Write ``feature_visualize_<channel>.png`` (280 x 280, nearest neighbour) and
    ``feature_visualize_<channel>.npy`` (float32 ``(28, 28)`` in [0, 1]) into ``folder``.

    Returns:
        the two paths written. Other files in ``folder`` are left alone.
    """
    folder = Path(folder)
    png = write_png(folder / f"feature_visualize_{channel}.png", upscale(image))
    npy = folder / f"feature_visualize_{channel}.npy"
    atomic_write(npy, lambda f: np.save(f, np.asarray(image, dtype=np.float32)))
    return [png, npy]


def contact_sheet(images: np.ndarray, labels: Sequence[str], factor: int = 4,
                  columns: int | None = None) -> np.ndarray:
    """Tile images into one grey uint8 picture, each with its label under it.

    Drawn with OpenCV rather than matplotlib so that hundreds of tiles (an FC512 layer) stay
    fast. Args: images ``(N, H, W)`` in [0, 1]; labels: N short strings; factor: nearest
    upscaling of each tile; columns: tiles per row (default ``ceil(sqrt(N))``, at most 16).
    Returns:
        uint8 ``(rows * (H * factor + 18) + 4, columns * (W * factor + 4) + 4)``, mid-grey
        gaps between tiles.
    """
    n, h, w = images.shape
    columns = columns or min(16, max(1, math.ceil(math.sqrt(n))))
    rows = math.ceil(n / columns)
    th, tw, pad, text = h * factor, w * factor, 4, 18
    sheet = np.full((rows * (th + text) + pad, columns * (tw + pad) + pad), 255, np.uint8)
    for k, (image, label) in enumerate(zip(images, labels)):
        r, c = divmod(k, columns)
        top, left = r * (th + text) + pad, c * (tw + pad) + pad
        sheet[top : top + th, left : left + tw] = upscale(image, factor)
        cv2.putText(sheet, label, (left + 2, top + th + 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, 0,
                    1, cv2.LINE_AA)
    return sheet


# ------------------------------------------------------------------- figures
def plot_mean_activation_bar(means: np.ndarray, path: str | os.PathLike, title: str = "",
                             highlight: Sequence[int] = (),
                             ylabel: str = "mean activation") -> Path:
    """One bar per channel: channel number on x, mean activation on y; ``highlight``ed
    channels (the top ones) in orange."""
    from .plots import plt, save_figure

    means = np.asarray(means)
    colors = ["tab:blue"] * len(means)
    for k in highlight:
        colors[int(k)] = "tab:orange"
    fig, ax = plt.subplots(figsize=(max(6.0, min(16.0, 0.25 * len(means))), 3.8))
    ax.bar(range(len(means)), means, color=colors)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xlabel("channel")
    ax.set_ylabel(ylabel)
    if len(means) <= 32:
        ax.set_xticks(range(len(means)))
    ax.set_title(title, fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, path)


def plot_collage(network_input: np.ndarray, images: np.ndarray, channels: Sequence[int],
                 means: Sequence[float], path: str | os.PathLike, title: str = "") -> Path:
    """The input digit (greyed, a 3 x 3 grid over it) beside the channel visualizations, each
    labelled with its channel and the input's mean activation of it.

    Args:
        network_input: ``(28, 28)`` in [0, 1], the preprocessed image.
        images: ``(K, 28, 28)`` visualizations of ``channels``; means: K mean activations.
    """
    from .plots import plt, save_figure

    k = len(images)
    fig, axes = plt.subplots(1, k + 1, figsize=(1.9 * (k + 1), 2.5), squeeze=False)
    axes = axes[0]
    axes[0].imshow(network_input, cmap="gray", vmin=0, vmax=1.6, interpolation="nearest")
    h, w = network_input.shape
    for frac in (1 / 3, 2 / 3):
        axes[0].axhline(frac * h - 0.5, color="tab:red", linewidth=1)
        axes[0].axvline(frac * w - 0.5, color="tab:red", linewidth=1)
    axes[0].set_title("input", fontsize=9)
    for ax, image, channel, mean in zip(axes[1:], images, channels, means):
        ax.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(f"channel {channel}\nmean act. {mean:.3g}", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)


def plot_feature_maps(maps: np.ndarray, path: str | os.PathLike, title: str = "") -> Path:
    """One tile per channel of a ``(H, W, C)`` activation, all on one colour scale."""
    from .plots import plt, save_figure

    h, w, c = maps.shape
    columns = min(16, max(1, math.ceil(math.sqrt(c))))
    rows = math.ceil(c / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.3 * columns + 1.0, 1.4 * rows + 0.5),
                             squeeze=False, layout="constrained")
    vmax = max(float(maps.max()), 1e-6)
    vmin = min(float(maps.min()), 0.0)
    for ax in axes.flat:
        ax.axis("off")
    for k, ax in enumerate(axes.flat[:c]):
        im = ax.imshow(maps[:, :, k], cmap="viridis", vmin=vmin, vmax=vmax,
                       interpolation="nearest")
        ax.set_title(f"ch {k}", fontsize=7)
    fig.colorbar(im, ax=axes, shrink=0.8, label="activation (after ReLU)")
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)
