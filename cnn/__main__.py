"""``python -m cnn``: the same command line as the ``cnn`` script."""

from cnn.cli.main import entry_point

entry_point()
