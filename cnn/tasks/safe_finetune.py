"""Fine-tuning on a small folder without forgetting MNIST: the recipe ``cnn train --init`` uses.

Training a shipped network on 200 images of one writer with the from-scratch recipe (onecycle
up to 3e-3) teaches it the writer and makes it forget MNIST. The fine-tuning recipe here is
what transfer-learning tutorials teach (a learning rate 10-100x lower than from scratch;
Keras' "Transfer learning & fine-tuning" guide, PyTorch's "Transfer learning for computer
vision" tutorial), plus two remedies against forgetting:

- **replay**: a share of every mini-batch is drawn from MNIST's training images (rehearsal;
  Robins, "Catastrophic forgetting, rehearsal and pseudorehearsal", Connection Science 7(2),
  1995), so every step also sees what the network already knew;
- **batch norm frozen**: the layers run with their running statistics (eval mode) while
  training, so the folder's few images do not move the statistics MNIST set (PyTorch's
  ``model.eval()`` during fine-tuning; Keras' ``BatchNormalization(training=False)``);
- **early stopping** on a held-out tenth of the folder: the weights of the best epoch (the
  start counts as epoch 0) are kept;
- optionally **WiSE-FT** (Wortsman et al., "Robust fine-tuning of zero-shot models", CVPR 2022):
  the final weights are ``(1 - a) * start + a * tuned``.

The numbers behind the defaults are in docs/own-data.md ("Fine-tuning by default").
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
from tqdm import tqdm

from cnn.nn.losses import softmax_cross_entropy
from cnn.nn.model import Sequential, to_input
from cnn.nn.module import Tape
from cnn.nn.schedule import make_schedule
from cnn.tasks.train import evaluate

BN_MODES = ("frozen", "adapt")


@dataclass(frozen=True)
class Recipe:
    """How ``cnn train --init`` fine-tunes (the defaults: chosen by measurement, see the module
    docstring).

    Attributes:
        lr: Adam's learning rate (> 0), constant or the start of the cosine.
        schedule: ``"constant"`` or ``"cosine"`` (a half cosine to 0 over all steps).
        replay: share of every mini-batch drawn from MNIST's training images, 0 <= replay < 1
            (0, or no MNIST found: folder images only).
        batch_norm: ``"frozen"`` (running statistics, eval mode, while training) or
            ``"adapt"`` (batch statistics, the running ones updated: train mode).
        freeze: the first ``freeze`` tokens of the model string get no updates.
        wise: WiSE-FT weight of the tuned network, 0 < wise <= 1 (1: no averaging).
        repeat: passes over the folder's training images per epoch (>= 1).
        patience: stop after this many epochs without a better validation score (>= 1).
        batch_size: images per step, folder and replay together (>= 2).
        augment: ``False``, or the name of the augmentation applied to every batch
            (``"basic"``: random shifts, rotations, scaling and stroke widths; ``"robust"``;
            :data:`cnn.data.augment.AUGMENTATIONS`).
    """

    lr: float = 1e-3
    schedule: str = "constant"
    replay: float = 0.5
    batch_norm: str = "frozen"
    freeze: int = 0
    wise: float = 0.5
    repeat: int = 4
    patience: int = 2
    batch_size: int = 64
    augment: bool | str = False

    def describe(self, replaying: bool, validating: bool = True) -> str:
        """A few words for the run's first line, e.g. ``'adam lr 0.0001 (constant), MNIST
        replay 50% of every batch, batch norm frozen, best epoch on the folder's validation
        split'``."""
        parts = [f"adam lr {self.lr:g} ({self.schedule})",
                 (f"MNIST replay {self.replay:.0%} of every batch" if replaying and self.replay
                  else "no MNIST replay"),
                 f"batch norm {self.batch_norm}"]
        if self.freeze:
            parts.append(f"first {self.freeze} token(s) frozen")
        if self.wise < 1:
            parts.append(f"WiSE-FT {self.wise:g}")
        if self.augment:
            parts.append("augmented")
        parts.append("best epoch on the folder's validation split" if validating
                     else "the last epoch (no validation split)")
        return ", ".join(parts)


DEFAULT_RECIPE = Recipe()


