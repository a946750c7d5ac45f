"""Fine-tuning: start from a trained network, keep its first tokens fixed, add a noise class.

``cnn train --init WEIGHTS`` starts from a weights file (with a fresh optimizer: Adam's moments
start at zero, as after ``torch.optim.Adam(model.parameters())`` on a loaded model);
``--freeze N`` keeps the first N tokens of the model string fixed (their layers get no
optimizer slot), as ``requires_grad = False`` on the first blocks in PyTorch transfer learning.
"""

from __future__ import annotations

import numpy as np

from .errors import UserError


def trainable_layers(model, freeze: int = 0) -> list:
    """The parametrized layers an optimizer should update when the first ``freeze`` tokens are
    fixed.

    Mapping (the one place that knows it): token ``t``'s weights live in
    ``model.layers[model.token_pre[t]]`` (convolution, FC); pooling tokens have none.

    Args:
        model: a :class:`cnn.model.Sequential`.
        freeze: tokens of the model string kept fixed, ``0 <= freeze < number of tokens``
            (the logits layer always trains).
    Returns:
        layers with parameters, in order, for :func:`cnn.optim.make_optimizer`.
    Raises:
        UserError: ``freeze`` out of range.
    """
    tokens = len(model.specs)
    if not 0 <= freeze < tokens:
        raise UserError(f"--freeze {freeze} must be between 0 and {tokens - 1} (the model "
                        f"{model.model_string} has {tokens} tokens; the last one always trains)")
    frozen = {id(model.layers[model.token_pre[t]]) for t in range(freeze)}
    return [layer for layer in model.parametrized if id(layer) not in frozen]


def with_classes(model, num_classes: int, rng: np.random.Generator):
    """The same network with its logits layer widened to ``num_classes`` outputs.

    The existing outputs keep their weights; the new ones (e.g. class 10, "not a digit") start
    with small random weights (std 0.01) and bias 0. A model that already has ``num_classes``
    outputs is returned as is.

    Raises:
        UserError: when the model has more outputs than ``num_classes``.
    """
    from .model import Sequential

    old = model.specs[-1].units
    if old == num_classes:
        return model
    if old > num_classes:
        raise UserError(f"--init model {model.model_string} gives {old} classes but the data has "
                        f"{num_classes}")
    tokens = model.model_string.split("-")
    tokens[-1] = f"FC{num_classes}"
    wider = Sequential("-".join(tokens), rng, model.input_shape, num_classes=None)
    arrays = model.get_weights()
    last = len(model.specs)
    w, b = arrays[f"weight_{last}"], arrays[f"bias_{last}"]
    extra = num_classes - old
    arrays[f"weight_{last}"] = np.concatenate(
        [w, rng.normal(0, 0.01, (extra, w.shape[1])).astype(w.dtype)])
    arrays[f"bias_{last}"] = np.concatenate([b, np.zeros(extra, b.dtype)])
    wider.set_weights(arrays)
    wider.metadata = dict(model.metadata)
    return wider
