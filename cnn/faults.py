"""Test-only fault injection: send ourselves Ctrl-C at a named phase of a run.

Set ``CNN_TEST_SIGINT_AT`` to a comma-separated list of phase names; when a run reaches one
of them it sends SIGINT to its own process, exactly as a Ctrl-C pressed at that moment would
(the signal is delivered at once, or, inside :func:`cnn.files.sigint_deferred`, when the block
ends). Each phase fires once per process. Unset (always, outside the tests) it does nothing.

Phases of ``cnn train`` (and the menu's training), in order:

- ``epoch<E>-batch``: in the middle of epoch ``E`` (after its second mini-batch);
- ``epoch<E>-validation``: while epoch ``E``'s validation split is scored;
- ``save``: while a weights file is being written (each save);
- ``swa``: with ``--swa``, after the last epoch, while the averaged weights' batch-norm
  statistics are computed (before they are saved);
- ``interrupted``: right after "interrupted: ..." is printed (a second Ctrl-C);
- ``test``: while the test set is scored after the last epoch.
"""

from __future__ import annotations

import os
import signal

ENV_VAR = "CNN_TEST_SIGINT_AT"
_fired: set[str] = set()


def fault_point(phase: str) -> None:
    """Send SIGINT to this process if ``phase`` is listed in ``$CNN_TEST_SIGINT_AT`` and has
    not fired yet; otherwise do nothing."""
    wanted = os.environ.get(ENV_VAR)
    if not wanted or phase in _fired or phase not in wanted.split(","):
        return
    _fired.add(phase)
    os.kill(os.getpid(), signal.SIGINT)
