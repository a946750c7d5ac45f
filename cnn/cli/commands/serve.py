"""``cnn serve``: a local web page to draw a digit and watch the network read it."""

from __future__ import annotations

import argparse
import socket

from cnn.cli.commands.common import (
    add_reject_options,
    add_weights_option,
    rejector_from_args,
)
from cnn.errors import UserError

EXAMPLE = """examples:
  cnn serve                      # then open http://127.0.0.1:8000/
  cnn serve --port 8080 --weights "weight_output/weight_detailsC(8,5)-P2-C(16,3)-P2-FC128-FC10.npz"
  cnn serve --weights shipped    # an ensemble of every shipped model
  cnn serve --workers 1          # one process (the default: one per core, at most 4)
"""
INSTALL_HINT = "cnn serve needs FastAPI and uvicorn: pip install 'cnn[serve]'"


def add_parser(subparsers, common) -> None:
    p = subparsers.add_parser(
        "serve", parents=[common], help="web page: draw a digit, watch the network read it",
        description="Start a local web server with a drawing page (prediction, the 28x28 "
        "network input and every layer's activation maps, live) and a JSON API "
        "(POST /api/predict, GET /api/models, GET /api/health; OpenAPI docs at /docs). "
        "Several --weights files serve their ensemble (activation maps: its first member).",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_weights_option(p, ensemble=True)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (127.0.0.1: this machine only; 0.0.0.0: every "
                        "network the machine is on)")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="also answer requests addressed to NAME (the Host header); by default "
                        "only localhost, 127.0.0.1, [::1] and --host are answered, so that a "
                        "web page elsewhere cannot reach the server by DNS rebinding; "
                        "'*.example.org' allows a domain, '*' any name")
    p.add_argument("--port", type=port_number, default=8000,
                   help="TCP port, 0 for any free one (8000)")
    p.add_argument("--min-confidence", type=float, default=0.5, metavar="P",
                   help="below this softmax confidence the page says it is unsure (0.5)")
    p.add_argument("--workers", type=worker_count, default=None, metavar="N",
                   help="server processes answering on the one port, so that several "
                        "clients use several cores (default: the number of cores, at most 4; "
                        "1: one process)")
    add_reject_options(p)
    p.set_defaults(run=run)


MAX_WORKERS = 32


def worker_count(text: str) -> int:
    """argparse type: a number of worker processes, 1..:data:`MAX_WORKERS`."""
    if not text.strip().isdigit() or not 1 <= int(text) <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(
            f"--workers expects a whole number from 1 to {MAX_WORKERS}, got {text!r}")
    return int(text)


def port_number(text: str) -> int:
    """argparse type: a TCP port 0..65535."""
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0..65535, got {text!r}")
    return int(text)


def open_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``.

    Raises:
        UserError: the port is taken or the address is not this machine's.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise UserError(f"--host {host!r} is not an address of this machine ({e.strerror}); "
                        "use 127.0.0.1") from None
    family, kind, proto, _, address = infos[0]
    # proto = IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on such sockets' connections,
    # and without it every response waits for the client's delayed ACK (40 ms on Linux).
    sock = socket.socket(family, kind, proto or socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as e:
        sock.close()
        raise UserError(f"cannot listen on {host}:{port}: {e.strerror}; choose another --port "
                        "(0 picks a free one)") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def run(args) -> int:
    try:
        import fastapi  # noqa: F401
        import python_multipart  # noqa: F401
        import uvicorn
    except ImportError:
        raise UserError(INSTALL_HINT) from None
    from cnn.server.app import ModelStore, create_app
    from cnn.server.hosts import allowed_hosts
    from cnn.server.workers import default_workers, run_workers

    if not 0 <= args.min_confidence <= 1:
        raise UserError(f"--min-confidence {args.min_confidence} should be between 0 and 1")
    from cnn.parallel.threads import get_num_threads
    from cnn.server.memory import release_memory_settings

    get_num_threads()  # sets up cnn's threads (and the training malloc setting) now, so that
    release_memory_settings()  # the server's own setting comes after and stays
    store = ModelStore(args.weights, args.ensemble)
    rejector = rejector_from_args(args)
    hosts = allowed_hosts(args.host, args.allow_host)
    bad = [h for h in hosts if "*" in h[1:] or h.startswith("*") and h != "*" and
           not h.startswith("*.")]
    if bad:
        raise UserError(f"--allow-host {bad[0]!r}: use a name, '*.domain' or '*'")
    app = create_app(store, args.min_confidence, rejector, allowed_hosts=hosts)
    sock = open_socket(args.host, args.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"serving {store.get(None).model} ({store.get(None).name})")
    print(rejector.describe() if rejector is not None else "rejection off: always a digit")
    print(f"open http://{shown}:{port}/ in a browser (API docs: /docs); Ctrl-C stops",
          flush=True)
    log_level = "warning" if args.quiet else "info"
    workers = getattr(args, "workers", None) or default_workers()
    if workers > 1:
        print(f"{workers} worker processes", flush=True)
    try:
        if workers > 1:
            run_workers(sock, workers, {
                "weights": args.weights, "method": args.ensemble,
                "min_confidence": args.min_confidence, "allowed_hosts": hosts,
                "reject": None if rejector is None else [args.reject_threshold,
                                                         args.reject_weights]}, log_level)
        else:
            config = uvicorn.Config(app, log_level=log_level, access_log=False)
            uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C once it has shut down cleanly
        pass
    finally:
        sock.close()
    print("server stopped")
    return 0
