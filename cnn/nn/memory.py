"""How much memory a batch's activations take, estimated from the model string before anything
is allocated, and the batch sizes that fit.

:data:`cnn.nn.model_string.MAX_ACTIVATIONS` bounds one token's output per image; a network
inside that bound can still need gigabytes for a batch: ``C(2000,3,same)-C(2000,3,same)-GAP-FC10``
holds 1.6 million values per image after each convolution, and its second convolution's
im2col matrix 14 million (the 3 x 3 x 2000 window of each of 784 pixels). Inference in chunks of
1,000 images reached 7 GB before "out of memory". So:

- **inference** (:meth:`cnn.nn.model.Sequential.logits`) runs in chunks small enough that the
  estimate stays under :data:`MAX_BATCH_BYTES` (fewer images per chunk, same answers);
- **training** (:func:`cnn.tasks.train.fit`) refuses a batch whose estimate is over it, with
  the estimate and the largest batch that fits.

The estimate (float32, 4 bytes a value), per image:

- inference: the largest ``input + output`` of one token (a convolution: its input twice, with
  the padded copy; a residual block: its input and three maps of its output size), since
  nothing is kept from one token to the next;
- training: every token's output and pre-activation kept for the backward pass, plus one
  gradient of each: ``3 x`` the sum of the outputs (a convolution ``5 x``, with the padded
  input and gradient; a residual block ``8 x``: two convolutions, two batch norms, the
  shortcut, the sum, and their gradients);

plus, once per thread, the largest im2col block (at least one image's window matrix, see
:data:`cnn.nn.conv.IM2COL_BLOCK`), and in training that block again (the input gradient's
columns), the gradients and a flipped copy of the kernels (twice the parameters), and the
kernels reshaped for the GEMM. It is an estimate of the arrays cnn allocates; measured peaks
(``benchmarks/fuzz.py --memory``) were 0.4 to 1.3 times it: ``C(2000,3,same)-C(2000,3,same)-
GAP-FC10`` 328 MiB measured for 389 MiB estimated (inference, 8 images) and 1,096 for 867
(training, 4 images); the shipped ResNet 223 for 275 (training, 256 images). The interpreter,
NumPy and the data set come on top.
"""

from __future__ import annotations

from functools import lru_cache

from cnn.errors import UserError
from cnn.nn.model_string import Conv, Residual, count_parameters
from cnn.parallel.threads import get_num_threads

MAX_BATCH_BYTES = 2 * 2**30  # largest estimated activation memory of one batch (2 GiB)
BYTES = 4  # float32
IM2COL_BLOCK = 1 << 18  # as cnn.nn.conv (not imported: this module stays light)


def _values(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def estimate(specs, input_shape, shapes, training: bool, threads: int = 1) -> tuple[int, int]:
    """``(bytes per image, bytes per batch whatever its size)`` of a network's activations.

    Args:
        specs, shapes: the parsed tokens and their per-image output shapes ``(H, W, C)`` or
            ``(D,)`` (:func:`cnn.nn.model_string.layer_shapes`).
        input_shape: ``(H, W, C)``.
        training: estimate a training step (everything kept for backward) or inference.
        threads: threads that each hold one im2col block.
    """
    parameters = sum(count_parameters(specs, input_shape, shapes))
    previous = _values(input_shape)
    prev_shape = tuple(input_shape)
    kept, peak, cols = previous, 0, 0
    for spec, shape in zip(specs, shapes):
        out = _values(shape)
        if isinstance(spec, Residual):
            peak = max(peak, previous + 3 * out)
            kept += 8 * out
            hw = _values(shape[:2])
            cols = max(cols, 9 * prev_shape[-1] * hw, 9 * spec.filters * hw)
        elif isinstance(spec, Conv):  # + the padded input; in training the padded gradient
            peak = max(peak, 2 * previous + out)
            kept += 5 * out
            cols = max(cols, spec.kernel * spec.kernel * prev_shape[-1] * _values(shape[:2]))
        else:
            peak = max(peak, previous + out)
            kept += 3 * out
        previous, prev_shape = out, shape
    per_image = (kept if training else peak) * BYTES
    fixed = max(cols, IM2COL_BLOCK) * BYTES * max(1, threads)
    if training:  # columns again for the input gradient; the gradients and a flipped kernel
        fixed = 2 * fixed + 2 * parameters * BYTES
    fixed += parameters * BYTES  # the kernels reshaped for the GEMM
    return per_image, fixed


def largest_batch(per_image: int, fixed: int, limit: int | None = None) -> int:
    """The most images whose estimate ``fixed + n * per_image`` stays within ``limit``
    (default :data:`MAX_BATCH_BYTES`; 0 when not even one image does)."""
    limit = MAX_BATCH_BYTES if limit is None else limit
    return max(0, (limit - fixed) // max(1, per_image))


def _gb(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:,.0f} MiB"


def check_training_batch(model, batch_size: int, threads: int | None = None) -> None:
    """Refuse a training batch whose activations are estimated over :data:`MAX_BATCH_BYTES`.

    Args:
        model: a :class:`cnn.nn.model.Sequential` (its ``specs``, ``input_shape``,
            ``token_shapes``).
        batch_size: images per step.
    Raises:
        UserError: naming the estimate, the limit and the largest batch that fits.
    """
    threads = get_num_threads() if threads is None else threads
    per_image, fixed = estimate(model.specs, model.input_shape, model.token_shapes, True, threads)
    total = fixed + batch_size * per_image
    if total <= MAX_BATCH_BYTES:
        return
    fits = largest_batch(per_image, fixed)
    advice = (f"use --batch-size {fits} or less, or a smaller model" if fits
              else "use a smaller model: not even one image fits")
    raise UserError(f"model {model.model_string[:80]!r} needs about {_gb(total)} of activations "
                    f"to train on a batch of {batch_size} ({_gb(per_image)} per image), more "
                    f"than the {_gb(MAX_BATCH_BYTES)} allowed; {advice}")


def inference_chunk(model, wanted: int, threads: int | None = None) -> int:
    """Images per chunk for inference: ``wanted``, or fewer when that many would take more than
    :data:`MAX_BATCH_BYTES` (at least 1: one image of a network that passed the model-string
    limits always fits)."""
    threads = get_num_threads() if threads is None else threads
    per_image, fixed = _inference_estimate(tuple(model.specs), tuple(model.input_shape),
                                           tuple(map(tuple, model.token_shapes)), threads)
    return max(1, min(wanted, largest_batch(per_image, fixed)))


@lru_cache(maxsize=64)
def _inference_estimate(specs: tuple, input_shape: tuple, shapes: tuple, threads: int
                        ) -> tuple[int, int]:
    """:func:`estimate` for inference, remembered per network shape and thread count (one
    image at a time, as ``cnn predict`` and ``cnn serve`` run, paid 8 us a call for it)."""
    return estimate(list(specs), input_shape, list(shapes), False, threads)
