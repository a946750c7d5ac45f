"""``cnn serve`` from the command line and the menu: start-up, address, errors, shutdown."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from cnn.cli import main
from cnn.cli import menu as menu_module
from cnn.cli.menu import Menu

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "weight_output" / "weight_detailsC(8,5)-P2-C(16,3)-P2-FC128-FC10.npz"


def test_without_the_serve_extra_one_line_says_what_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "fastapi", None)  # import fastapi -> ImportError
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert err == "cnn: error: cnn serve needs FastAPI and uvicorn: pip install 'cnn[serve]'\n"


def test_a_port_in_use_is_one_line(capsys):
    pytest.importorskip("fastapi")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["serve", "--weights", str(SMALL), "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip()
    assert re.fullmatch(rf"cnn: error: cannot listen on 127\.0\.0\.1:{port}: .+; choose another "
                        r"--port \(0 picks a free one\)", err), err


def test_the_listening_socket_is_tcp_so_answers_are_not_held_by_nagle():
    from cnn.cli.commands.serve import open_socket

    # asyncio sets TCP_NODELAY on accepted connections only when proto is IPPROTO_TCP; with
    # proto 0 every answer waited ~40 ms for the client's delayed ACK.
    with open_socket("127.0.0.1", 0) as sock:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.getsockname()[0] == "127.0.0.1" and sock.getsockname()[1] > 0


@pytest.mark.parametrize("argv, message", [
    (["--port", "70000"], "expected a port number 0..65535, got '70000'"),
    (["--min-confidence", "2"], "--min-confidence 2.0 should be between 0 and 1"),
    (["--weights", "nope.npz"], "weights file 'nope.npz' not found"),
])
def test_bad_options_are_one_line(argv, message, capsys):
    pytest.importorskip("fastapi")
    try:
        status = main(["serve"] + argv)
    except SystemExit as e:  # argparse
        status = e.code
    assert status == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_serve_binds_loopback_prints_the_url_serves_and_stops_on_ctrl_c():
    pytest.importorskip("fastapi")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "cnn", "serve", "--weights", str(SMALL),
                             "--port", "0", "--quiet"], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        first = proc.stdout.readline()
        assert first.startswith("serving C(8,5)-P2-C(16,3)-P2-FC128-FC10 (")
        said = proc.stdout.readline()  # "not a digit" is on: the shipped gates and threshold
        from cnn.io.catalog import shipped_gate_threshold

        assert said.startswith("rejection: the mean of 2 gates")
        assert said.endswith(f"threshold {shipped_gate_threshold():g}; the number reader's "
                             "line gate on\n")
        match = re.fullmatch(r"open (http://127\.0\.0\.1:(\d+)/) in a browser \(API docs: "
                             r"/docs\); Ctrl-C stops\n", proc.stdout.readline())
        assert match, "no URL printed"
        url = match.group(1)
        with urllib.request.urlopen(url + "api/health", timeout=10) as r:
            assert json.load(r)["model"] == "C(8,5)-P2-C(16,3)-P2-FC128-FC10"
        bad = urllib.request.Request(url + "api/predict", data=b"not an image",
                                     headers={"Content-Type": "image/png"})
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(bad, timeout=10)
        assert info.value.code == 400
        good = urllib.request.Request(
            url + "api/predict", data=(ROOT / "custom_test_images" / "4_3.png").read_bytes(),
            headers={"Content-Type": "image/png"})
        with urllib.request.urlopen(good, timeout=10) as r:
            assert json.load(r)["digit"] == 4
        # Only loopback: the port is not open on another address of this machine.
        others = {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
                  } - {"127.0.0.1"}
        for address in others:
            with socket.socket() as s:
                s.settimeout(2)
                assert s.connect_ex((address, int(match.group(2)))) != 0
        proc.send_signal(signal.SIGINT)
        assert proc.wait(15) == 0
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_menu_action_7_serves_the_chosen_weights(monkeypatch, capsys):
    ran = []
    monkeypatch.setattr(Menu, "run_cli", lambda self, argv: ran.append(argv) or 0)
    weights = menu_module.list_weights()
    number = next(i for i, w in enumerate(weights, 1) if w.path.name == SMALL.name)
    answers = iter(["7", str(number), "8123", "0"])
    assert Menu(input_func=lambda prompt: next(answers)).run() == 0
    assert "7  Draw digits in the browser (cnn serve)" in capsys.readouterr().out
    assert len(ran) == 1
    argv = ran[0]
    assert argv[0] == "serve" and argv[-2:] == ["--port", "8123"]
    assert Path(argv[argv.index("--weights") + 1]).name == SMALL.name


def test_menu_serves_until_ctrl_c_then_shows_the_menu_again(tmp_path):
    pytest.importorskip("fastapi")
    pexpect = pytest.importorskip("pexpect")
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="100", LINES="40")
    child = pexpect.spawn(sys.executable, ["-m", "cnn", "menu"], cwd=str(ROOT), env=env,
                          encoding="utf-8", timeout=60, dimensions=(40, 100))
    try:
        child.expect_exact("Choice [")
        child.sendline("7")
        child.expect_exact("Weights file (number or path) [")
        child.sendline("")
        child.expect_exact("Port (0: any free one) [8000]: ")
        child.sendline("0")
        child.expect(r"open (http://127\.0\.0\.1:\d+/) in a browser")
        url = child.match.group(1)
        with urllib.request.urlopen(url + "api/health", timeout=10) as r:
            assert json.load(r)["status"] == "ok"
        child.sendintr()
        child.expect_exact("server stopped")
        child.expect_exact("Choice [")
        child.sendline("0")
        child.expect_exact("Bye.")
        child.expect(pexpect.EOF)
    finally:
        if child.isalive():
            child.terminate(force=True)
