"""Where a training run's weights go: the ``--out`` path checked before any training
(:func:`check_target`) and the file written after every finished epoch (:class:`EpochSaver`),
shared by ``cnn train``, its safe fine-tuning (:mod:`cnn.cli.commands.train_init`) and the
menu."""

from __future__ import annotations

import datetime
import os
import tempfile
from pathlib import Path

from cnn.errors import UserError
from cnn.faults import fault_point
from cnn.files import is_regular_file, same_file, sigint_deferred
from cnn.io.weights import save_model
from cnn.nn.model import Sequential


def check_target(target: Path, data_file: Path | None = None) -> None:
    """Refuse, before any training, a weights path that cannot be written: a folder, a path
    under a file, a special file, or the MNIST file itself.

    Raises:
        UserError: naming the path and what to give instead.
    """
    if target.is_dir():
        raise UserError(f"--out '{target}' is a folder; give a file path such as "
                        f"'{target / 'model.npz'}'")
    for parent in target.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UserError(f"--out '{target}': '{parent}' is a file, not a folder; "
                                "choose another path")
            break
    if os.path.lexists(target) and not is_regular_file(target):
        raise UserError(f"--out '{target}' is not a regular file (a FIFO or device); "
                        "choose another path")
    if data_file is not None and same_file(target, data_file):
        raise UserError(f"--out '{target}' is the MNIST file itself; choose another path")
    # Can the folder be written? Found out now rather than after the first epoch; an
    # OSError here is one line naming the folder (cnn.cli).
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=target.parent):
        pass


class EpochSaver:
    """Writes the weights after every finished epoch, atomically and with Ctrl-C held back
    until the file is complete (:func:`cnn.files.sigint_deferred`), so once an epoch has
    finished its weights are on disk whatever the user presses.

    The first save takes ``target`` (or, without ``overwrite``, the next free name when it
    exists); later saves replace that same file, the one this run owns.
    """

    def __init__(self, model: Sequential, target: Path, overwrite: bool, metadata: dict):
        self.model, self.target, self.overwrite = model, target, overwrite
        self.metadata = metadata
        self.path: Path | None = None  # the file written, once written
        self.epochs = 0  # epochs whose weights are on disk
        self.averaged = False  # whether those are --swa's average (else the last epoch's)

    def save(self, history, report: dict | None = None) -> Path:
        done = len(history.epochs)
        self.model.metadata = dict(
            self.metadata, epochs=done, train_loss=history.epochs[-1]["loss"],
            seconds_per_epoch=history.seconds_per_epoch, interrupted=history.interrupted,
            date=datetime.datetime.now().isoformat(timespec="seconds"))
        if history.diverged:
            self.model.metadata["diverged"] = history.diverged
        if report is not None:
            self.model.metadata.update(accuracy=report["accuracy"],
                                       macro_precision=report["macro_precision"],
                                       test_loss=report["loss"])
        with sigint_deferred():
            fault_point("save")
            if self.path is None:
                self.path = save_model(self.model, self.target, overwrite=self.overwrite)
            else:
                save_model(self.model, self.path, overwrite=True)
            self.epochs = done
            self.averaged = "swa" in self.model.metadata
        return self.path
