"""Networks built from model strings: one block per token (``cnn.nn.blocks``), in a module tree.

``Sequential`` is the model: its children are the token blocks, named by token number
(``"1"``, ``"2"``, ...), so the state-dict keys are ``<token>.<sub-layer>.<array>``, e.g.
``3.conv.weight`` or ``5.bn2.running_var``, in PyTorch layout. Reading and writing weights files
is :mod:`cnn.io.weights`.

Taps: ``"<token>.pre"`` is token ``t``'s pre-activation (before its ReLU), ``"<token>.out"``
what the next token sees; ``forward(x, taps=[...])`` returns any of them from one pass and
``backward(dout, tape, start="<token>.pre")`` starts from one. Visualization, summary and the
tests use these names, never indices into a list of primitive layers.
"""

from __future__ import annotations

import numpy as np

from cnn.nn.blocks import TAPS, Block, build_blocks
from cnn.nn.losses import softmax
from cnn.nn.memory import inference_chunk
from cnn.nn.model_string import (
    MNIST_INPUT_SHAPE,
    format_model,
    layer_shapes,
    parse_model,
)
from cnn.nn.module import Module, Tape


def parse_tap(tap) -> tuple[int, str]:
    """``"3.pre"`` (or ``(3, "pre")``) -> ``(3, "pre")``.

    Raises:
        ValueError: for another form.
    """
    if isinstance(tap, tuple) and len(tap) == 2:
        number, kind = tap
    else:
        number, _, kind = str(tap).partition(".")
    try:
        number = int(number)
    except (TypeError, ValueError):
        number = None
    if number is None or kind not in TAPS:
        raise ValueError(f"tap {tap!r} should be '<token number>.pre' or '<token number>.out'")
    return number, kind


