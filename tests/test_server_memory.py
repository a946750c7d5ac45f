"""``cnn serve``'s memory: freed memory goes back to the system once the server is idle, not
after every request (a single client's requests one after another would each pay the trim and
fault the pages in again)."""

from __future__ import annotations

import threading
import time

import pytest

from cnn.server import memory


class FakeLibc:
    """Counts ``malloc_trim`` calls, with the time of each."""

    def __init__(self):
        self.trims: list[float] = []
        self.trimmed = threading.Event()

    def malloc_trim(self, pad: int) -> int:
        self.trims.append(time.monotonic())
        self.trimmed.set()
        return 1


@pytest.fixture
def libc(monkeypatch):
    fake = FakeLibc()
    monkeypatch.setattr(memory, "_libc", fake)
    monkeypatch.setattr(memory, "TRIM_AFTER", 0.6)
    yield fake
    memory._trim_at = None  # nothing left due for the next test's fake


def test_a_burst_is_trimmed_once_the_server_has_been_idle(libc):
    start = time.monotonic()
    for _ in range(20):  # one client's requests one after another: no trim between them
        with memory.request_slot():
            time.sleep(0.005)
    last_end = time.monotonic()
    assert libc.trims == [] or libc.trims[0] >= start + 0.6  # none while requests came
    assert libc.trimmed.wait(5.0)
    assert len(libc.trims) == 1 and libc.trims[0] >= last_end + 0.6 - 0.01
    time.sleep(0.8)
    assert len(libc.trims) == 1  # idle on: trimmed once, not again and again


def test_no_trim_while_a_request_is_in_flight(libc):
    inside = threading.Event()
    leave = threading.Event()

    def long_request():
        with memory.request_slot():
            inside.set()
            leave.wait(5.0)

    slow = threading.Thread(target=long_request)
    slow.start()
    inside.wait(5.0)
    with memory.request_slot():  # a short one ends while the long one is still computing
        pass
    time.sleep(1.0)
    assert libc.trims == []  # the server was never idle
    leave.set()
    slow.join()
    assert libc.trimmed.wait(5.0) and len(libc.trims) == 1


def test_the_serve_extra_gives_uvicorn_its_c_parser_and_event_loop():
    """``pip install cnn[serve]`` (and the test extra) bring httptools and uvloop, which
    uvicorn's automatic choice takes over its pure-Python parser and asyncio's loop (about
    1 ms of a 9 ms canvas request on loopback, BENCHMARKS.md)."""
    import sys

    pytest.importorskip("uvicorn", reason="the serve extra: pip install -e '.[test]'")
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    assert AutoHTTPProtocol.__name__ == "HttpToolsProtocol"
    if sys.platform != "win32":
        import uvloop
        from uvicorn.loops.auto import auto_loop_factory

        assert auto_loop_factory(use_subprocess=False) is uvloop.new_event_loop
