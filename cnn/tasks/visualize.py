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
- **optimizer**: Adam (``cnn.nn.optim.Adam``), lr 0.05, 256 steps by default, one seeded
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

from typing import Sequence

import numpy as np
from tqdm import tqdm

from cnn.errors import UserError
from cnn.nn.model import Sequential, to_input
from cnn.nn.model_string import (
    AvgPool,
    BatchNorm,
    Conv,
    Dropout,
    GlobalAvgPool,
    Pool,
    Residual,
)
from cnn.nn.module import Tape
from cnn.nn.optim import Adam
from cnn.tasks.visualize_param import DEFAULT_JITTER, Warp, make_param, regularizers

DEFAULT_STEPS = 256


DEFAULT_LR = 0.05


DEFAULT_L2 = 0.3


DEFAULT_TV = 0.3


OBJECTIVES = ("channel", "neuron")


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


# ------------------------------------------------------------------- optimization
class _Images:
    """Holds the parameters being optimized in the ``params``/``grads`` form ``cnn.nn.optim``
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
