"""The network a prediction uses: one weights file's model, or an ensemble of several.
"""

from __future__ import annotations

from cnn.errors import UserError
from cnn.io.catalog import default_weights


def load_predictor(weights: list[str] | None, method: str = "mean"):
    """The network to predict with: one weights file's model, or an ensemble of several.

    Args:
        weights: ``--weights`` values: files and folders (``None``: :func:`default_weights`).
        method: ``"mean"`` or ``"vote"`` for an ensemble.
    Returns:
        ``(name, model)``: the file name (or ``"ensemble of N files"``) and a
        :class:`cnn.nn.model.Sequential` or :class:`cnn.tasks.ensemble.Ensemble`.
    Raises:
        UserError: a path that does not exist, or a file that does not load or fit.
    """
    from cnn.io.weights import load_model
    from cnn.tasks.ensemble import Ensemble, expand_weights

    files = expand_weights(weights) if weights else [default_weights()]
    if len(files) == 1:
        model = load_model(files[0], num_classes=None)
        if model.num_classes not in (10, 11):
            raise UserError(f"weights file '{files[0]}' ({model.model_string}) gives "
                            f"{model.num_classes} classes; expected 10 digits, or 11 "
                            "(class 10: not a digit)")
        return str(files[0]), model
    return (f"ensemble of {len(files)} files",
            Ensemble([(str(f), load_model(f)) for f in files], method))
