"""Learning-rate schedules: the learning rate of every optimizer step.

A schedule is a plain function ``lr(step) -> float`` of the 0-based global step (mini-batch
count since training began); :func:`cnn.tasks.train.fit` sets ``optimizer.lr`` from it before each
step. Three kinds, after PyTorch's schedulers of the same behaviour:

- ``step``: ``base * decay ** epoch`` (``torch.optim.lr_scheduler.ExponentialLR`` stepped
  once per epoch); ``decay = 1`` is a constant learning rate.
- ``cosine``: a linear warm-up from ``base / 25`` to ``base`` over ``warmup`` steps, then a
  half cosine from ``base`` down to 0 at the last step (Loshchilov & Hutter, "SGDR", ICLR 2017,
  without restarts; Goyal et al. 2017 for the warm-up).
- ``onecycle``: ``torch.optim.lr_scheduler.OneCycleLR`` with its defaults (cosine annealing,
  ``pct_start`` 0.3, ``div_factor`` 25, ``final_div_factor`` 1e4; Smith & Topin,
  "Super-Convergence", 2018): up from ``base / 25`` to ``base`` over the first 30% of the
  steps, then down to ``base / 25 / 1e4``. The momentum cycling of OneCycleLR is not done.

Stochastic weight averaging (``cnn train --swa K``) follows any of them with
:func:`swa_cycles`: ``K`` more epochs, each a cosine from the SWA learning rate down to a
hundredth of it (Izmailov et al., "Averaging Weights Leads to Wider Optima and Better
Generalization", UAI 2018, their cyclical schedule with a cycle of one epoch).
"""

from __future__ import annotations

import math
from typing import Callable

KINDS = ("step", "cosine", "onecycle")

# The default recipe of ``cnn train`` (Adam): onecycle up to a peak of 3e-3 over the run's
# epochs. Measured on full MNIST (BENCHMARKS.md, "Time to 99.2%"): the large model reaches
# 99.2 % test top-1 in 3-4 epochs, where a constant 1e-3 (the old default) with x0.7 per epoch
# needed 6-7, and one epoch of the small model gives 98.5 % where the old default gave 97.6 %.
DEFAULT_SCHEDULE = "onecycle"
DEFAULT_LR = 3e-3
STEP_LR = 1e-3  # the learning rate of every other schedule when none is given (the old default)


def resolve_recipe(lr: float | None, lr_decay: float | None,
                   schedule: str | None) -> tuple[float, float, str]:
    """``(lr, lr_decay, schedule)`` of a training run from what the user gave (``None``: not
    given), as ``cnn train`` and the menu apply them:

    - no schedule: ``step`` when an ``lr_decay`` is given (so older commands such as
      ``--epochs 15 --lr-decay 0.85`` keep their meaning), else :data:`DEFAULT_SCHEDULE`;
    - no ``lr``: :data:`DEFAULT_LR` for the default schedule, :data:`STEP_LR` (1e-3) for the
      others (3e-3 was measured only as onecycle's peak);
    - no ``lr_decay``: 1.0 (constant between epochs).
    """
    if schedule is None:
        schedule = "step" if lr_decay is not None else DEFAULT_SCHEDULE
    if lr is None:
        lr = DEFAULT_LR if schedule == DEFAULT_SCHEDULE else STEP_LR
    return lr, 1.0 if lr_decay is None else lr_decay, schedule


def _cos_between(start: float, end: float, fraction: float) -> float:
    """Cosine interpolation from ``start`` (fraction 0) to ``end`` (fraction 1)."""
    return end + (start - end) * (1 + math.cos(math.pi * min(max(fraction, 0.0), 1.0))) / 2


