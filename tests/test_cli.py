"""The command line as a user meets it: every ``--help`` has examples and each example runs as
written; ``--version``; exit statuses; user errors are one line on stderr without a traceback
unless ``--debug``.

The examples run in a temporary folder that holds what they name: ``weight_output/`` files
(the project's own if shipped, else freshly initialised ones of the model in the name),
``custom_test_images/`` (one photo per digit), the other project files they mention, and an image for any other
image name; ``/tmp/...`` outputs are redirected into the temporary folder. MNIST is the
committed subset, except for ``cnn train`` examples, which need the full set (slow).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import full_mnist_path
from test_kaggle import write_kaggle_csv

from cnn import __version__
from cnn.cli import main
from cnn.cli.main import build_parser
from cnn.io.catalog import list_weights
from cnn.io.weights import save_model
from cnn.nn.model import Sequential

ROOT = Path(__file__).resolve().parents[1]
SUBSET = ROOT / "tests" / "data" / "mnist_subset.npz"
IMAGES = ROOT / "custom_test_images"
BAD_MODEL = "C(8)-P2-FC10"
TINY = "C(4,5)-P2-FC10"
STANDARD = "C(8,5)-P2-C(16,3)-P2-FC128-FC10"
IMAGE_NAME = re.compile(r"\.(png|jpe?g|bmp|tiff?|webp|gif)$", re.IGNORECASE)
WEIGHTS_NAME = re.compile(r"weight_details(.+)\.npz$")


def subcommand_parsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def example_lines() -> list[tuple[str, str]]:
    """``(where, line)`` for every ``cnn ...`` line of the examples in the help texts,
    each line once."""
    epilogs = [("cnn", build_parser().epilog)]
    epilogs += [(f"cnn {name}", p.epilog) for name, p in subcommand_parsers().items()]
    seen, found = set(), []
    for where, epilog in epilogs:
        for line in (epilog or "").splitlines():
            line = line.strip()
            if line.startswith("cnn ") or line == "cnn":
                if line not in seen:
                    seen.add(line)
                    found.append((where, line))
    return found


def run_cnn(argv: list[str], cwd, env=None, stdin=subprocess.DEVNULL, timeout=300):
    """``python -m cnn ARGV`` in ``cwd``; returns the CompletedProcess (text)."""
    env = dict(os.environ if env is None else env, COLUMNS="100")
    return subprocess.run([sys.executable, "-m", "cnn", *argv], cwd=cwd, env=env, stdin=stdin,
                          capture_output=True, text=True, timeout=timeout)


def subset_env() -> dict:
    return dict(os.environ, CNN_MNIST_DATA=str(SUBSET))


# ---------------------------------------------------------------- help, version, menu
@pytest.mark.parametrize("name", list(subcommand_parsers()))
def test_every_subcommand_help_explains_itself_with_an_example(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([name, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: cnn {name}")
    assert re.search(r"^examples?:$", out, re.MULTILINE)
    assert f"\n  cnn {name}" in out
    assert "--quiet" in out and "--debug" in out


def test_top_level_help_lists_the_subcommands_and_the_menu(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name in ("train", "predict", "evaluate", "summary", "menu"):
        assert name in out
    assert "without arguments for the interactive menu" in out


def test_version_prints_the_package_version(tmp_path):
    result = run_cnn(["--version"], tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"cnn {__version__}"


def test_cli_py_without_arguments_opens_the_menu_and_end_of_input_quits(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "cli.py")], cwd=tmp_path,
                            stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0
    assert "1  Train a new model" in result.stdout
    assert "0  Quit" in result.stdout
    assert result.stdout.rstrip().endswith("Bye.")


def test_menu_with_a_missing_data_file_is_a_one_line_error(tmp_path):
    result = run_cnn(["menu", "--data", "nowhere.npz"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        result.stderr.strip()] and "'nowhere.npz' (from --data) not found" in result.stderr


# ---------------------------------------------------------------- user errors
def assert_one_line_error(result, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize("command", ["summary", "train"])
def test_malformed_model_string_is_one_error_line_and_status_2(command, tmp_path):
    result = run_cnn([command, "--model", BAD_MODEL], tmp_path, env=subset_env())
    assert_one_line_error(result, "cnn: error: invalid model string 'C(8)-P2-FC10': token 1")
    assert result.stderr.startswith("cnn: error: ")


def test_debug_shows_the_traceback(tmp_path):
    result = run_cnn(["summary", "--model", BAD_MODEL, "--debug"], tmp_path)
    assert result.returncode != 0
    assert "Traceback (most recent call last)" in result.stderr
    assert "UserError: invalid model string" in result.stderr


def test_bad_option_value_is_one_line_naming_the_option(tmp_path):
    result = run_cnn(["train", "--model", TINY, "--epochs", "x"], tmp_path)
    assert_one_line_error(result, "cnn train: error: argument --epochs", "'x'",
                          "see 'cnn train --help'")


def test_unknown_subcommand_is_one_line(tmp_path):
    assert_one_line_error(run_cnn(["trian"], tmp_path), "invalid choice: 'trian'")


def test_missing_weights_file_is_one_line(tmp_path):
    assert_one_line_error(run_cnn(["evaluate", "--weights", "nope.npz"], tmp_path, subset_env()),
                          "cnn: error: weights file 'nope.npz' not found")


def test_missing_image_folder_is_one_line(tmp_path):
    assert_one_line_error(run_cnn(["predict", "no_such_folder"], tmp_path),
                          "cnn: error: 'no_such_folder' not found")


def test_quiet_training_prints_results_but_no_progress(tmp_path):
    result = run_cnn(["train", "--model", TINY, "--validation", "200", "--no-plot",
                      "--out", "tiny.npz", "--quiet"], tmp_path, subset_env())
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "weights saved to tiny.npz" in result.stdout
    assert "test top-1 accuracy" in result.stdout
    assert (tmp_path / "tiny.npz").is_file()


# ---------------------------------------------------------------- examples run as written
def prepare(line: str, folder: Path) -> list[str]:
    """argv of an example line, with what it names put into ``folder``; a default weights file
    (random weights) when the project ships none yet."""
    if not list_weights(ROOT / "weight_output"):
        save_model(Sequential(STANDARD, np.random.default_rng(0)),
                   folder / "weight_output" / f"weight_details{STANDARD}.npz")
    argv = []
    for token in shlex.split(line, comments=True)[1:]:
        if token.startswith("/tmp/"):
            token = str(folder / "tmp" / token[len("/tmp/"):])
        elif not token.startswith("-") and not (folder / token).exists():
            target = folder / token
            source = ROOT / token
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir() and list(source.glob("?_1.*")):  # custom_test_images/
                target.mkdir()
                for image in source.glob("?_1.*"):  # one photo per digit is enough here
                    shutil.copy(image, target / image.name)
            elif source.exists():
                os.symlink(source.resolve(), target)
            elif WEIGHTS_NAME.search(token):
                model = Sequential(WEIGHTS_NAME.search(token).group(1), np.random.default_rng(0))
                model.metadata = {"accuracy": 0.1}
                save_model(model, target)
            elif token.endswith("/") and not token.startswith("/"):  # a folder of digits
                target.mkdir()
                for image in IMAGES.glob("?_1.*"):
                    shutil.copy(image, target / image.name)
            elif IMAGE_NAME.search(token) and "number" in token:  # MNIST test digits "358"
                with np.load(SUBSET) as d:
                    x, y = d["x_test"], d["y_test"]
                page = np.full((200, 420), 255, np.uint8)
                for k, digit in enumerate((3, 5, 8)):
                    ink = cv2.resize(x[int(np.nonzero(y == digit)[0][0])], (120, 120))
                    page[40:160, 20 + 130 * k:140 + 130 * k] = 255 - ink
                cv2.imwrite(str(target), page)
            elif IMAGE_NAME.search(token):
                shutil.copy(IMAGES / "7_1.jpg", target)
            elif token in ("train.csv", "test.csv"):  # Kaggle's layout, from the subset
                with np.load(SUBSET) as d:
                    write_kaggle_csv(target, d["x_train"],
                                     d["y_train"] if token == "train.csv" else None)
        argv.append(token)
    return argv


EXAMPLES = example_lines()


def serve_until_healthy(argv: list[str], cwd, env) -> None:
    """Start a ``cnn serve`` example, ask its /api/health, stop it with Ctrl-C (SIGINT)."""
    pytest.importorskip("fastapi", reason="cnn serve needs the serve extra")
    import json
    import re
    import signal
    import urllib.request

    proc = subprocess.Popen([sys.executable, "-m", "cnn", *argv], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        url = None
        for _ in range(3):
            match = re.search(r"(http://\S+/) in a browser", proc.stdout.readline())
            if match:
                url = match.group(1)
                break
        assert url, f"{argv}: no URL printed; {proc.stderr.read() if proc.poll() else ''}"
        with urllib.request.urlopen(url + "api/health", timeout=30) as response:
            assert json.load(response)["status"] == "ok"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()


KEPT_VISUALIZE = "cnn visualize --layer 6 --channel 3"  # the one visualize example run by default


def slow_example(line: str) -> bool:
    """Examples that train, write a model, or score the full MNIST test set with other weights
    or options than plain ``cnn evaluate`` (each runs the classifier and both not-a-digit
    gates over 10,000 images), every ``cnn visualize`` example but one (activation
    maximization, seconds each) and the every-shipped-model ensemble: CI runs them with
    ``-m slow``, and the default run stays within its five minutes."""
    full_test_set = line.startswith("cnn evaluate") and "--data" not in line
    return (line.startswith("cnn train") or " --out " in line
            or (full_test_set and line.strip() != "cnn evaluate")
            or (line.startswith("cnn visualize") and not line.startswith(KEPT_VISUALIZE))
            or "--weights shipped --ensemble" in line)


@pytest.mark.parametrize(
    "where, line",
    [pytest.param(w, l, marks=[pytest.mark.slow] if slow_example(l) else [], id=l)
     for w, l in EXAMPLES])
def test_help_example_runs_as_written(where, line, tmp_path):
    env = subset_env()
    if line.startswith("cnn train"):
        full = full_mnist_path()
        if full is None:
            pytest.skip("cnn train examples need the full MNIST file (CNN_MNIST_DATA)")
        env["CNN_MNIST_DATA"] = str(full)
    argv = prepare(line, tmp_path)
    if line.startswith("cnn serve"):
        serve_until_healthy(argv + ["--port", "0"], tmp_path, env)  # any free port
        return
    result = run_cnn(argv, tmp_path, env, timeout=900)
    assert result.returncode == 0, (f"example from '{where} --help' failed: {line}\n"
                                    f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    assert "Traceback" not in result.stderr


def test_the_command_line_starts_without_heavy_imports():
    # what runs before main()'s try block is where a Ctrl-C would be a traceback: keep it to
    # the standard library and cnn's small helpers (tqdm, NumPy, OpenCV come later, inside it)
    code = ("import sys, cnn.cli.main; heavy = {'tqdm', 'numpy', 'cv2', 'scipy'} & "
            "set(sys.modules); print(sorted(heavy))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
