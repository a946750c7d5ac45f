"""Model strings: ``C(16,3,same)-BN-R(16)-R(32,s2)-GAP-FC10`` <-> a list of token specs.

Grammar (tokens joined by ``-``, numbered 1, 2, ... in string order; case and spaces ignored):

- ``C(filters,kernel[,sS][,same|pP])``: convolution, stride ``S`` (default 1), zero padding
  ``P`` on each side (default 0; ``same`` = ``(kernel - 1) / 2`` for an odd kernel, which
  keeps the size at stride 1), then ReLU;
- ``P<k>``: ``k x k`` max pooling, stride ``k``, ceil mode (11 -> 6, 3 -> 2 for k = 2);
- ``A<k>``: ``k x k`` average pooling, stride ``k``, ceil mode;
- ``BN``: batch normalization of the previous token's pre-activation, before its ReLU (the
  previous token must be ``C`` or a hidden ``FC``);
- ``R(filters[,sS])``: residual basic block (He et al. 2016): 3x3 conv (stride S) - BN - ReLU
  - 3x3 conv - BN, plus the shortcut (identity, or 1x1 conv with stride S and BN when the shape
  changes), then ReLU;
- ``D<rate>``: dropout, e.g. ``D0.25`` (inverted; off in eval mode);
- ``GAP``: global average pooling, ``(H, W, C) -> (C,)``;
- ``FC<n>``: fully connected; ReLU on all but the last, whose ``n`` outputs are the logits.

The last token must be ``FC<number of classes>``; after ``FC`` or ``GAP`` only ``FC``, ``BN``
and ``D`` may come. Parsing then :func:`format_model` gives the canonical string: upper case, no
spaces, options in the order above, defaults left out (``C(8,3,s1,p0)`` -> ``C(8,3)``,
``C(8,3,p1)`` -> ``C(8,3,same)``). The version-1 strings (``C``, ``P``, ``FC`` only) are those
of the reference NumPy CNN-MNIST project and keep their meaning and canonical form.

Output sizes use the one formula of :mod:`cnn.nn.im2col`: convolution
``H_out = (H + 2P - k) // S + 1``; pooling ``ceil(H / k)``.

Numbers are ASCII digits only (``C(８,５)`` is refused), at most :data:`MAX_DIGITS` long. A
pooling window may not be larger than the map it pools: PyTorch's ``MaxPool2d`` refuses that
too, and ``P<map size>`` already is a global max. A network may hold at most
:data:`MAX_PARAMETERS` parameters and :data:`MAX_ACTIVATIONS` values per image in any one
token's output; both are checked before anything is allocated. Long strings are cut in error
messages (:func:`shown`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cnn.errors import UserError
from cnn.nn.im2col import conv_output_size, pool_output_size

MNIST_INPUT_SHAPE = (28, 28, 1)  # (H, W, C)
MAX_DIGITS = 9  # longest number in a token
MAX_PARAMETERS = 50_000_000  # 200 MB of float32 weights, 600 MB with Adam's moments
MAX_ACTIVATIONS = 4_000_000  # values in one token's output, per image (16 MB of float32)
SHOWN_CHARS = 80  # longest model string (or token) repeated in an error message


@dataclass(frozen=True)
class Conv:
    """``C(filters,kernel[,sS][,same|pP])`` token."""

    filters: int
    kernel: int
    stride: int = 1
    padding: int = 0

    def __str__(self) -> str:
        opts = [str(self.filters), str(self.kernel)]
        if self.stride != 1:
            opts.append(f"s{self.stride}")
        if self.padding and self.kernel % 2 == 1 and self.padding == (self.kernel - 1) // 2:
            opts.append("same")
        elif self.padding:
            opts.append(f"p{self.padding}")
        return f"C({','.join(opts)})"


@dataclass(frozen=True)
class Pool:
    """``P<size>`` token: max pooling."""

    size: int

    def __str__(self) -> str:
        return f"P{self.size}"


@dataclass(frozen=True)
class AvgPool:
    """``A<size>`` token: average pooling."""

    size: int

    def __str__(self) -> str:
        return f"A{self.size}"


@dataclass(frozen=True)
class BatchNorm:
    """``BN`` token."""

    def __str__(self) -> str:
        return "BN"


@dataclass(frozen=True)
class Residual:
    """``R(filters[,sS])`` token: a residual basic block."""

    filters: int
    stride: int = 1

    def __str__(self) -> str:
        return f"R({self.filters})" if self.stride == 1 else f"R({self.filters},s{self.stride})"


@dataclass(frozen=True)
class Dropout:
    """``D<rate>`` token."""

    rate: float

    def __str__(self) -> str:
        return f"D{self.rate:g}"


@dataclass(frozen=True)
class GlobalAvgPool:
    """``GAP`` token."""

    def __str__(self) -> str:
        return "GAP"


@dataclass(frozen=True)
class FC:
    """``FC<units>`` token."""

    units: int

    def __str__(self) -> str:
        return f"FC{self.units}"


Spec = Conv | Pool | AvgPool | BatchNorm | Residual | Dropout | GlobalAvgPool | FC
FLAT = (FC, GlobalAvgPool)  # tokens whose output is a vector, not a feature map

_NUMBER = r"([0-9]+)"  # ASCII digits only: \d would also take Unicode digits such as '８'
_OPTION = re.compile(r"S([0-9]+)|P([0-9]+)|(SAME)")
_LONG_NUMBER = re.compile(rf"[0-9]{{{MAX_DIGITS + 1},}}")
_EXPECTED = {
    "C": "C(filters,kernel), e.g. C(8,5), with options sS and same or pP, e.g. C(32,3,s2,same)",
    "P": "P<size>, e.g. P2",
    "A": "A<size>, e.g. A2",
    "B": "BN",
    "R": "R(filters) or R(filters,sS), e.g. R(32) or R(64,s2)",
    "D": "D<rate> with 0 <= rate < 1, e.g. D0.25",
    "G": "GAP",
    "F": "FC<units>, e.g. FC128",
}
_ALL = ("one of C(filters,kernel), P<size>, A<size>, BN, R(filters), D<rate>, GAP or "
        "FC<units>, e.g. C(8,5)-P2-FC10")


def _parse_conv(body: str) -> Conv | None:
    parts = body.split(",")
    if len(parts) < 2 or not all(re.fullmatch(_NUMBER, p) for p in parts[:2]):
        return None
    filters, kernel = int(parts[0]), int(parts[1])
    stride, padding, seen = 1, 0, set()
    for opt in parts[2:]:
        m = _OPTION.fullmatch(opt)
        if not m:
            return None
        kind = "s" if m[1] else "p"
        if kind in seen:
            return None
        seen.add(kind)
        if m[1]:
            stride = int(m[1])
        elif m[2]:
            padding = int(m[2])
        else:
            padding = -1  # "same": resolved once the kernel is checked
    return Conv(filters, kernel, stride, padding)


def _parse_token(token: str) -> Spec | None:
    """One token (cleaned, upper case) -> its spec, or ``None`` if it does not match."""
    if m := re.fullmatch(r"C\((.*)\)", token):
        return _parse_conv(m[1])
    if m := re.fullmatch(r"P([0-9]+)", token):
        return Pool(int(m[1]))
    if m := re.fullmatch(r"A([0-9]+)", token):
        return AvgPool(int(m[1]))
    if token == "BN":
        return BatchNorm()
    if m := re.fullmatch(r"R\(([0-9]+)(?:,S([0-9]+))?\)", token):
        return Residual(int(m[1]), int(m[2]) if m[2] else 1)
    if m := re.fullmatch(r"D([0-9]*\.?[0-9]+)", token):
        rate = float(m[1])
        return Dropout(rate) if rate < 1 else None
    if token == "GAP":
        return GlobalAvgPool()
    if m := re.fullmatch(r"FC([0-9]+)", token):
        return FC(int(m[1]))
    return None


def shown(text: str, limit: int = SHOWN_CHARS) -> str:
    """``repr(text)``, cut to about ``limit`` characters with the full length given, so a
    100,000-character string is not echoed whole in an error line."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[: limit - 20]!r}... ({len(text):,} characters)"


