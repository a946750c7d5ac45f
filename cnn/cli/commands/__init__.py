"""Subcommands of the ``cnn`` command line, one module each (see ``cnn.cli``)."""
