"""Blocks: each model-string token compiles to one block of named sub-layers with two taps.

- ``pre``: the token's pre-activation, before its ReLU (what feature visualization maximizes);
- ``out``: the token's output, after its ReLU when it has one (``ReLU(pre)`` for a convolution
  whose ReLU the following max pooling applies).

``run(x, tape)`` returns both taps from one pass; ``backward(dout, tape, start=...)`` starts
from either. Sub-layer names are the middle part of the state-dict keys, e.g. ``3.conv.weight``,
``4.bn.running_mean``, ``5.conv1.weight``, ``5.proj.weight``.

Where a token's ReLU goes is decided once, at build time, by :func:`relu_placement`:

- a ``C`` or hidden ``FC`` followed by ``BN`` has no ReLU of its own: the ``BN`` block
  normalizes that pre-activation and applies the ReLU (``BN`` of the previous token's
  pre-activation, before its ReLU);
- a ``C`` directly followed by ``P`` (max pooling) hands its ReLU to the pooling block: max
  pooling commutes with the monotone ReLU, so the output is the same, the ReLU touches 4x fewer
  values, and the pooling output before that ReLU is exactly the pooling token's
  pre-activation. This is exact only because no batch norm (whose scale can be negative) sits
  in between, and it is never applied to average pooling.
- ``R`` ends with its own ReLU; ``A``, ``D`` and ``GAP`` have none; the last ``FC`` gives the
  logits.
"""

from __future__ import annotations

import numpy as np

from cnn.nn import layers as L
from cnn.nn import model_string as P
from cnn.nn.module import Module, Tape

TAPS = ("pre", "out")


