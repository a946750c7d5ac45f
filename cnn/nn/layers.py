"""Every layer class in one namespace (``from cnn.nn import layers as L``), as
``torch.nn.modules`` gathers its families; each family lives in its own file:
:mod:`cnn.nn.conv`, :mod:`cnn.nn.batchnorm`, :mod:`cnn.nn.pooling`, :mod:`cnn.nn.dense`,
:mod:`cnn.nn.activation`. See :mod:`cnn.nn.module` for the interface they share."""

from cnn.nn.activation import Dropout, ReLU
from cnn.nn.batchnorm import BATCH_SUM, BatchNorm
from cnn.nn.conv import IM2COL_BLOCK, IM2COL_KEEP, Conv2D, add_to, zero_pad
from cnn.nn.dense import Dense
from cnn.nn.init import he_normal
from cnn.nn.pooling import AvgPool2D, GlobalAvgPool, MaxPool2D

__all__ = ["AvgPool2D", "BATCH_SUM", "BatchNorm", "Conv2D", "Dense", "Dropout", "GlobalAvgPool",
           "IM2COL_BLOCK", "IM2COL_KEEP", "MaxPool2D", "ReLU", "add_to", "he_normal", "zero_pad"]
