"""Model strings: ``C(8,5)-P2-C(16,3)-P2-FC128-FC10`` <-> a list of layer specs.

Grammar (tokens joined by ``-``, numbered 1, 2, ... in string order, pooling included):

- ``C(filters,kernel)``: convolution, stride 1, no padding, then ReLU;
- ``P<k>``: ``k x k`` max pooling, stride ``k``, ceil mode (11 -> 6, 3 -> 2 for k = 2);
- ``FC<n>``: fully connected; ReLU on all but the last, whose ``n`` outputs are the logits.

The last token must be ``FC<number of classes>``. Convolution and pooling tokens may not follow
an ``FC`` token. Numbers are ASCII digits only (``C(８,５)`` is refused), at most
:data:`MAX_DIGITS` long. A pooling window may not be larger than the map it pools: PyTorch's
``MaxPool2d`` refuses that too, and ``P<map size>`` already is a global max, so a larger window
would only cost time (the layer loops over the ``k * k`` window offsets). A network may hold
at most :data:`MAX_PARAMETERS` parameters and :data:`MAX_ACTIVATIONS` values per image in
any one layer's output; both are checked before anything is allocated. Parsing then :func:`format_model` gives the canonical string (upper case, no
spaces). These are the model strings of the reference NumPy CNN-MNIST project, with its sizes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import UserError

MNIST_INPUT_SHAPE = (28, 28, 1)  # (H, W, C)
MAX_DIGITS = 9  # longest number in a token
MAX_PARAMETERS = 50_000_000  # 200 MB of float32 weights, 600 MB with Adam's moments
MAX_ACTIVATIONS = 4_000_000  # values in one layer's output, per image (16 MB of float32)
SHOWN_CHARS = 80  # longest model string (or token) repeated in an error message


@dataclass(frozen=True)
class Conv:
    """``C(filters,kernel)`` token."""

    filters: int
    kernel: int

    def __str__(self) -> str:
        return f"C({self.filters},{self.kernel})"


@dataclass(frozen=True)
class Pool:
    """``P<size>`` token."""

    size: int

    def __str__(self) -> str:
        return f"P{self.size}"


@dataclass(frozen=True)
class FC:
    """``FC<units>`` token."""

    units: int

    def __str__(self) -> str:
        return f"FC{self.units}"


Spec = Conv | Pool | FC

_NUMBER = r"([0-9]+)"  # ASCII digits only: \\d would also take Unicode digits such as '８'
_PATTERNS = [
    (re.compile(rf"C\({_NUMBER},{_NUMBER}\)"), lambda m: Conv(int(m[1]), int(m[2])),
     "C(filters,kernel), e.g. C(8,5)"),
    (re.compile(rf"P{_NUMBER}"), lambda m: Pool(int(m[1])), "P<size>, e.g. P2"),
    (re.compile(rf"FC{_NUMBER}"), lambda m: FC(int(m[1])), "FC<units>, e.g. FC128"),
]
_LONG_NUMBER = re.compile(rf"[0-9]{{{MAX_DIGITS + 1},}}")


def shown(text: str, limit: int = SHOWN_CHARS) -> str:
    """``repr(text)``, cut to about ``limit`` characters with the full length given, so a
    100,000-character string is not echoed whole in an error line."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[: limit - 20]!r}... ({len(text):,} characters)"


def _expected_for(token: str) -> str:
    """What a malformed token was probably meant to be, from its first letter."""
    for prefix, (_, _, expected) in zip(("C", "P", "F"), _PATTERNS):
        if token.startswith(prefix):
            return expected
    return "one of C(filters,kernel), P<size> or FC<units>, e.g. C(8,5)-P2-FC10"