def with_options(recipe: Recipe, **given) -> Recipe:
    """``recipe`` with the options a user gave (``None`` values are left as the recipe's)."""
    return replace(recipe, **{k: v for k, v in given.items() if v is not None})


def interpolate(start: dict[str, np.ndarray], tuned: dict[str, np.ndarray],
                alpha: float) -> dict[str, np.ndarray]:
    """WiSE-FT weight-space averaging (Wortsman et al. 2022): ``(1 - alpha) * start + alpha *
    tuned`` for every array of two ``state_dict``s of one model (parameters and batch-norm
    statistics), computed in float64 and returned in each tuned array's dtype.

    Args:
        start, tuned: ``{name: array}`` with the same keys and shapes.
        alpha: 0 <= alpha <= 1 (1: ``tuned`` itself, 0: ``start``).
    Raises:
        ValueError: different keys or shapes, or ``alpha`` outside [0, 1].
    """
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if start.keys() != tuned.keys():
        raise ValueError("the two state dicts have different arrays")
    out = {}
    for key, b in tuned.items():
        a = start[key]
        if a.shape != b.shape:
            raise ValueError(f"'{key}': shapes {a.shape} and {b.shape} differ")
        mixed = (1 - alpha) * a.astype(np.float64) + alpha * b.astype(np.float64)
        out[key] = mixed.astype(b.dtype)
    return out


def replay_batches(n_folder: int, n_replay_pool: int, recipe: Recipe,
                   rng: np.random.Generator):
    """The index pairs of one epoch: for every step, ``(folder_idx, replay_idx)``.

    The folder's training images are shuffled ``recipe.repeat`` times over; each step takes
    ``batch_size - k`` of them and ``k = round(batch_size * replay)`` MNIST images drawn at
    random from the pool (none when ``n_replay_pool`` is 0).

    Returns:
        a list of ``(int array, int array)`` pairs.
    """
    k = int(round(recipe.batch_size * recipe.replay)) if n_replay_pool else 0
    own = max(1, recipe.batch_size - k)
    order = np.concatenate([rng.permutation(n_folder) for _ in range(recipe.repeat)])
    steps = []
    for i in range(0, len(order), own):
        idx = order[i : i + own]
        # the replay share follows the step's folder share (a short last step: fewer)
        m = int(round(k * len(idx) / own))
        steps.append((idx, rng.integers(0, n_replay_pool, m) if m else np.zeros(0, np.int64)))
    return steps


@dataclass
class TuneHistory:
    """What :func:`finetune` records: per epoch (0 = the start) ``val_accuracy``, ``val_loss``
    on the folder's validation split, ``loss`` (training, mean) and ``seconds``; the ``best``
    epoch kept; ``interrupted`` (Ctrl-C) and ``diverged`` (a reason) as in
    :class:`cnn.tasks.train.History`."""

    epochs: list[dict] = field(default_factory=list)
    best: int = 0
    interrupted: bool = False
    diverged: str | None = None
    stopped_early: bool = False


def _better(a: dict, b: dict | None) -> bool:
    """Whether validation result ``a`` beats ``b``: higher accuracy, then lower loss."""
    return b is None or (a["val_accuracy"], -a["val_loss"]) > (b["val_accuracy"], -b["val_loss"])


