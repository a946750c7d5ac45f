"""Finite but broken weights: values no trained network holds, refused when a file is loaded.

NaN and inf are refused by the readers themselves; these values are finite and still give
``nan%`` answers: a negative batch-norm running variance (``sqrt`` of a negative number), or
weights so large that a few products overflow float32 (largest value 3.4e38).

Bounds, chosen far above anything training reaches and far below overflow:

- every weight, bias and running mean: ``|value| <= MAX_ABS_WEIGHT = 1e6``. The shipped
  networks' largest value is 37 (a running variance; their largest weight is 1.2), and a
  weight decayed by Adam from a He initialisation stays within a few units. 1e6 leaves room
  for inputs scaled to 0..255 (a factor 255) and still keeps a 6-layer product of bounded
  values (1e36) below float32's overflow.
- a running variance: ``0 <= value <= MAX_ABS_WEIGHT ** 2`` (it is a mean of squares).

A float64 file's values are checked before the cast to float32, so ``1e300`` (which becomes
``inf`` in float32) is named as too large rather than loaded as infinity.
"""

from __future__ import annotations

import numpy as np

from cnn.errors import UserError

MAX_ABS_WEIGHT = 1e6  # largest |value| of a weight, bias or running mean accepted
MAX_RUNNING_VAR = MAX_ABS_WEIGHT**2  # largest batch-norm running variance accepted


def weight_problem(key: str, value: np.ndarray) -> str | None:
    """Why the array ``key`` cannot be a trained network's, or ``None`` when it can.

    Args:
        key: the state-dict key (``'3.bn.running_var'``) or the file's own array name;
            ``running_var`` in it selects the variance rule.
        value: the array as stored (any real dtype, any shape; float64 checked as float64).
    Returns:
        one phrase naming the worst value and its flat index, e.g. ``"holds -1.5 at index
        2; a batch norm's running variance is never negative"``.
    """
    a = np.asarray(value)
    if a.size == 0 or a.dtype.kind not in "fiub":
        return None
    a = a.astype(np.float64, copy=False).reshape(-1)
    if not np.isfinite(a).all():
        i = int(np.flatnonzero(~np.isfinite(a))[0])
        return f"holds {a[i]} at index {i}; weights are finite numbers"
    if "running_var" in key:
        low = int(a.argmin())
        if a[low] < 0:
            return (f"holds {a[low]:.6g} at index {low}; a batch norm's running variance is "
                    "never negative")
        high = int(a.argmax())
        if a[high] > MAX_RUNNING_VAR:
            return (f"holds {a[high]:.6g} at index {high}, more than the {MAX_RUNNING_VAR:.0e} "
                    "a running variance may be")
        return None
    big = int(np.abs(a).argmax())
    if abs(a[big]) > MAX_ABS_WEIGHT:
        return (f"holds {a[big]:.6g} at index {big}, beyond the +-{MAX_ABS_WEIGHT:.0e} a trained "
                "network's weights stay within")
    return None


def check_weights(state: dict[str, np.ndarray], source: str) -> None:
    """Refuse a state dict holding a value no trained network holds (see the module docstring).

    Args:
        state: key -> array, as read from the file (before any cast to float32).
        source: the file as messages name it (``"weights file 'w.npz'"``).
    Raises:
        UserError: one line naming the file, the array, the value and its index.
    """
    for key, value in state.items():
        problem = weight_problem(key, value)
        if problem is not None:
            raise UserError(f"{source}: array {key!r} {problem}; the file is damaged or was "
                            "not written by a training run")
