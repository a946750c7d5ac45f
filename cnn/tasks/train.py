"""Mini-batch training with a progress bar, per-epoch history and validation.

One ``numpy.random.Generator`` drives everything random (initialisation is done by the caller
with the same generator; here: the shuffle of every epoch and augmentation), so a seed
reproduces a run exactly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from cnn import progress
from cnn.nn import data_parallel
from cnn.nn.losses import softmax, softmax_cross_entropy
from cnn.nn.memory import check_training_batch
from cnn.nn.model import Sequential, to_input
from cnn.nn.module import Tape
from cnn.nn.optim import Optimizer
from cnn.nn.schedule import make_schedule
from cnn.tasks.calibrate import expected_calibration_error
from cnn.tasks.metrics import classification_report


@dataclass
class History:
    """What :func:`fit` records: one dict per finished epoch.

    Each entry has ``epoch`` (1-based), ``loss`` (mean softmax cross-entropy over the epoch's
    mini-batches, nats), ``accuracy`` (top-1 on those batches, 0..1), ``val_loss`` and
    ``val_accuracy`` (on the held-out split, ``None`` without one), ``lr`` and ``seconds``.
    ``interrupted`` is True when Ctrl-C stopped training; ``diverged`` is a one-line reason
    when the loss (or a weight) stopped being finite, e.g. ``'the loss became nan in epoch 2,
    batch 13'``. In both cases the model holds the weights of the last finished epoch.
    """

    epochs: list[dict] = field(default_factory=list)
    interrupted: bool = False
    diverged: str | None = None

    @property
    def seconds_per_epoch(self) -> float:
        """Mean wall-clock seconds of the finished epochs (0.0 if none)."""
        return float(np.mean([e["seconds"] for e in self.epochs])) if self.epochs else 0.0


def evaluate(model: Sequential, images: np.ndarray, labels: np.ndarray,
             batch_size: int = 1000) -> dict:
    """Top-1 accuracy, macro precision/recall, mean loss and timing on a labelled set.

    The model runs in eval mode (running statistics, no dropout); its mode is restored after.

    Args:
        images: uint8 ``(N, 28, 28)`` (or float in [0, 1]); labels: integer ``(N,)``.
    Returns:
        :func:`cnn.tasks.metrics.classification_report`'s dict plus ``loss`` (mean softmax
        cross-entropy, nats), ``seconds`` (wall clock of the forward passes),
        ``predictions`` (int array ``(N,)``) and ``ece`` (expected calibration error of the
        top-1 softmax confidence over the digit images, 15 bins, in [0, 1]).
    """
    was_training = model.training
    model.eval()
    try:
        start = time.perf_counter()
        chunks = progress.bar(range(0, len(images), batch_size), desc="evaluating", unit="batch")
        logits = np.concatenate([model.logits(images[i : i + batch_size], batch_size)
                                 for i in chunks]) if len(images) else model.logits(images)
        seconds = time.perf_counter() - start
    finally:
        model.train(was_training)
    predictions = logits.argmax(axis=1)
    report = classification_report(labels, predictions, logits.shape[1])
    report["loss"] = softmax_cross_entropy(logits.astype(np.float64), labels.astype(np.int64))[0]
    report["seconds"] = seconds
    report["predictions"] = predictions
    digits = labels < 10
    report["ece"] = expected_calibration_error(
        softmax(logits[digits][:, :10].astype(np.float64)), labels[digits])
    return report


def _restore(model: Sequential, snapshot: dict[str, np.ndarray]) -> None:
    """Put back a ``state_dict`` taken at the end of an epoch: parameters and buffers."""
    dtype = next(iter(snapshot.values())).dtype if snapshot else np.float32
    model.load_state_dict(snapshot, dtype=dtype)


def _all_finite(model: Sequential) -> bool:
    """Whether every parameter and buffer is finite (no NaN, no inf)."""
    return all(np.isfinite(v).all() for v in model.state_dict().values())


def fit(model: Sequential, images: np.ndarray, labels: np.ndarray, *, optimizer: Optimizer,
        rng: np.random.Generator, epochs: int = 1, batch_size: int = 64,
        lr_decay: float = 1.0, schedule=None, label_smoothing: float = 0.0,
        validation: tuple[np.ndarray, np.ndarray] | None = None,
        augment=None, progress: bool = True, on_epoch_end=None) -> History:
    """Train ``model`` in place with shuffled mini-batches.

    Args:
        images: uint8 ``(N, 28, 28)`` training images (scaled by 1/255 batch by batch, so the
            float copy of the whole set is never held in memory); labels: ``(N,)`` in 0-9.
        optimizer: e.g. :class:`cnn.nn.optim.Adam` built on ``model.parameters()``.
        rng: the run's generator (shuffling, augmentation).
        epochs: passes over the data (>= 1); batch_size: images per step (>= 1).
        lr_decay: the learning rate is multiplied by this after every epoch (1.0: constant);
            used when no ``schedule`` is given.
        schedule: optional ``lr(step)`` of the 0-based global step
            (:func:`cnn.nn.schedule.make_schedule`); it sets ``optimizer.lr`` before every step.
        label_smoothing: epsilon of the label-smoothed loss (0 <= eps < 1; 0: plain softmax
            cross-entropy), see :func:`cnn.nn.losses.softmax_cross_entropy`.
        validation: optional ``(images, labels)`` held out of training, scored every epoch.
        augment: optional ``f(batch_uint8, rng) -> batch_uint8`` applied to each batch.
        progress: show a tqdm bar per epoch (loss, accuracy, images/s, ETA).
        on_epoch_end: optional ``f(history)`` called after every epoch; training stops early
            when it returns True (e.g. once a target accuracy is reached).
    Returns:
        the :class:`History`. Steps run in train mode, validation in eval mode; a network
        without dropout trains data-parallel, one worker process per extra
        thread, when the batch is large enough (:mod:`cnn.nn.data_parallel`; the same gradients
        up to float rounding).
        Ctrl-C stops training cleanly, restoring the whole ``state_dict`` (weights and running
        statistics) of the last finished epoch (``history.interrupted``). A loss that is not
        finite (NaN or inf, e.g. from too high a learning rate) stops training at once,
        restoring the ``state_dict`` of the last finished epoch (``history.diverged``). An
        epoch counts as finished when its training pass is done: Ctrl-C during its validation
        keeps it (``val_*`` stay None).
    Raises:
        ValueError: for ``epochs`` or ``batch_size`` < 1 or mismatched images and labels.
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs}, {batch_size}")
    check_training_batch(model, batch_size)  # activations estimated before any is allocated
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    from cnn.faults import fault_point

    history = History()
    snapshot = model.state_dict()
    labels = labels.astype(np.int64)
    n = len(images)
    if schedule is None:
        schedule = make_schedule("step", optimizer.lr, -(-n // batch_size), epochs,
                                 decay=lr_decay)
    step = 0
    # A network without dropout trains data-parallel: one process per thread, each with a
    # replica over its slice of the batch, batch norm synchronized (cnn.nn.data_parallel).
    parallel = None
    try:
        if data_parallel.supports(model, batch_size):  # starts the workers (Ctrl-C: no epoch)
            parallel = data_parallel.DataParallel(model, batch_size)
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            model.train()
            order = rng.permutation(n)
            loss_sum = correct = seen = 0
            bar = tqdm(total=n, desc=f"epoch {epoch}/{epochs}", unit="img", unit_scale=True,
                       disable=not progress, leave=True, dynamic_ncols=True)
            with bar:
                for i in range(0, n, batch_size):
                    idx = order[i : i + batch_size]
                    batch = images[idx]
                    if augment is not None:
                        batch = augment(batch, rng)
                    y = labels[idx]
                    x = to_input(batch, model.input_shape)
                    whole = parallel is None or len(idx) < data_parallel.MIN_BATCH
                    if not whole:  # forward and backward, one slice per thread
                        loss, logits = parallel.gradients(x, y, label_smoothing)
                    else:
                        tape = Tape()
                        logits = model.forward(x, tape)
                        loss, dlogits = softmax_cross_entropy(logits, y, label_smoothing)
                    if not np.isfinite(loss):
                        history.diverged = (f"the loss became {float(loss)} in epoch {epoch}, "
                                            f"batch {i // batch_size + 1}")
                        break
                    if i == batch_size:
                        fault_point(f"epoch{epoch}-batch")
                    if whole:
                        model.backward(dlogits, tape)
                    optimizer.lr = schedule(step)
                    optimizer.step()
                    step += 1
                    loss_sum += loss * len(idx)
                    correct += int((logits.argmax(axis=1) == y).sum())
                    seen += len(idx)
                    bar.update(len(idx))
                    if (i // batch_size) % 20 == 0:
                        bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.4f}",
                                        refresh=False)
                if history.diverged is None:
                    bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.4f}")
            if history.diverged is None and not _all_finite(model):
                history.diverged = f"a weight became infinite or nan in epoch {epoch}"
            if history.diverged is not None:
                _restore(model, snapshot)
                break
            seconds = time.perf_counter() - start
            entry = {"epoch": epoch, "loss": loss_sum / seen, "accuracy": correct / seen,
                     "val_loss": None, "val_accuracy": None, "lr": optimizer.lr,
                     "seconds": seconds}
            snapshot = model.state_dict()  # the epoch is finished: Ctrl-C from here keeps it
            history.epochs.append(entry)
            if validation is not None and len(validation[0]):
                fault_point(f"epoch{epoch}-validation")
                report = evaluate(model, *validation)
                entry["val_loss"], entry["val_accuracy"] = report["loss"], report["accuracy"]
                if progress:
                    tqdm.write(f"epoch {epoch}: val_loss {report['loss']:.4f}, "
                               f"val_accuracy {report['accuracy']:.4f}")
            if on_epoch_end is not None and on_epoch_end(history):
                break
    except KeyboardInterrupt:
        _restore(model, snapshot)
        history.interrupted = True
    return history