class Sequential(Module):
    """A network compiled from a model string, one block per token.

    Args:
        model: model string, e.g. ``"C(8,5)-P2-C(16,3)-P2-FC128-FC10"`` or
            ``"C(16,3,same)-BN-R(16)-R(32,s2)-R(64,s2)-GAP-FC10"``.
        rng: ``numpy.random.Generator`` for He initialisation and dropout masks (``None``:
            zero weights, to be loaded from a file).
        input_shape: per-example ``(H, W, C)``; MNIST's ``(28, 28, 1)`` by default.
        num_classes: units the last FC must have (``None``: any).
    Attributes:
        specs: the parsed tokens; ``token_shapes[t]`` is token ``t + 1``'s output shape.
        blocks: the token blocks, ``blocks[t]`` for token ``t + 1``.
        metadata: dict of training metadata (epochs, batch size, lr, seed, accuracy, ...).
    Starts in train mode, as a PyTorch module does; :func:`cnn.io.weights.load_model` returns
    models in eval mode.

    Raises:
        UserError: for a malformed model string.
    """

    def __init__(self, model: str, rng: np.random.Generator | None = None,
                 input_shape: tuple[int, int, int] = MNIST_INPUT_SHAPE,
                 num_classes: int | None = 10) -> None:
        super().__init__()
        self.specs = parse_model(model, num_classes=num_classes, input_shape=input_shape)
        self.model_string = format_model(self.specs)
        self.input_shape = tuple(input_shape)
        self.token_shapes = layer_shapes(self.specs, self.input_shape)
        self.metadata: dict = {}
        self.blocks: list[Block] = build_blocks(self.specs, self.input_shape, rng)
        for block in self.blocks:
            self.add(str(block.number), block)

    @property
    def num_classes(self) -> int:
        return self.specs[-1].units

    def block(self, number: int) -> Block:
        """Token ``number``'s block (1-based, as ``cnn summary`` numbers them)."""
        return self.blocks[number - 1]

    # ----------------------------------------------------------------- compute
    def forward(self, x: np.ndarray, tape: Tape | None = None, taps=None):
        """Run the network on a batch.

        Args:
            x: float32 (or float64) batch, shape ``(N, H, W, C)``, pixels in [0, 1].
            tape: a :class:`cnn.nn.module.Tape` to record what ``backward`` needs (``None``:
                inference, nothing kept).
            taps: ``None`` for the logits, or tap names (``"3.pre"``, ``"5.out"``); the pass
                then stops after the last token asked for.
        Returns:
            the logits, ``(N, num_classes)``, or a dict ``{tap name: array}``.
        """
        if taps is None:
            for block in self.blocks:
                x = block.forward(x, tape)
            return x
        wanted = {tap: parse_tap(tap) for tap in taps}
        for number, _ in wanted.values():
            if not 1 <= number <= len(self.blocks):
                raise ValueError(f"tap token {number} is out of range 1..{len(self.blocks)}")
        stop = max(number for number, _ in wanted.values())
        found = {}
        for block in self.blocks[:stop]:
            pre, x = block.run(x, tape)
            found[(block.number, "pre")] = pre
            if block.relu_deferred:  # the ReLU the following max pooling applies
                found[(block.number, "out")] = np.maximum(pre, 0)
                if tape is not None:
                    tape.save(block, pre)
            else:
                found[(block.number, "out")] = x
        return {tap: found[key] for tap, key in wanted.items()}

    def backward(self, dout: np.ndarray, tape: Tape, start=None,
                 input_grad: bool = False) -> np.ndarray | None:
        """Backpropagate ``dout`` from tap ``start`` (default: the logits) down to the input.

        Fills ``grads`` of every module when ``tape.param_grads``; call after
        ``forward(..., tape=tape)`` on the same tape.

        Args:
            dout: gradient of the loss (or objective) with respect to the tap ``start``.
            start: a tap name, ``"<token>.pre"`` or ``"<token>.out"``.
            input_grad: also compute and return dLoss/dInput, shape ``(N, H, W, C)`` (used by
                feature visualization and gradient checks); otherwise return ``None``.
        """
        number, kind = (len(self.blocks), "out") if start is None else parse_tap(start)
        if kind == "out" and self.blocks[number - 1].relu_deferred:
            dout = dout * (tape.load(self.blocks[number - 1]) > 0)  # through the ReLU
            kind = "pre"
        for block in reversed(self.blocks[:number]):
            need_dx = input_grad or block.number > 1
            dout = block.backward(dout, tape, need_dx, start=kind if block.number == number
                                  else "out")
        return dout

    def logits(self, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """Logits for a batch of images, computed in chunks of ``batch_size`` (fewer when that
        many images' activations would exceed :data:`cnn.nn.memory.MAX_BATCH_BYTES`), in the current
        mode (eval mode for a loaded model), with no tape (thread-safe in eval mode).

        Args:
            x: images, ``(N, H, W)`` or ``(N, H, W, C)``; uint8 in [0, 255] (scaled by 1/255)
                or float in [0, 1].
        Returns:
            float32 array of shape ``(N, num_classes)``.
        """
        x = to_input(x, self.input_shape)
        if not len(x):
            return np.zeros((0, self.num_classes), np.float32)
        batch_size = inference_chunk(self, batch_size)  # activations within MAX_BATCH_BYTES
        return np.concatenate([self.forward(x[i : i + batch_size])
                               for i in range(0, len(x), batch_size)])

    def predict_proba(self, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """Softmax probabilities, float32 ``(N, num_classes)``, rows summing to 1."""
        return softmax(self.logits(x, batch_size))


def to_input(images: np.ndarray, input_shape: tuple[int, int, int] = MNIST_INPUT_SHAPE) -> np.ndarray:
    """Turn images into the network's input: float32 ``(N, H, W, C)`` in [0, 1].

    Args:
        images: ``(N, H, W)`` or ``(N, H, W, C)``; uint8 in [0, 255] is divided by 255
            (the normalization the weights files record as ``x/255``); floats are taken as
            already in [0, 1].
    Raises:
        ValueError: if the per-image shape is not ``input_shape``.
    """
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[1:] != tuple(input_shape):
        raise ValueError(f"images of shape (N, {input_shape[0]}, {input_shape[1]}) expected, "
                         f"got {np.shape(images)}")
    if x.dtype == np.uint8:
        return x.astype(np.float32) / np.float32(255)
    return np.ascontiguousarray(x, dtype=np.float32)