class Block(Module):
    """A token's sub-layers run in order; ``pre`` is the output of sub-layer ``pre_after``.

    Args:
        token: the token's spec (``cnn.nn.model_string``); number: its 1-based position.
        sublayers: ``(name, module)`` pairs in order.
        pre_after: the name of the sub-layer whose output is the ``pre`` tap.
        shape: the per-example output shape.
    """

    def __init__(self, token, number: int, sublayers: list[tuple[str, Module]], pre_after: str,
                 shape: tuple[int, ...], relu_deferred: bool = False) -> None:
        super().__init__()
        self.token, self.number, self.shape = token, number, tuple(shape)
        for name, module in sublayers:
            self.add(name, module)
        self.pre_after = pre_after
        # A convolution whose ReLU the following max pooling applies (see relu_placement):
        # the next block receives ``pre``; the ``out`` tap is still ReLU(pre).
        self.relu_deferred = relu_deferred

    @property
    def has_relu(self) -> bool:
        """Whether the token's ``out`` tap is ``ReLU(pre)`` (computed here or, for a
        convolution before max pooling, by the pooling block); else ``out`` is ``pre``."""
        return "relu" in self.children or self.relu_deferred

    def run(self, x: np.ndarray, tape: Tape | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(pre, out)`` for a batch; with a tape, save what backward needs."""
        pre = None
        for name, module in self.children.items():
            x = module.forward(x, tape)
            if name == self.pre_after:
                pre = x
        return pre, x

    @property
    def bn_relu(self) -> bool:
        """Whether the block is a batch norm and its ReLU, which :meth:`forward` runs as one
        fused pass (:meth:`cnn.nn.batchnorm.BatchNorm.forward` with ``relu=True``); the
        ``pre`` tap (:meth:`run`) still comes from the two layers one after the other."""
        return list(self.children) == ["bn", "relu"]

    def forward(self, x, tape=None):
        if self.bn_relu:
            return self.children["bn"].forward(x, tape, relu=True)
        return self.run(x, tape)[1]

    def backward(self, dout, tape, need_dx=True, start: str = "out"):
        """Backpropagate from tap ``start`` (``'pre'`` or ``'out'``) to the block's input."""
        if self.bn_relu and self.children["bn"].fused_relu(tape):  # forward ran fused
            return self.children["bn"].backward(dout, tape, need_dx, relu=start == "out")
        names = list(self.children)
        if start == "pre":
            names = names[: names.index(self.pre_after) + 1]
        for i, name in enumerate(reversed(names)):
            dout = self.children[name].backward(dout, tape, need_dx or i < len(names) - 1)
        return dout

    def output_shape(self, input_shape):
        return self.shape


class ResidualBlock(Block):
    """Basic residual block (He et al., "Deep Residual Learning for Image Recognition", CVPR
    2016, fig. 2 and option B shortcuts), as torchvision's ``BasicBlock``:

        pre = bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x),   out = relu(pre)

    ``conv1`` is 3x3 with stride ``s`` and padding 1, ``conv2`` 3x3 stride 1 padding 1, both
    without bias; ``shortcut`` is the identity when the shape is kept, else
    ``proj_bn(proj(x))`` with a 1x1 convolution of stride ``s``.

    Input shape: ``(N, H, W, C)``. Output shape: ``(N, (H - 1) // s + 1, (W - 1) // s + 1, F)``.
    """

    def __init__(self, token: P.Residual, number: int, in_channels: int, shape, rng=None):
        f, s = token.filters, token.stride
        sub = [("conv1", L.Conv2D(in_channels, f, 3, s, 1, bias=False, rng=rng)),
               ("bn1", L.BatchNorm(f)), ("relu1", L.ReLU()),
               ("conv2", L.Conv2D(f, f, 3, 1, 1, bias=False, rng=rng)), ("bn2", L.BatchNorm(f))]
        if s != 1 or in_channels != f:
            sub += [("proj", L.Conv2D(in_channels, f, 1, s, 0, bias=False, rng=rng)),
                    ("proj_bn", L.BatchNorm(f))]
        sub.append(("relu", L.ReLU()))
        super().__init__(token, number, sub, pre_after="relu", shape=shape)

    def run(self, x, tape=None):
        c = self.children
        # bn1 and relu1 in one fused pass (cnn.nn.batchnorm.BatchNorm.forward, relu=True)
        h = c["bn1"].forward(c["conv1"].forward(x, tape), tape, relu=True)
        h = c["bn2"].forward(c["conv2"].forward(h, tape), tape)
        if "proj" in c:
            h += c["proj_bn"].forward(c["proj"].forward(x, tape), tape)
        else:
            h += x
        return h, c["relu"].forward(h, tape)

    def backward(self, dout, tape, need_dx=True, start="out"):
        c = self.children
        d = c["relu"].backward(dout, tape) if start == "out" else dout
        dh = c["bn2"].backward(d, tape)
        dh = c["bn1"].backward(c["conv2"].backward(dh, tape), tape, relu=True)
        dx = c["conv1"].backward(dh, tape, need_dx)
        if "proj" in c:
            dsc = c["proj"].backward(c["proj_bn"].backward(d, tape), tape, need_dx)
        else:
            dsc = d
        if not need_dx:
            return None
        dx += dsc
        return dx


def relu_placement(specs: list) -> list[bool]:
    """For each token, whether its block applies a ReLU (see the module docstring)."""
    last = len(specs) - 1
    out = []
    for t, spec in enumerate(specs):
        nxt = specs[t + 1] if t < last else None
        prev = specs[t - 1] if t > 0 else None
        if isinstance(spec, P.Conv):
            out.append(not isinstance(nxt, (P.BatchNorm, P.Pool)))
        elif isinstance(spec, P.FC):
            out.append(t < last and not isinstance(nxt, P.BatchNorm))
        elif isinstance(spec, P.BatchNorm):  # follows a C or a hidden FC (cnn.nn.model_string)
            out.append(True)
        elif isinstance(spec, P.Pool):
            out.append(isinstance(prev, P.Conv) and t > 0)
        else:  # R has its own ReLU inside; A, D, GAP have none
            out.append(False)
    return out


def build_blocks(specs: list, input_shape: tuple[int, int, int],
                 rng: np.random.Generator | None = None) -> list[Block]:
    """One block per token.

    Args:
        specs: parsed tokens (``cnn.nn.model_string.parse_model``).
        input_shape: per-example ``(H, W, C)``.
        rng: He initialisation and dropout masks (``None``: zero weights, to be loaded).
    Returns:
        the blocks, ``blocks[t]`` for token ``t + 1``.
    """
    shapes = P.layer_shapes(specs, input_shape)
    relus = relu_placement(specs)
    last = len(specs) - 1
    blocks: list[Block] = []
    shape = tuple(input_shape)
    for t, spec in enumerate(specs):
        number = t + 1
        if isinstance(spec, P.Residual):
            block = ResidualBlock(spec, number, shape[-1], shapes[t], rng)
        else:
            if isinstance(spec, P.Conv):
                sub = [("conv", L.Conv2D(shape[-1], spec.filters, spec.kernel, spec.stride,
                                         spec.padding, rng=rng))]
            elif isinstance(spec, P.Pool):
                sub = [("pool", L.MaxPool2D(spec.size))]
            elif isinstance(spec, P.AvgPool):
                sub = [("pool", L.AvgPool2D(spec.size))]
            elif isinstance(spec, P.BatchNorm):
                sub = [("bn", L.BatchNorm(shape[-1]))]
            elif isinstance(spec, P.Dropout):
                sub = [("drop", L.Dropout(spec.rate, rng))]
            elif isinstance(spec, P.GlobalAvgPool):
                sub = [("gap", L.GlobalAvgPool())]
            else:
                in_shape = shape if len(shape) == 3 else None
                sub = [("fc", L.Dense(int(np.prod(shape)), spec.units, rng,
                                      gain=2.0 if t < last else 1.0, in_shape=in_shape))]
            pre_after = sub[0][0]
            if relus[t]:
                sub.append(("relu", L.ReLU()))
            deferred = (isinstance(spec, P.Conv) and t < last
                        and isinstance(specs[t + 1], P.Pool))
            block = Block(spec, number, sub, pre_after, shapes[t], relu_deferred=deferred)
        blocks.append(block)
        shape = shapes[t]
    return blocks