def make_schedule(kind: str, base_lr: float, steps_per_epoch: int, epochs: int, *,
                  decay: float = 1.0, warmup: int = 0) -> Callable[[int], float]:
    """The learning rate of every step of a run.

    Args:
        kind: ``'step'``, ``'cosine'`` or ``'onecycle'`` (see the module docstring).
        base_lr: the peak (``cosine``, ``onecycle``) or initial (``step``) learning rate, > 0.
        steps_per_epoch: mini-batches per epoch (>= 1); epochs: >= 1.
        decay: per-epoch factor of ``step`` (ignored by the others).
        warmup: linear warm-up steps of ``cosine`` (0: none; at most all steps).
    Returns:
        ``lr(step)`` for steps ``0 .. steps_per_epoch * epochs - 1`` (later steps keep the
        last value), a float > 0 except at the very end of ``cosine`` (0 at the last step is
        never reached: the last step gets the value at fraction ``(T-1)/T``).
    Raises:
        ValueError: an unknown kind or non-positive sizes.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown schedule {kind!r}; choose one of {', '.join(KINDS)}")
    if steps_per_epoch < 1 or epochs < 1 or not base_lr > 0:
        raise ValueError("steps_per_epoch, epochs and base_lr must be positive, got "
                         f"{steps_per_epoch}, {epochs}, {base_lr}")
    total = steps_per_epoch * epochs
    if kind == "step":
        return lambda step: base_lr * decay ** min(step // steps_per_epoch, epochs - 1)
    if kind == "cosine":
        warmup = min(max(int(warmup), 0), total - 1)

        def cosine(step: int) -> float:
            if step < warmup:
                return base_lr / 25 + (base_lr - base_lr / 25) * step / warmup
            return _cos_between(base_lr, 0.0, (step - warmup) / (total - warmup))
        return cosine
    up = max(0.3 * total - 1, 1.0)  # OneCycleLR's first phase ends at pct_start * total - 1
    low, final = base_lr / 25, base_lr / 25 / 1e4

    def onecycle(step: int) -> float:
        if step <= up:
            return _cos_between(low, base_lr, step / up)
        return _cos_between(base_lr, final, (step - up) / max(total - 1 - up, 1))
    return onecycle


SWA_LR = 1e-3  # the SWA cycles' default peak (measured with Adam: BENCHMARKS.md, "SWA")


def swa_cycles(before: Callable[[int], float] | None, start: int, steps_per_epoch: int,
               swa_lr: float) -> Callable[[int], float]:
    """A schedule whose steps from ``start`` on are cycles of stochastic weight averaging.

    Every epoch after ``start`` is one cycle: a cosine from ``swa_lr`` down to
    ``swa_lr / 100`` (Izmailov et al., UAI 2018, section 3.2: a cyclical learning rate whose
    cycle ends are the weights averaged; theirs falls linearly, this one as SGDR's cosine).

    Args:
        before: the run's own schedule for steps ``0 .. start - 1`` (``None`` when ``start``
            is 0: the whole run is the SWA phase, e.g. fine-tuning a trained network).
        start: the first step of the SWA phase (>= 0; a multiple of ``steps_per_epoch``).
        steps_per_epoch: mini-batches per epoch (>= 1).
        swa_lr: the peak of every cycle, > 0.
    Returns:
        ``lr(step)``, a float > 0.
    Raises:
        ValueError: non-positive sizes or learning rate, ``start`` > 0 without ``before``, or
            a ``start`` that is no multiple of ``steps_per_epoch``.
    """
    if steps_per_epoch < 1 or start < 0 or not swa_lr > 0:
        raise ValueError("steps_per_epoch and swa_lr must be positive and start >= 0, got "
                         f"{steps_per_epoch}, {swa_lr}, {start}")
    if start > 0 and before is None:
        raise ValueError("a schedule for the steps before the SWA phase is needed")
    if start % steps_per_epoch:
        raise ValueError(f"the SWA phase starts at an epoch's first step, not at step {start} "
                         f"({steps_per_epoch} steps per epoch)")

    def cycles(step: int) -> float:
        if step < start:
            return before(step)
        within = ((step - start) % steps_per_epoch) / steps_per_epoch
        return _cos_between(swa_lr, swa_lr / 100, within)
    return cycles
