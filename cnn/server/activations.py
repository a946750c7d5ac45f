"""What every convolution, pooling and residual token of a network sees, from one forward pass.

The one place the web page reaches into a network: it asks the model for the ``out`` tap of each
such token and the logits, from one pass (``model.forward(x, taps=["1.out", "2.out", ...])``),
so the maps are what the next token receives.
"""

from __future__ import annotations

import numpy as np

from cnn.nn.model import to_input
from cnn.nn.summary import SPATIAL_TOKENS, token_labels


def activation_maps(model, x: np.ndarray) -> tuple[list[tuple[str, np.ndarray]], np.ndarray]:
    """Activation maps of the spatial tokens and the logits, from one forward pass.

    Args:
        model: a single network (:class:`cnn.nn.model.Sequential`), in inference mode.
        x: one image, ``(28, 28)`` float in [0, 1] (or ``(1, 28, 28, 1)``).
    Returns:
        ``(maps, logits)``: ``maps`` is a list of ``(label, array)`` in token order, one per
        convolution / pooling / residual token, ``array`` float32 ``(C, H, W)`` after the
        token's ReLU (when it has one); ``logits`` float32 ``(num_classes,)`` from the same
        pass.
    """
    batch = to_input(x[None] if x.ndim == 2 else x, model.input_shape)
    wanted = [t for t, spec in enumerate(model.specs) if isinstance(spec, SPATIAL_TOKENS)]
    last = f"{len(model.specs)}.out"
    found = model.forward(batch, taps=[f"{t + 1}.out" for t in wanted] + [last])
    outs = {t: found[f"{t + 1}.out"] for t in wanted}
    logits = found[last]
    labels = token_labels(model)
    maps = [(labels[t], np.ascontiguousarray(
        np.asarray(outs[t][0], np.float32).transpose(2, 0, 1))) for t in wanted]
    return maps, np.asarray(logits[0], np.float32)
