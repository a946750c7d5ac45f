"""Which ``Host`` headers ``cnn serve`` answers: the names it listens on, so a web page on
another site cannot reach it by DNS rebinding.

A page at ``http://evil.example/`` whose name the attacker's DNS later points at 127.0.0.1 may
send requests to ``http://evil.example:8000/`` that reach a server on this machine, with
``Host: evil.example:8000``; the browser treats them as same-origin and lets the page read the
answers. A server that answers only the host names it listens on refuses them (Starlette's
``TrustedHostMiddleware``: 400 ``Invalid host header``). ``--allow-host NAME`` adds a name
(``*.example.org`` for a domain, ``*`` for any: the opt-out).
"""

from __future__ import annotations

import socket

LOCAL_NAMES = ("localhost", "127.0.0.1", "[::1]")  # this machine, as a browser names it
WILDCARDS = ("0.0.0.0", "::", "")  # listen addresses meaning "every interface"


def bracketed(host: str) -> str:
    """An IPv6 address as it appears in a Host header (``::1`` -> ``[::1]``)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def machine_names() -> list[str]:
    """This machine's host name, its fully qualified name and its addresses (for a server
    listening on every interface, which other machines reach by those)."""
    names = set()
    try:
        hostname = socket.gethostname()
        names.update({hostname, socket.getfqdn()})
        for info in socket.getaddrinfo(hostname, None):
            names.add(bracketed(info[4][0]))
    except OSError:
        pass
    return sorted(n for n in names if n)


def allowed_hosts(listen_host: str, extra: list[str] | None = None) -> list[str]:
    """The ``Host`` names to answer: this machine's local names, the ``--host`` given (and for
    ``0.0.0.0`` / ``::`` the machine's own names and addresses), plus ``extra``
    (``--allow-host``; ``*`` allows any).

    Returns:
        lower-case names without ports, IPv6 addresses in brackets, as
        ``TrustedHostMiddleware`` compares them.
    """
    names = list(LOCAL_NAMES)
    if listen_host in WILDCARDS:
        names += machine_names()
    else:
        names.append(bracketed(listen_host))
    names += [bracketed(h.strip()) for h in extra or [] if h.strip()]
    return list(dict.fromkeys(n.lower() for n in names))
