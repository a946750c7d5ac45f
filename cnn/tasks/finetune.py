"""Fine-tuning: start from a trained network, keep its first blocks fixed, add a noise class.

``cnn train --init WEIGHTS`` starts from a weights file (with a fresh optimizer: Adam's moments
start at zero, as after ``torch.optim.Adam(model.parameters())`` on a loaded model);
``--freeze N`` keeps the first N tokens (blocks) of the model string fixed: their parameters get
no optimizer slot, as ``requires_grad = False`` on the first blocks in PyTorch transfer
learning. (Batch-norm running statistics of a frozen block are still updated in train mode, as
in PyTorch unless the block is put in eval mode.)
"""

from __future__ import annotations

import numpy as np

from cnn.errors import UserError


def trainable_parameters(model, freeze: int = 0) -> list:
    """The ``(module, name)`` slots an optimizer should update when the first ``freeze``
    tokens are fixed: :meth:`cnn.nn.module.Module.parameters` of ``model.blocks[freeze:]``.

    Args:
        model: a :class:`cnn.nn.model.Sequential`.
        freeze: tokens of the model string kept fixed, ``0 <= freeze < number of tokens``
            (the logits block always trains).
    Returns:
        slots for :func:`cnn.nn.optim.make_optimizer`, in model order.
    Raises:
        UserError: ``freeze`` out of range.
    """
    tokens = len(model.blocks)
    if not 0 <= freeze < tokens:
        raise UserError(f"--freeze {freeze} must be between 0 and {tokens - 1} (the model "
                        f"{model.model_string} has {tokens} tokens; the last one always trains)")
    return [slot for block in model.blocks[freeze:] for slot in block.parameters()]


def widen_state_dict(arrays: dict[str, np.ndarray], shapes: dict[str, tuple[int, ...]],
                     rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``arrays`` (a state_dict, PyTorch layout) grown along axis 0 to ``shapes``: the arrays
    of the logits layer, whose outputs grow. Existing rows are kept; new weight rows are drawn
    from N(0, 0.01), other new entries (biases) are 0.

    Raises:
        UserError: a key missing, or a shape that cannot be reached by adding rows.
    """
    out = {}
    for key, shape in shapes.items():
        if key not in arrays:
            raise UserError(f"--init weights have no '{key}' array")
        a = arrays[key]
        if a.shape == tuple(shape):
            out[key] = a
            continue
        if a.ndim != len(shape) or a.shape[1:] != tuple(shape[1:]) or a.shape[0] > shape[0]:
            raise UserError(f"--init weights: '{key}' has shape {a.shape}, cannot become {shape}")
        extra = (shape[0] - a.shape[0],) + a.shape[1:]
        new = (rng.normal(0, 0.01, extra) if key.endswith("weight") else np.zeros(extra))
        out[key] = np.concatenate([a, new.astype(a.dtype)])
    return out


def with_classes(model, num_classes: int, rng: np.random.Generator):
    """The same network with its logits layer widened to ``num_classes`` outputs (e.g. class
    10, "not a digit", added to a 10-class MNIST network), by :func:`widen_state_dict`. A
    model that already has ``num_classes`` outputs is returned as is.

    Raises:
        UserError: when the model has more outputs than ``num_classes``.
    """
    from cnn.nn.model import Sequential

    old = model.num_classes
    if old == num_classes:
        return model
    if old > num_classes:
        raise UserError(f"--init model {model.model_string} gives {old} classes but the data has "
                        f"{num_classes}")
    tokens = model.model_string.split("-")
    tokens[-1] = f"FC{num_classes}"
    wider = Sequential("-".join(tokens), rng, model.input_shape, num_classes=None)
    wider.load_state_dict(widen_state_dict(model.state_dict(), wider.expected_shapes(), rng),
                          source="--init weights")
    wider.metadata = dict(model.metadata)
    wider.train(model.training)
    return wider


# What a weights file's metadata says about how it was made and how it scored. A run that
# starts from the file (--init) keeps these under ``init_recipe`` and writes its own, so a
# fine-tuned file records its whole recipe and never a recipe or a score that is not its own.
RECIPE_KEYS = ("data", "epochs", "batch_size", "optimizer", "lr", "lr_decay", "schedule",
               "warmup_epochs", "label_smoothing", "seed", "augment", "augment_recipe",
               "photo_renderings", "train_images", "validation_images", "seconds_per_epoch",
               "total_seconds", "swa", "swa_epochs", "swa_lr", "temperature", "calibrated_by",
               "accuracy", "interrupted", "diverged", "freeze", "finetune", "best_epoch",
               "init", "init_sha256", "init_recipe")
# What a child keeps as its own: what the network is for (an 11-class gate's threshold, a line
# gate's marker), which fine-tuning does not change. Scores, calibration (its temperature no
# longer fits the retrained weights) and the recipe are the parent's and are not kept.
KEPT_KEYS = ("classes", "reject_threshold", "reject_calibration", "line_gate")


def lineage(metadata: dict, init) -> dict:
    """What a run started from the weights file ``init`` records of it; call it when the
    file is loaded (it reads the file's bytes).

    Args:
        metadata: the ``init`` file's metadata (its model's ``metadata`` dict).
        init: the path of the file, as the user gave it.
    Returns:
        ``init`` (the path), ``init_sha256`` (of the file's bytes, so the parent is known even
        once that path holds another file) and ``init_recipe`` (the parent's
        :data:`RECIPE_KEYS`, its own ``init_recipe`` nested in it).
    Raises:
        OSError: the file cannot be read.
    """
    from cnn.data.mnist import sha256_file

    return {"init": str(init), "init_sha256": sha256_file(init),
            "init_recipe": {k: v for k, v in metadata.items() if k in RECIPE_KEYS}}


def started_from(metadata: dict, init) -> dict:
    """The metadata a run started from the weights file ``init`` inherits from it (the safe
    fine-tuning of folders): ``metadata``'s :data:`KEPT_KEYS` and its :func:`lineage`.

    Raises:
        OSError: the file cannot be read.
    """
    kept = {k: v for k, v in metadata.items() if k in KEPT_KEYS}
    return dict(kept, **lineage(metadata, init))