def _sizes(spec: Spec) -> list[int]:
    """The numbers of a token that must be >= 1."""
    if isinstance(spec, Conv):
        return [spec.filters, spec.kernel, spec.stride]
    if isinstance(spec, (Pool, AvgPool)):
        return [spec.size]
    if isinstance(spec, Residual):
        return [spec.filters, spec.stride]
    if isinstance(spec, FC):
        return [spec.units]
    return []


def parse_model(text: str, num_classes: int | None = 10,
                input_shape: tuple[int, int, int] | None = MNIST_INPUT_SHAPE) -> list[Spec]:
    """Parse a model string into a list of token specs, checking that it builds a network.

    Args:
        text: e.g. ``"C(8,5)-P2-C(16,3)-P2-FC128-FC10"`` or
            ``"C(16,3,same)-BN-R(16)-R(32,s2)-R(64,s2)-GAP-FC10"``.
        num_classes: required units of the last ``FC`` token (``None``: any).
        input_shape: ``(H, W, C)`` of the input, used to check that every kernel fits and no
            feature map shrinks to nothing (``None``: skip that check).
    Returns:
        one spec per token, in order (:class:`Conv`, :class:`Pool`, :class:`AvgPool`,
        :class:`BatchNorm`, :class:`Residual`, :class:`Dropout`, :class:`GlobalAvgPool`,
        :class:`FC`).
    Raises:
        UserError: one line naming the string, the token number and text, and what was
            expected, e.g. ``invalid model string 'C(8)-P2-FC10': token 1 'C(8)' should be
            C(filters,kernel) ...``.
    """
    raw = text if isinstance(text, str) else ""
    cleaned = re.sub(r"\s+", "", raw).upper()

    def fail(reason: str):
        raise UserError(f"invalid model string {shown(raw)}: {reason}")

    if not cleaned:
        fail("it is empty; expected tokens joined by '-', e.g. C(8,5)-P2-C(16,3)-P2-FC128-FC10")
    specs: list[Spec] = []
    flat = None  # the last FC or GAP token so far (nothing spatial may follow it)
    for i, token in enumerate(cleaned.split("-"), start=1):
        odd = next((ch for ch in token if ch.isdigit() and not "0" <= ch <= "9"), None)
        if odd is not None:
            fail(f"token {i} {shown(token, 40)} has the non-ASCII digit {odd!r} "
                 f"(U+{ord(odd):04X}); type the digits 0-9")
        if _LONG_NUMBER.search(token):
            fail(f"token {i} {shown(token, 40)} has a number longer than {MAX_DIGITS} digits")
        spec = _parse_token(token)
        if spec is None:
            fail(f"token {i} {shown(token, 40)} should be {_EXPECTED.get(token[:1], _ALL)}")
        if any(v < 1 for v in _sizes(spec)):
            fail(f"token {i} {token!r} has a zero size or stride; every number must be >= 1")
        if isinstance(spec, Conv) and spec.padding == -1:
            if spec.kernel % 2 == 0:
                fail(f"token {i} {token!r}: 'same' padding needs an odd kernel; "
                     "give the padding as pN instead")
            spec = Conv(spec.filters, spec.kernel, spec.stride, (spec.kernel - 1) // 2)
        prev = specs[-1] if specs else None
        if isinstance(spec, BatchNorm) and not (
                isinstance(prev, Conv) or isinstance(prev, FC)):
            where = "first" if prev is None else f"after {str(prev)!r}"
            fail(f"token {i} 'BN' comes {where}; BN normalizes the pre-activation of a "
                 "C or FC token, so put it right after one, e.g. C(16,3)-BN")
        if flat is not None and not isinstance(spec, (FC, BatchNorm, Dropout)):  # D between too
            fail(f"token {i} {token!r} follows {str(flat)!r}, whose output is a vector; "
                 "put convolution, pooling and residual blocks before the FC and GAP layers")
        if isinstance(spec, FLAT):
            flat = spec  # the last token whose output is a vector, kept as the loop goes
        specs.append(spec)
    if not isinstance(specs[-1], FC):
        fail(f"the last token {str(specs[-1])!r} should be FC{num_classes or '<classes>'} "
             "(the logits layer)")
    if num_classes is not None and specs[-1].units != num_classes:
        fail(f"the last token {str(specs[-1])!r} should be FC{num_classes}, "
             f"one output per class")
    if input_shape is not None:
        try:
            shapes = layer_shapes(specs, input_shape)
        except UserError as e:
            fail(str(e))
        check_size(specs, input_shape, shapes, fail)
    return specs


def count_parameters(specs: list[Spec], input_shape: tuple[int, int, int],
                     shapes: list[tuple[int, ...]] | None = None) -> list[int]:
    """Trainable parameters of every token, from the shapes alone (nothing allocated):
    ``k*k*C_in*F + F`` for ``C``, ``2C`` for ``BN``, ``9*C_in*F + 9*F*F + 4F`` for ``R`` (plus
    ``C_in*F + 2F`` for a projection shortcut), ``inputs*n + n`` for ``FC``, 0 otherwise."""
    shapes = layer_shapes(specs, input_shape) if shapes is None else shapes
    counts, previous = [], tuple(input_shape)
    for spec, shape in zip(specs, shapes):
        c_in = previous[-1]
        if isinstance(spec, Conv):
            counts.append(spec.kernel * spec.kernel * c_in * spec.filters + spec.filters)
        elif isinstance(spec, BatchNorm):
            counts.append(2 * c_in)
        elif isinstance(spec, Residual):
            f = spec.filters
            n = 9 * c_in * f + 9 * f * f + 4 * f
            if spec.stride != 1 or c_in != f:
                n += c_in * f + 2 * f
            counts.append(n)
        elif isinstance(spec, FC):
            inputs = 1
            for d in previous:
                inputs *= d
            counts.append(inputs * spec.units + spec.units)
        else:
            counts.append(0)
        previous = shape
    return counts


def check_size(specs, input_shape, shapes, fail) -> None:
    """Refuse networks too large to allocate: more than :data:`MAX_PARAMETERS` parameters, or
    a token whose output holds more than :data:`MAX_ACTIVATIONS` values per image."""
    total = sum(count_parameters(specs, input_shape, shapes))
    if total > MAX_PARAMETERS:
        fail(f"it has {total:,} parameters, more than the {MAX_PARAMETERS:,} allowed; "
             "use fewer filters or units")
    for i, (spec, shape) in enumerate(zip(specs, shapes), start=1):
        values = 1
        for n in shape:
            values *= n
        if values > MAX_ACTIVATIONS:
            fail(f"token {i} {str(spec)!r} outputs {values:,} values per image, more than the "
                 f"{MAX_ACTIVATIONS:,} allowed; use fewer filters or units")


def format_model(specs: list[Spec]) -> str:
    """Canonical model string of a spec list, e.g. ``'C(8,5)-P2-FC10'``."""
    return "-".join(str(s) for s in specs)


def is_version1(specs: list[Spec]) -> bool:
    """Whether a model uses only the version-1 tokens (unpadded stride-1 C, P, FC)."""
    return all(isinstance(s, (Pool, FC)) or (isinstance(s, Conv) and s.stride == 1
                                              and s.padding == 0) for s in specs)


def layer_shapes(specs: list[Spec], input_shape: tuple[int, int, int]) -> list[tuple[int, ...]]:
    """Per-example output shape of every token, channels-last.

    Args:
        specs: parsed tokens.
        input_shape: ``(H, W, C)``.
    Returns:
        one shape per token: ``(H, W, C)`` for feature maps, ``(units,)`` for FC and GAP
        (BN and D keep their input's shape).
    Raises:
        UserError: if a kernel or pooling window is larger than its (padded) input.
    """
    shape: tuple[int, ...] = tuple(input_shape)
    shapes: list[tuple[int, ...]] = []
    for i, spec in enumerate(specs, start=1):
        if isinstance(spec, Conv):
            h, w, _ = shape
            k, s, p = spec.kernel, spec.stride, spec.padding
            h_out, w_out = conv_output_size(h, k, s, p), conv_output_size(w, k, s, p)
            if h_out < 1 or w_out < 1:
                raise UserError(f"token {i} {str(spec)!r}: kernel {k} is larger than its "
                                f"{h} x {w} input{' (padded)' if p else ''} (the map would "
                                f"shrink to {max(h_out, 0)} x {max(w_out, 0)}); use a smaller "
                                "kernel, padding, or fewer layers")
            shape = (h_out, w_out, spec.filters)
        elif isinstance(spec, (Pool, AvgPool)):
            h, w, c = shape
            if spec.size > min(h, w):
                raise UserError(f"token {i} {str(spec)!r}: pooling window {spec.size} is larger "
                                f"than its {h} x {w} input (P{min(h, w)} already pools the "
                                "whole map); use a smaller window or fewer layers")
            shape = (pool_output_size(h, spec.size), pool_output_size(w, spec.size), c)
        elif isinstance(spec, Residual):
            h, w, _ = shape
            s = spec.stride
            shape = (conv_output_size(h, 3, s, 1), conv_output_size(w, 3, s, 1), spec.filters)
        elif isinstance(spec, GlobalAvgPool):
            shape = (shape[-1],)
        elif isinstance(spec, FC):
            shape = (spec.units,)
        shapes.append(shape)
    return shapes
