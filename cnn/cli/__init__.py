"""The command line: ``cnn SUBCOMMAND`` (:mod:`cnn.cli.main`), one module per subcommand in
:mod:`cnn.cli.commands`, and the interactive menu (:mod:`cnn.cli.menu`). Nothing below this
package imports it."""

from cnn.cli.main import entry_point, main

__all__ = ["entry_point", "main"]
