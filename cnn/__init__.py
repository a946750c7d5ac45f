"""cnn: a from-scratch NumPy convolutional network library and CLI for handwritten digits.

The package is split by layer; imports only point down (tests/test_architecture.py):

- ``cnn.cli``: the command line (argparse, one module per subcommand) and the menu;
- ``cnn.server``: ``cnn serve``, the FastAPI app and its page;
- ``cnn.tasks``: training loop, prediction, evaluation metrics, ensembles, the not-a-digit
  gate, fine-tuning, feature visualization, plots;
- ``cnn.io`` (weights files, ONNX), ``cnn.data`` (MNIST, Kaggle CSVs, image folders,
  augmentation), ``cnn.vision`` (the photo pipeline, stage by stage);
- ``cnn.nn``: the engine: modules and layers, residual blocks, the model, model strings,
  im2col, losses, optimizers, schedules, data-parallel training steps;
- ``cnn.parallel``: threads and the allocator the engine runs on;
- ``cnn.errors``, ``cnn.files``, ``cnn.faults``: plain helpers every layer may use.

Old flat module names (``cnn.nn.model``, ``cnn.nn.layers``, ...) still import, with a
DeprecationWarning (:mod:`cnn._moved`).
"""

from cnn import _moved

__version__ = "0.1.0"

_moved.install()
