"""The engine: what a reader studies to see how a CNN works, from the model down to the GEMM.

- :mod:`cnn.nn.module`: the module base (params, grads, buffers, state_dict) and the Tape;
- layers by family, as ``torch/nn/modules/`` keeps them: :mod:`cnn.nn.conv` (im2col
  convolution), :mod:`cnn.nn.batchnorm`, :mod:`cnn.nn.pooling`, :mod:`cnn.nn.dense`,
  :mod:`cnn.nn.activation` (ReLU, dropout), with :mod:`cnn.nn.init` and :mod:`cnn.nn.im2col`;
- :mod:`cnn.nn.blocks` (token blocks, residual blocks), :mod:`cnn.nn.model` (``Sequential``),
  :mod:`cnn.nn.model_string` (parse and format ``C(8,5)-P2-...``), :mod:`cnn.nn.summary`;
- :mod:`cnn.nn.losses`, :mod:`cnn.nn.optim`, :mod:`cnn.nn.schedule`;
- :mod:`cnn.nn.data_parallel`: one training step split over worker processes.

The names below are the ones ``cnn.nn.layers`` and ``cnn.nn.model`` gave before the split.
"""

from cnn.nn.activation import Dropout, ReLU
from cnn.nn.batchnorm import BATCH_SUM, BatchNorm
from cnn.nn.conv import Conv2D
from cnn.nn.dense import Dense
from cnn.nn.init import he_normal
from cnn.nn.model import Sequential, to_input
from cnn.nn.module import Module, Tape
from cnn.nn.pooling import AvgPool2D, GlobalAvgPool, MaxPool2D

__all__ = ["AvgPool2D", "BATCH_SUM", "BatchNorm", "Conv2D", "Dense", "Dropout", "GlobalAvgPool",
           "MaxPool2D", "Module", "ReLU", "Sequential", "Tape", "he_normal", "to_input"]