def parse_model(text: str, num_classes: int | None = 10,
                input_shape: tuple[int, int, int] | None = MNIST_INPUT_SHAPE) -> list[Spec]:
    """Parse a model string into a list of layer specs, checking that it builds a network.

    Args:
        text: e.g. ``"C(8,5)-P2-C(16,3)-P2-FC128-FC10"``; case and spaces are ignored.
        num_classes: required units of the last ``FC`` token (``None``: any).
        input_shape: ``(H, W, C)`` of the input, used to check that every kernel fits and no
            feature map shrinks to 0 x 0 (``None``: skip that check).
    Returns:
        list of :class:`Conv`, :class:`Pool` and :class:`FC`, one per token, in order.
    Raises:
        UserError: one line naming the string, the token number and text, and what was
            expected, e.g. ``invalid model string 'C(8)-P2-FC10': token 1 'C(8)' should be
            C(filters,kernel), e.g. C(8,5)``.
    """
    raw = text if isinstance(text, str) else ""
    cleaned = re.sub(r"\s+", "", raw).upper()

    def fail(reason: str):
        raise UserError(f"invalid model string {shown(raw)}: {reason}")

    if not cleaned:
        fail("it is empty; expected tokens joined by '-', e.g. C(8,5)-P2-C(16,3)-P2-FC128-FC10")
    specs: list[Spec] = []
    for i, token in enumerate(cleaned.split("-"), start=1):
        odd = next((ch for ch in token if ch.isdigit() and not "0" <= ch <= "9"), None)
        if odd is not None:
            fail(f"token {i} {shown(token, 40)} has the non-ASCII digit {odd!r} "
                 f"(U+{ord(odd):04X}); type the digits 0-9")
        if _LONG_NUMBER.search(token):
            fail(f"token {i} {shown(token, 40)} has a number longer than {MAX_DIGITS} digits")
        for pattern, build, expected in _PATTERNS:
            match = pattern.fullmatch(token)
            if match:
                spec = build(match)
                break
        else:
            fail(f"token {i} {shown(token, 40)} should be {_expected_for(token)}")
        if any(v < 1 for v in vars(spec).values()):
            fail(f"token {i} {token!r} has a zero size; every number must be >= 1")
        if specs and isinstance(specs[-1], FC) and not isinstance(spec, FC):
            fail(f"token {i} {token!r} follows a fully connected layer; "
                 "put convolution and pooling before the FC layers")
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
    """Trainable parameters of every token (weights and biases), from the shapes alone:
    ``k * k * C_in * F + F`` for ``C(F,k)``, ``inputs * n + n`` for ``FC<n>``, 0 for pooling."""
    shapes = layer_shapes(specs, input_shape) if shapes is None else shapes
    counts, previous = [], tuple(input_shape)
    for spec, shape in zip(specs, shapes):
        if isinstance(spec, Conv):
            counts.append(spec.kernel * spec.kernel * previous[2] * spec.filters + spec.filters)
        elif isinstance(spec, FC):
            inputs = 1
            for n in previous:
                inputs *= n
            counts.append(inputs * spec.units + spec.units)
        else:
            counts.append(0)
        previous = shape
    return counts


def check_size(specs, input_shape, shapes, fail) -> None:
    """Refuse networks too large to allocate: more than :data:`MAX_PARAMETERS` parameters, or
    a layer whose output holds more than :data:`MAX_ACTIVATIONS` values per image."""
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


def layer_shapes(specs: list[Spec], input_shape: tuple[int, int, int]) -> list[tuple[int, ...]]:
    """Per-example output shape of every token, channels-last.

    Args:
        specs: parsed tokens.
        input_shape: ``(H, W, C)``.
    Returns:
        one shape per token: ``(H, W, C)`` for convolution and pooling, ``(units,)`` for FC.
    Raises:
        UserError: if a kernel or pooling window is larger than its input.
    """
    h, w, c = input_shape
    flat = None
    shapes: list[tuple[int, ...]] = []
    for i, spec in enumerate(specs, start=1):
        if isinstance(spec, Conv):
            if spec.kernel > min(h, w):
                raise UserError(f"token {i} {str(spec)!r}: kernel {spec.kernel} is larger than "
                                f"its {h} x {w} input (the map would shrink to "
                                f"{max(h - spec.kernel + 1, 0)} x {max(w - spec.kernel + 1, 0)}); "
                                "use a smaller kernel or fewer layers")
            h, w, c = h - spec.kernel + 1, w - spec.kernel + 1, spec.filters
            shapes.append((h, w, c))
        elif isinstance(spec, Pool):
            if spec.size > min(h, w):
                raise UserError(f"token {i} {str(spec)!r}: pooling window {spec.size} is larger "
                                f"than its {h} x {w} input (P{min(h, w)} already pools the "
                                "whole map); use a smaller window or fewer layers")
            h, w = -(-h // spec.size), -(-w // spec.size)
            shapes.append((h, w, c))
        else:
            flat = spec.units
            shapes.append((flat,))
    return shapes
