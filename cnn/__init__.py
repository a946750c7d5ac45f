"""cnn: a from-scratch NumPy convolutional network library and CLI for handwritten digits."""

__version__ = "0.1.0"
