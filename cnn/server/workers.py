"""``cnn serve --workers N``: N server processes answering on one listening socket.

One Python process computes one request at a time on one core for most of its length (the
photo pipeline holds the GIL between OpenCV and NumPy calls), so 8 clients on a 2-core machine
queue behind one core. With ``--workers N`` the command line opens the listening socket (as
for one process: :func:`cnn.cli.commands.serve.open_socket`, protocol from ``getaddrinfo``,
so asyncio sets TCP_NODELAY on its connections), then uvicorn's multi-process supervisor
(``uvicorn.supervisors.Multiprocess``) starts N worker processes (``spawn``) that inherit that
socket and each accept from it, the kernel handing every new connection to one of them. Each
worker builds its own application with :func:`app_from_environment` from the settings the
command line checked (passed in the environment variable :data:`SETTINGS_ENV`, as JSON), and
runs ``threads_per_worker`` of cnn's threads so N workers do not oversubscribe the cores.

Ctrl-C reaches every process of the terminal's process group: the workers finish their
requests and stop, the supervisor waits for them (``SIGTERM`` to any still running) and
returns; a ``SIGTERM`` to the supervisor alone does the same.
"""

from __future__ import annotations

import json
import os
import signal

SETTINGS_ENV = "CNN_SERVE_SETTINGS"  # the workers' settings, JSON (see app_from_environment)
MAX_DEFAULT_WORKERS = 4  # the default is the number of usable cores, at most this many
THREAD_ENV = ("CNN_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def default_workers() -> int:
    """The worker processes ``cnn serve`` starts without ``--workers``: the CPUs this process
    may run on, at most :data:`MAX_DEFAULT_WORKERS`, at least 1."""
    from cnn.parallel.threads import available_cpus

    return max(1, min(available_cpus(), MAX_DEFAULT_WORKERS))


def app_from_environment():
    """The application of one worker process, from :data:`SETTINGS_ENV`: a JSON object with
    ``weights`` (list of str, or null: the shipped default), ``method`` (``"mean"`` or
    ``"vote"``), ``min_confidence`` (float in [0, 1]), ``reject`` (null: rejection off; else
    ``[threshold or null, list of gate weights paths or null]``: several gates decide by their
    mean, :meth:`cnn.tasks.reject.Rejector.default`) and ``allowed_hosts`` (list of str).

    Called by uvicorn in each worker (``factory=True``). Sets up cnn's threads and the
    server's ``malloc`` settings first (:func:`cnn.server.memory.release_memory_settings`).

    Raises:
        KeyError: the variable is not set (not started by ``cnn serve --workers``).
        UserError: a weights file that no longer loads (checked by the command line before).
    """
    from cnn.parallel.threads import get_num_threads
    from cnn.server.app import ModelStore, create_app
    from cnn.server.memory import release_memory_settings
    from cnn.tasks.reject import Rejector

    settings = json.loads(os.environ[SETTINGS_ENV])
    get_num_threads()
    release_memory_settings()
    store = ModelStore(settings["weights"], settings["method"])
    reject = settings["reject"]
    rejector = None if reject is None else Rejector.default(reject[0], reject[1])
    return create_app(store, settings["min_confidence"], rejector,
                      allowed_hosts=settings["allowed_hosts"])


def run_workers(sock, workers: int, settings: dict, log_level: str) -> None:
    """Serve on ``sock`` (listening, inheritable) with ``workers`` >= 2 processes until Ctrl-C
    or ``SIGTERM``; returns when every worker has stopped.

    Args:
        sock: the listening socket (:func:`cnn.cli.commands.serve.open_socket`).
        workers: number of worker processes.
        settings: as :func:`app_from_environment` reads them.
        log_level: uvicorn's (``"info"``, ``"warning"``).
    """
    import uvicorn
    from uvicorn.supervisors.multiprocess import SIGNALS, Multiprocess

    from cnn.parallel.threads import available_cpus
    from cnn.parallel.workers import environment

    threads = str(max(1, available_cpus() // workers))
    env = {k: os.environ.get(k) or threads for k in THREAD_ENV}  # the user's setting stays
    env[SETTINGS_ENV] = json.dumps(settings)
    config = uvicorn.Config("cnn.server.workers:app_from_environment", factory=True,
                            workers=workers, log_level=log_level, access_log=False)
    handlers = {s: signal.getsignal(s) for s in SIGNALS}
    try:
        with environment(env):
            Multiprocess(config, sockets=[sock]).run()
    finally:  # the supervisor took over the signals; a menu that called us wants them back
        for s, handler in handlers.items():
            signal.signal(s, handler)
