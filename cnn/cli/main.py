"""The ``cnn`` command line: one subcommand per action, and the interactive menu.

``cnn`` with no arguments opens the menu; ``cnn SUBCOMMAND --help`` explains each action.
Every subcommand lives in ``cnn/commands/<name>.py`` with two functions:
``add_parser(subparsers)`` (its options, with ``set_defaults(run=run)``) and
``run(args) -> int`` (the exit status).

User errors (:class:`cnn.errors.UserError`) print one line, ``cnn: error: <message>``, and
exit with status 2, with no traceback unless ``--debug`` is given. A file that cannot be
written (read-only folder, a path that is a file, a full disk) is one line naming the path,
status 1; Ctrl-C is ``cnn: interrupted``, status 130; a closed pipe (``cnn evaluate | head``)
ends quietly with status 141 (128 + SIGPIPE), as ``yes | head`` does. ``cnn --data PATH``
(options with no subcommand) opens the menu with those options, as ``cnn`` alone does.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from cnn import __version__, progress
from cnn.errors import UserError
from cnn.faults import fault_point
from cnn.files import os_error_message
from cnn.text import printable

PIPE_CLOSED = 141  # 128 + SIGPIPE: the reader of our output went away

COMMANDS = ["train", "evaluate", "summary", "predict", "visualize", "export", "serve", "menu"]

EXAMPLES = """examples:
  cnn predict my_digit.jpg
  cnn train --model "C(8,5)-P2-C(16,3)-P2-FC128-FC10" --epochs 1
  cnn evaluate --weights "weight_output/weight_detailsC(8,5)-P2-C(16,3)-P2-FC128-FC10.npz"
  cnn summary --model "C(8,5)-P2-C(16,3)-P2-FC128-FC10"
  cnn export --out model.onnx
  cnn serve
"""


class Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors, ``<prog>: error: <message> (see '<prog> --help')``
    and exit status 2; subcommand parsers inherit it through ``add_subparsers``."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser(commands: list[str] | None = None) -> argparse.ArgumentParser:
    """The top-level parser with the given subcommands registered (default: all of them).

    Registering only the one being run keeps start-up fast: each command module imports its
    own heavy dependencies (OpenCV, SciPy, matplotlib)."""
    parser = Parser(
        prog="cnn", description="A from-scratch NumPy CNN for handwritten digits (MNIST). "
        "Run without arguments for the interactive menu.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"cnn {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--quiet", "-q", action="store_true",
                        help="print only results and errors (no progress bars)")
    common.add_argument("--debug", action="store_true",
                        help="show a full traceback on errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS if commands is None else commands:
        try:
            module = importlib.import_module(f".commands.{name}", __package__)
        except ModuleNotFoundError as e:
            if e.name != f"{__package__}.commands.{name}":
                raise
            continue
        module.add_parser(subparsers, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 some inputs failed, 2 bad input)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv = ["menu"] + argv  # 'cnn --data PATH' is the menu with that option
    fault_point("imports")  # tests: Ctrl-C while the command's modules import
    if argv[0] in COMMANDS:
        parser = build_parser([argv[0]])
    else:
        parser = build_parser([] if argv == ["--version"] else None)
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    debug = getattr(args, "debug", False)
    progress.set_quiet(getattr(args, "quiet", False))
    try:
        from cnn.parallel.threads import default_num_threads
        default_num_threads()  # a bad CNN_NUM_THREADS is refused before any work starts
        status = int(args.run(args) or 0)
        sys.stdout.flush()  # a full disk or a closed pipe shows here, not at exit
        return status
    except UserError as e:
        if debug:
            raise
        print(f"cnn: error: {printable(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cnn: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        silence_stdout()
        return PIPE_CLOSED
    except OSError as e:
        if debug:
            raise
        if e.filename is None:  # print() to a full disk: standard output
            silence_stdout()
            print(f"cnn: error: cannot write to standard output: {e.strerror or e}",
                  file=sys.stderr)
        else:
            print(f"cnn: error: {printable(os_error_message(e))}", file=sys.stderr)
        return 1
    except MemoryError:
        if debug:
            raise
        print("cnn: error: out of memory; use a smaller model, batch or image", file=sys.stderr)
        return 1


def silence_stdout() -> None:
    """Point standard output at /dev/null, so the interpreter's final flush of what is still
    buffered does not fail again (a closed pipe, a full disk) with a traceback at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def entry_point() -> None:
    """Console-script entry: ``sys.exit(main())``, with standard output flushed inside, so a
    closed pipe or a full disk is one line (or silence, for a pipe), never a traceback; Ctrl-C
    before the command runs (while its modules import: NumPy, OpenCV, SciPy take a second) is
    ``cnn: interrupted``, status 130, as it is later."""
    try:
        status = main()
    except KeyboardInterrupt:
        print("cnn: interrupted", file=sys.stderr)
        status = 130
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
        status = PIPE_CLOSED
    except OSError as e:
        silence_stdout()
        print(f"cnn: error: cannot write to standard output: {e.strerror or e}",
              file=sys.stderr)
        status = status or 1
    sys.exit(status)