def finetune(model: Sequential, images: np.ndarray, labels: np.ndarray, *, recipe: Recipe,
             epochs: int, rng: np.random.Generator,
             validation: tuple[np.ndarray, np.ndarray] | None,
             replay: tuple[np.ndarray, np.ndarray] | None = None, augment=None,
             progress: bool = True) -> TuneHistory:
    """Fine-tune ``model`` in place on a folder's images, as :class:`Recipe` says.

    Args:
        model: a trained :class:`cnn.nn.model.Sequential` (its outputs cover the labels).
        images: uint8 ``(N, 28, 28)`` folder training images; labels: ``(N,)`` ints.
        recipe: the :class:`Recipe`; epochs: the most epochs to run (>= 1).
        rng: the run's generator (shuffles, replay draws, augmentation).
        validation: the folder's held-out ``(images, labels)``: scored after every epoch and
            at the start; the best epoch's weights are kept (accuracy, then loss). ``None``
            or empty: the last epoch is kept.
        replay: MNIST training ``(images, labels)`` to mix in (``recipe.replay`` of every
            batch), or ``None``.
        augment: optional ``f(batch_uint8, rng) -> batch_uint8`` for every batch.
    Returns:
        the :class:`TuneHistory`. On return the model holds the best epoch's weights
        (WiSE-FT-averaged with the start when ``recipe.wise < 1``), in eval mode. Ctrl-C or a
        non-finite loss stops training and keeps the best epoch so far.
    Raises:
        ValueError: ``epochs`` < 1, no training images, or a recipe value out of range.
    """
    from cnn.nn.optim import Adam
    from cnn.tasks.finetune import trainable_parameters

    if epochs < 1 or not len(images):
        raise ValueError(f"need epochs >= 1 and training images, got {epochs}, {len(images)}")
    if recipe.batch_norm not in BN_MODES or not 0 <= recipe.replay < 1 or recipe.lr <= 0 \
            or not 0 < recipe.wise <= 1 or recipe.repeat < 1 or recipe.batch_size < 2:
        raise ValueError(f"recipe out of range: {recipe}")
    labels = labels.astype(np.int64)
    pool_x, pool_y = replay if replay is not None else (images[:0], labels[:0])
    pool_y = pool_y.astype(np.int64)
    has_val = validation is not None and len(validation[0])
    history = TuneHistory()
    start_state = model.state_dict()
    best_state, best_entry = start_state, None
    if has_val:
        r = evaluate(model, *validation)
        best_entry = {"epoch": 0, "val_accuracy": r["accuracy"], "val_loss": r["loss"],
                      "loss": None, "seconds": 0.0}
        history.epochs.append(best_entry)
    opt = Adam(trainable_parameters(model, recipe.freeze), recipe.lr)
    steps_per_epoch = len(replay_batches(len(images), len(pool_x), recipe,
                                         np.random.default_rng(0)))
    lr_at = make_schedule("cosine" if recipe.schedule == "cosine" else "step", recipe.lr,
                          steps_per_epoch, epochs, decay=1.0)
    step, waited = 0, 0
    try:
        for epoch in range(1, epochs + 1):
            t0 = time.perf_counter()
            model.train(recipe.batch_norm == "adapt")
            plan = replay_batches(len(images), len(pool_x), recipe, rng)
            loss_sum = seen = 0
            with tqdm(total=len(plan), desc=f"epoch {epoch}/{epochs}", unit="step",
                      disable=not progress, leave=True, dynamic_ncols=True) as bar:
                for own, other in plan:
                    batch = np.concatenate([images[own], pool_x[other]])
                    y = np.concatenate([labels[own], pool_y[other]])
                    if augment is not None:
                        batch = augment(batch, rng)
                    tape = Tape()
                    logits = model.forward(to_input(batch, model.input_shape), tape)
                    loss, dlogits = softmax_cross_entropy(logits, y)
                    if not np.isfinite(loss):
                        history.diverged = f"the loss became {float(loss)} in epoch {epoch}"
                        break
                    model.backward(dlogits, tape)
                    opt.lr = lr_at(step)
                    opt.step()
                    step += 1
                    loss_sum += loss * len(y)
                    seen += len(y)
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss_sum / seen:.4f}", refresh=False)
            if history.diverged:
                break
            entry = {"epoch": epoch, "loss": loss_sum / seen, "val_accuracy": None,
                     "val_loss": None, "seconds": time.perf_counter() - t0}
            history.epochs.append(entry)
            if not has_val:
                best_state, history.best = model.state_dict(), epoch
                continue
            r = evaluate(model, *validation)
            entry.update(val_accuracy=r["accuracy"], val_loss=r["loss"])
            if progress:
                tqdm.write(f"epoch {epoch}: folder val_loss {r['loss']:.4f}, val_accuracy "
                           f"{r['accuracy']:.4f}")
            if _better(entry, best_entry):
                best_state, best_entry, history.best, waited = model.state_dict(), entry, epoch, 0
            else:
                waited += 1
                if waited >= recipe.patience and epoch < epochs:
                    history.stopped_early = True
                    break
    except KeyboardInterrupt:
        history.interrupted = True
    final = best_state
    if recipe.wise < 1 and history.best:
        final = interpolate(start_state, best_state, recipe.wise)
    model.load_state_dict(final, dtype=next(iter(final.values())).dtype)
    model.eval()
    return history
