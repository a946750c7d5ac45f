"""``cnn menu`` (and ``cnn`` with no arguments): the interactive menu of :mod:`cnn.cli.menu`."""

from __future__ import annotations

import argparse

from cnn.cli.commands.common import add_data_option

EXAMPLE = """examples:
  cnn menu
  cnn menu --data tests/data/mnist_subset.npz

The menu: 1 train, 2 predict a folder, 3 visualize a layer's channels, 4 visualize a layer
for one image, 5 evaluate on the MNIST test set, 6 model summary, 0 quit. Enter takes the
[default]; Ctrl-C goes back to the menu (training keeps its last finished epoch); 0 or
Ctrl-D quits. Each action prints the subcommand that does the same ("same as: cnn ...").
"""


def add_parser(subparsers, common) -> None:
    p = subparsers.add_parser(
        "menu", parents=[common], help="the interactive menu (what 'cnn' alone opens)",
        description="Walk through every action with questions: train, predict, visualize, "
        "evaluate, summary. The MNIST file for training and evaluation comes from --data, "
        "else $CNN_MNIST_DATA, else ~/.keras/datasets/mnist.npz, else a download.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_option(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from cnn.cli.menu import run_menu

    return run_menu(args.data, quiet=args.quiet, debug=args.debug)
