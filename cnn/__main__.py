"""``python -m cnn``: the same command line as the ``cnn`` script."""

from .cli import entry_point

entry_point()
