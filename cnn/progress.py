"""Progress bars for every step that can take more than a moment: tqdm on stderr.

A bar appears only after ``delay`` seconds (tqdm's ``delay``: a step that finishes sooner
prints nothing), never when stderr is not a terminal (tqdm's ``disable=None``: pipes, logs,
tests), and never under ``--quiet`` (:func:`set_quiet`, which the command line calls once).
Training keeps its own per-epoch bars (:mod:`cnn.tasks.train`).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from tqdm import tqdm

DELAY = 1.0  # seconds before a bar shows
_quiet = False


def set_quiet(quiet: bool) -> None:
    """``True``: no bar anywhere in this process (``cnn --quiet``)."""
    global _quiet
    _quiet = bool(quiet)


def bar(iterable: Iterable | None = None, *, total: int | None = None, desc: str | None = None,
        unit: str = "it", delay: float = DELAY) -> tqdm:
    """A tqdm bar over ``iterable`` (or one to ``update`` by hand, with ``total``), on stderr,
    removed when done; disabled as the module docstring says.

    tqdm is imported here, not at the top: ``cnn.cli.main`` imports this module, and the
    command line's own start-up stays short (a Ctrl-C in it is ``cnn: interrupted``, not a
    traceback from inside an import)."""
    from tqdm import tqdm
    return tqdm(iterable, total=total, desc=desc, unit=unit, file=sys.stderr, leave=False,
                dynamic_ncols=True, delay=delay, disable=True if _quiet else None)
