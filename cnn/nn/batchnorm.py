"""Batch normalization (Ioffe & Szegedy 2015), synchronized across data-parallel processes.

Channels-last ``(N, H, W, C)`` or ``(N, D)``; statistics per channel, PyTorch's
``running_mean`` / ``running_var`` (unbiased) buffers and momentum convention.
"""

from __future__ import annotations

import contextvars

import numpy as np

from cnn.nn.module import Module

# Set by cnn.data_parallel while this thread computes one slice of a batch whose other slices
# run in other processes: a function taking this slice's per-channel partial sums (a 1-D
# array) and returning the sums over the whole batch, the same array in every process. Batch
# norm's training statistics and their gradients go through it (synchronized batch norm).
BATCH_SUM: contextvars.ContextVar = contextvars.ContextVar("cnn_batch_sum", default=None)


_BROADCAST_MAX = 1 << 15  # arrays up to this many values broadcast per-pixel rows (_rows)


def _tiled(v: np.ndarray, repeat: int) -> np.ndarray:
    """``v`` repeated ``repeat`` times end to end (``np.tile``), or ``v`` itself for 1."""
    return v if repeat == 1 else np.tile(v, repeat)


class BatchNorm(Module):
    """Batch normalization over the last (channel or feature) axis (Ioffe & Szegedy, "Batch
    Normalization", ICML 2015, Algorithm 1 and 2), PyTorch's ``BatchNorm2d`` / ``BatchNorm1d``.

    Train mode: ``y = gamma * (x - mean_B) / sqrt(var_B + eps) + beta`` with the batch's mean
    and biased variance over every axis but the last; the running statistics move towards the
    batch's by ``momentum`` (the running variance with the unbiased batch variance, as PyTorch).
    Eval mode: the same affine map with the running statistics. Under data parallelism
    (:mod:`cnn.data_parallel`) the batch statistics and the sums of the backward pass cover
    every slice of the batch (synchronized batch norm, :data:`BATCH_SUM`); the parameter
    gradients stay this slice's share.

    Args:
        channels: ``C``; momentum: 0.1 and eps: 1e-5, PyTorch's defaults.
    Parameters:
        ``weight`` (gamma, ones) and ``bias`` (beta, zeros), float32 ``(C,)``.
    Buffers:
        ``running_mean`` (zeros) and ``running_var`` (ones), float32 ``(C,)``.
    Input/output shape:
        ``(N, H, W, C)`` or ``(N, C)``.
    """

    def __init__(self, channels: int, momentum: float = 0.1, eps: float = 1e-5) -> None:
        super().__init__()
        self.channels, self.momentum, self.eps = channels, momentum, eps
        self.params = {"weight": np.ones(channels, np.float32),
                       "bias": np.zeros(channels, np.float32)}
        self.buffers = {"running_mean": np.zeros(channels, np.float32),
                        "running_var": np.ones(channels, np.float32)}
        self._eval_cache: tuple | None = None  # (key, tiled vectors) of _eval_affine

    @staticmethod
    def _rows(x: np.ndarray) -> tuple[np.ndarray, int]:
        """``x`` as a 2-D view ``(N, H*W*C)`` (or ``(N, C)``) and the repeat count ``H*W``.

        Elementwise work on an ``(M, C)`` array with a narrow ``C`` runs NumPy's inner loop
        ``C`` values at a time, and a per-channel operand broadcast along rows of a few hundred
        values still runs 1.5x slower than along rows of thousands (issue 33); one row per
        image lets the inner loop run ``H*W*C`` values at a time, with each per-channel vector
        tiled ``H*W`` times. A small array (at most ``_BROADCAST_MAX`` values: one image at a
        time, as ``cnn predict`` runs) is viewed as ``(N*H*W, C)`` instead, one row per pixel,
        and the per-channel vectors broadcast untiled: there the tiling itself was the cost
        (7 x 7 x 64: 20 -> 5 us a batch norm)."""
        if x.ndim == 4:
            n, h, w, c = x.shape
            if x.size <= _BROADCAST_MAX:
                return x.reshape(n * h * w, c), 1
            return x.reshape(n, h * w * c), h * w
        return x.reshape(len(x), -1), 1

    def _channel_sums(self, x2: np.ndarray, repeat: int) -> np.ndarray:
        """Per-channel sums of a row view: two GEMVs (over the images, then the pixels)."""
        sums = np.ones(len(x2), x2.dtype) @ x2
        if repeat == 1:
            return sums
        return np.ones(repeat, x2.dtype) @ sums.reshape(repeat, self.channels)

    def forward(self, x, tape=None, relu: bool = False):
        """Normalize ``x``; with ``relu``, return ``max(BN(x), 0)`` instead (batch norm and the
        ReLU after it in one pass fewer over memory and no intermediate array; the backward
        pass must then be called with ``relu=True`` to go through both)."""
        c = self.channels
        if x.shape[-1] != c:
            raise ValueError(f"BatchNorm expects {c} channels last, got shape {x.shape}")
        if not self.training and tape is None and len(x):
            return self._infer(x, relu)
        x2, r = self._rows(x)
        gamma, beta = self.params["weight"], self.params["bias"]
        if self.training:
            m = x2.size // c
            total = BATCH_SUM.get()  # the other slices' sums, under data parallelism
            mean = self._channel_sums(x2, r) / m  # this slice's
            xc = x2 - _tiled(mean, r)  # centred; kept for backward (xhat = xc * inv_std)
            out = np.multiply(xc, xc)  # the squares; then the output, in the same array
            squares = self._channel_sums(out, r)
            delta = None  # the batch's mean minus this slice's (data parallelism)
            if total is None:
                var = squares / m
            else:
                m, mean, var, delta = self._batch_moments(total, m, mean, squares)
            inv_std = 1.0 / np.sqrt(var + self.eps)
            scale = gamma * inv_std
            np.multiply(xc, _tiled(scale, r), out=out)  # gamma * xhat, scales folded
            shift = beta if delta is None else beta - delta * scale
            mom = self.momentum
            rm, rv = self.buffers["running_mean"], self.buffers["running_var"]
            self.buffers["running_mean"] = ((1 - mom) * rm + mom * mean).astype(rm.dtype)
            unbiased = var * (m / max(m - 1, 1))
            self.buffers["running_var"] = ((1 - mom) * rv + mom * unbiased).astype(rv.dtype)
            saved = (m, xc, inv_std)
        else:
            inv_std, scale, shift = self._eval_scale_shift(x.dtype)
            out = x2 * _tiled(scale, r)
            saved = (0, x2, inv_std)
        if relu:  # max(y + shift, 0) == max(y, -shift) + shift, exactly, in one pass fewer
            np.maximum(out, _tiled(-shift, r), out=out)
        out += _tiled(shift, r)
        if tape is not None:
            tape.save(self, saved + ((out > 0) if relu else None,
                                     delta if self.training else None))
        return out.reshape(x.shape)

    def __getstate__(self) -> dict:
        """Pickled and copied without the remembered tiled vectors (a network sent to a
        worker process stays its own size; the copy tiles them again on first use)."""
        state = self.__dict__.copy()
        state["_eval_cache"] = None
        return state

    def _infer(self, x: np.ndarray, relu: bool) -> np.ndarray:
        """Eval mode without a tape (inference): the affine map ``x * scale + shift`` (with
        ``relu``, ``max(x * scale, -shift) + shift``) on one row per image, the per-channel
        vectors tiled to a row and remembered (:meth:`_eval_affine`): three contiguous passes,
        no per-call setup. The same operations on the same values as :meth:`forward`'s eval
        path: bit for bit its result (one image of 28 x 28 x 16: 21 -> 8 us)."""
        rows = x.reshape(len(x), -1)
        scale, low, shift = self._eval_affine(x.dtype, rows.shape[1] // self.channels)
        out = rows * scale
        if relu:
            np.maximum(out, low, out=out)
        out += shift
        return out.reshape(x.shape)

    def _eval_affine(self, dtype, repeat: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(scale, -shift, shift)`` of the eval-mode affine map, each tiled ``repeat`` times
        (one image's pixels), in ``dtype``'s arithmetic as :meth:`forward` computes them;
        remembered while the parameters, the running statistics, ``eps``, ``dtype`` and
        ``repeat`` stay the same (compared by value: in-place updates count)."""
        gamma, beta = self.params["weight"], self.params["bias"]
        mean, var = self.buffers["running_mean"], self.buffers["running_var"]
        key = (np.dtype(dtype).str, repeat, self.eps, gamma.tobytes(), beta.tobytes(),
               mean.tobytes(), var.tobytes())
        cached = getattr(self, "_eval_cache", None)  # (a network unpickled from before it)
        if cached is not None and cached[0] == key:
            return cached[1]
        _, scale, shift = self._eval_scale_shift(dtype)
        value = (_tiled(scale, repeat), _tiled(-shift, repeat), _tiled(shift, repeat))
        self._eval_cache = (key, value)  # one assignment: threads may share the network
        return value

    def _eval_scale_shift(self, dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(inv_std, scale, shift)`` of eval mode, per channel: ``1 / sqrt(running_var +
        eps)`` in ``dtype``, ``weight * inv_std`` and ``bias - running_mean * scale``."""
        inv_std = (1.0 / np.sqrt(self.buffers["running_var"] + self.eps)).astype(dtype)
        scale = self.params["weight"] * inv_std
        return inv_std, scale, self.params["bias"] - self.buffers["running_mean"] * scale

    def _batch_moments(self, total, m: int, mean: np.ndarray, squares: np.ndarray):
        """The batch's count, mean and biased variance from this slice's, in one exchange.

        Each slice sends its count ``m_i``, sum ``S_i`` and ``Q_i = M2_i + S_i^2 / m_i``
        (``M2_i`` its sum of squares about its own mean) in float64; the sums give ``mean =
        sum S / sum m`` and ``var = sum Q / sum m - mean^2``, the batch's moments
        (Chan, Golub & LeVeque, "Updating Formulae and a Pairwise Algorithm for Computing
        Sample Variances", 1979: ``M2 = sum M2_i + sum m_i (mean_i - mean)^2``; as PyTorch's
        ``SyncBatchNorm`` gathers each slice's mean and variance). The mean and the variance
        used to take two exchanges, the mean first (issue 33). Returns ``(m, mean, var,
        delta)``, ``delta`` the batch's mean minus this slice's, in the input's dtype."""
        c = self.channels
        local = mean.astype(np.float64)
        sums = local * m
        moments = total(np.concatenate([[float(m)], sums,
                                        squares.astype(np.float64) + sums * local]))
        count = moments[0]
        batch_mean = moments[1 : c + 1] / count
        var = np.maximum(moments[c + 1 :] / count - batch_mean * batch_mean, 0.0)
        dtype = mean.dtype
        return (round(float(count)), batch_mean.astype(dtype), var.astype(dtype),
                (batch_mean - local).astype(dtype))

    def fused_relu(self, tape) -> bool:
        """Whether this layer's forward pass on ``tape`` applied the ReLU (``relu=True``)."""
        return tape.load(self)[3] is not None

    def backward(self, dout, tape, need_dx=True, relu: bool = False):
        """dLoss/dInput; with ``relu``, ``dout`` is the gradient with respect to the ReLU's
        output of a forward pass with ``relu=True``.

        Raises:
            RuntimeError: for ``relu=True`` after a forward pass without the ReLU.
        """
        # m: the batch statistics' count, 0 in eval mode; delta: the batch's mean minus this
        # slice's, which centred ``saved`` (data parallelism), else None
        m, saved, inv_std, mask, delta = tape.load(self)
        if relu and mask is None:
            raise RuntimeError("BatchNorm.backward(relu=True) after a forward pass without "
                               "its ReLU")
        d2, r = self._rows(dout)
        if relu:
            d2 = np.multiply(d2, mask)  # through the ReLU: 0 where it was not positive
        gamma = self.params["weight"]
        # xc: the input centred by the mean the forward pass used (the batch's in train mode,
        # the running one in eval mode); xhat = xc * inv_std.
        xc = saved if m else saved - _tiled(self.buffers["running_mean"], r)
        dbeta = self._channel_sums(d2, r)
        work = np.multiply(d2, xc)
        dgamma = self._channel_sums(work, r)
        if delta is not None:  # centred by the batch's mean: xc - delta
            dgamma -= delta * dbeta
        dgamma *= inv_std
        if tape.param_grads:  # this slice's share; data parallelism adds the slices' shares
            self.grads["weight"], self.grads["bias"] = dgamma, dbeta
        if not need_dx:
            return None
        scale = gamma * inv_std
        dx = np.multiply(d2, _tiled(scale, r), out=work)
        if not m:
            return dx.reshape(dout.shape)
        total = BATCH_SUM.get()
        if total is not None:  # the batch statistics came from every slice: so do these sums
            sums = total(np.concatenate([dbeta, dgamma]))
            dbeta, dgamma = sums[: self.channels], sums[self.channels :]
        # dx = gamma / sigma * (dout - mean(dout) - xhat * mean(dout * xhat)), the standard
        # simplification of the backward pass through the batch statistics, with xhat = xc /
        # sigma folded into one per-channel factor.
        k1 = scale * inv_std * dgamma / m
        dx -= np.multiply(xc, _tiled(k1, r), out=d2 if relu else None)
        k2 = scale * dbeta / m
        dx -= _tiled(k2 if delta is None else k2 - delta * k1, r)  # xc - delta, as above
        return dx.reshape(dout.shape)
