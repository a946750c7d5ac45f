"""Bad input and faults, one class per test (issue 10): each gets one line naming what was
wrong, a non-zero exit status, no traceback, nothing blocks, and the user's files are
byte-identical afterwards. Tests run ``cnn.cli.main.main`` in-process where they can; a
subprocess (with a timeout) where a hang, a pipe, a full disk or the interpreter's exit is
what is tested."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shlex
import shutil
import stat
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import v1_weights

from cnn.cli import main
from cnn.io.weights import load_model, save_model
from cnn.nn.model import Sequential

ROOT = Path(__file__).resolve().parents[1]
SUBSET = ROOT / "tests" / "data" / "mnist_subset.npz"
IMAGES = ROOT / "custom_test_images"
TINY = "C(4,5)-P2-FC10"


# ------------------------------------------------------------------ helpers
def fingerprint(folder: Path) -> dict[str, str]:
    """SHA-256 of every regular file under ``folder`` (FIFOs are listed, never opened)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        mode = path.lstat().st_mode
        if stat.S_ISREG(mode):
            out[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif not stat.S_ISDIR(mode):
            out[str(path.relative_to(folder))] = "special"
    return out


def run_cli(argv, capsys) -> tuple[int, str, str]:
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def one_error_line(err: str) -> str:
    """The single ``cnn: error: ...`` line of stderr (fails if there is not exactly one, or
    a traceback)."""
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("cnn: error: ")]
    assert len(lines) == 1, err
    return lines[0]


def cnn_subprocess(args, cwd, timeout=120, env=None, **kwargs):
    full_env = dict(os.environ, **(env or {}))
    full_env.setdefault("MPLBACKEND", "Agg")
    return subprocess.run([sys.executable, "-m", "cnn", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout, **kwargs)


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares ``width x height`` pixels (its data is one row)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * (width + 1))) + chunk(b"IEND", b""))


@pytest.fixture
def tiny_weights(tmp_path):
    model = Sequential(TINY, np.random.default_rng(0))
    path = tmp_path / "weights" / f"weight_details{TINY}.npz"
    save_model(model, path)
    return path


@pytest.fixture
def photos(tmp_path):
    """A user's folder: three labelled photos, two sharing a stem, and an older plot."""
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(IMAGES / "7_3.png", folder / "7.png")
    shutil.copy(IMAGES / "2_1.jpg", folder / "2.jpg")
    shutil.copy(IMAGES / "3_3.png", folder / "a.png")
    shutil.copy(IMAGES / "3_1.jpg", folder / "a.jpg")
    (folder / "2_prediction.png").write_bytes((IMAGES / "0_3.png").read_bytes())
    return folder


# ------------------------------------------------------------------ 1. output files
def test_predict_outputs_into_the_input_folder_replace_nothing(photos, tiny_weights, capsys):
    before = fingerprint(photos)
    status, out, err = run_cli(["predict", str(photos), "--weights", str(tiny_weights),
                                "--save-transformed", str(photos), "--plot", str(photos)],
                               capsys)
    assert status == 0
    after = fingerprint(photos)
    assert {k: after[k] for k in before} == before  # every file the user had is intact
    new = set(after) - set(before)
    # a.png and a.jpg get their own names; 7.png's input is kept, its output renamed
    assert {"a_png.png", "a_jpg.png", "7_1.png", "2.png"} <= new
    assert {"a_png_prediction.png", "a_jpg_prediction.png", "7_prediction.png"} <= new
    assert "'" + str(photos / "7.png") + "' is one of the input images" in err
    assert "Traceback" not in err


def test_predict_overwrite_replaces_old_outputs_but_never_an_input(photos, tiny_weights,
                                                                    tmp_path, capsys):
    out_dir = tmp_path / "seen"
    out_dir.mkdir()
    (out_dir / "7.png").write_bytes(b"old output")
    args = ["predict", str(photos / "7.png"), "--weights", str(tiny_weights),
            "--save-transformed", str(out_dir)]
    assert run_cli(args, capsys)[0] == 0
    assert (out_dir / "7.png").read_bytes() == b"old output"  # kept without --overwrite
    assert (out_dir / "7_1.png").is_file()
    assert run_cli(args + ["--overwrite"], capsys)[0] == 0
    assert (out_dir / "7.png").read_bytes()[:4] == b"\x89PNG"  # replaced when asked
    before = fingerprint(photos)
    assert run_cli(["predict", str(photos / "7.png"), "--weights", str(tiny_weights),
                    "--save-transformed", str(photos), "--overwrite"], capsys)[0] == 0
    assert fingerprint(photos)["7.png"] == before["7.png"]  # an input, even with --overwrite


# ------------------------------------------------------------------ 3. non-finite training
@pytest.mark.parametrize("option, value", [
    ("--lr", "inf"), ("--lr", "nan"), ("--lr-decay", "inf"), ("--lr-decay", "nan"),
    ("--seed", "-1"), ("--warmup", "inf"), ("--warmup", "-1"), ("--label-smoothing", "nan"),
    ("--schedule", "linear"),
])
def test_training_options_refuse_non_finite_numbers(option, value, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--model", TINY, "--data", str(SUBSET), "--out",
              str(tmp_path / "w.npz"), option, value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and option in err and "Traceback" not in err
    assert not list(tmp_path.iterdir())


def test_training_that_diverges_stops_and_keeps_the_last_finite_epoch(tmp_path, capsys):
    # epoch 1 at lr 0.001 is fine; epoch 2 runs at lr 1e27 and the loss becomes nan
    out = tmp_path / "w.npz"
    status, _, err = run_cli(["train", "--model", TINY, "--data", str(SUBSET), "--limit", "500",
                              "--epochs", "3", "--lr-decay", "1e30", "--out", str(out), "-q",
                              "--no-plot"], capsys)
    assert status == 1
    line = one_error_line(err)
    assert line.startswith("cnn: error: training stopped: the loss became nan in epoch 2")
    assert "Warning" not in err
    model = load_model(out)  # finite weights (load_model refuses NaN), epoch 1 recorded
    assert model.metadata["epochs"] == 1 and "diverged" in model.metadata


def test_training_that_diverges_in_the_first_epoch_saves_nothing(tmp_path, capsys):
    status, _, err = run_cli(["train", "--model", TINY, "--data", str(SUBSET), "--limit", "500",
                              "--lr", "1e30", "--out", str(tmp_path / "w.npz"), "-q"], capsys)
    assert status == 1
    assert "training stopped" in one_error_line(err)
    assert "nothing was saved" in err
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------ 4. FIFOs
@pytest.mark.parametrize("argv", [
    ["predict", "{fifo}"],
    ["predict", "{folder}"],
    ["visualize", "--image", "{fifo}", "--steps", "2"],
    ["evaluate", "--weights", "{fifo}"],
    ["evaluate", "--data", "{fifo}"],
    ["summary", "--weights", "{fifo}"],
])
def test_a_fifo_is_refused_without_blocking(argv, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    fifo = folder / "digit.png"
    os.mkfifo(fifo)
    args = [a.format(fifo=fifo, folder=folder) for a in argv]
    result = cnn_subprocess(args, cwd=ROOT, timeout=60)  # a read would block forever
    assert result.returncode in (1, 2)
    assert "Traceback" not in result.stderr
    assert "FIFO" in result.stdout + result.stderr or "not a regular file" in \
        result.stdout + result.stderr


def test_the_menus_folder_answer_refuses_a_fifo_without_blocking(tmp_path, capsys):
    from cnn.cli.menu import image_file, image_folder

    fifo = tmp_path / "digit.png"
    os.mkfifo(fifo)
    assert image_folder(str(fifo)) == str(fifo)  # listed; predict then refuses it, unopened
    with pytest.raises(ValueError, match="not found"):
        image_file(str(fifo))
    status, out, _ = run_cli(["predict", str(tmp_path)], capsys)
    assert status == 1 and "not a regular file" in out


# ------------------------------------------------------------------ 5. sizes before memory
def test_an_image_declaring_a_billion_pixels_is_refused_from_its_header(tmp_path, tiny_weights,
                                                                        capsys):
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(IMAGES / "4_1.jpg", folder / "4_1.jpg")
    (folder / "huge.png").write_bytes(png_declaring(50_000, 50_000))
    (folder / "big.png").write_bytes(png_declaring(32_000, 32_000))
    before = fingerprint(folder)
    status, out, err = run_cli(["predict", str(folder), "--weights", str(tiny_weights)], capsys)
    assert status == 1
    lines = out.splitlines()
    assert any(line.startswith("4_1.jpg") and "->" in line for line in lines)  # still answered
    huge = next(line for line in lines if line.startswith("huge.png"))
    assert "declares 2,500,000,000 pixels, more than the 40 megapixels allowed" in huge
    assert "1,024,000,000 pixels" in next(line for line in lines if line.startswith("big.png"))
    assert fingerprint(folder) == before and "Traceback" not in err


def npz_with_member_header(path: Path, key: str, shape, dtype="<f4", data=b"") -> None:
    """An .npz whose member ``key`` has a hand-written header (and only ``data`` after it)."""
    import zipfile

    header = repr({"descr": dtype, "fortran_order": False, "shape": tuple(shape)}).encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{key}.npy", npy)
        z.writestr("model.npy", _npy_bytes(np.array(TINY)))


def _npy_bytes(array) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize("shape, reason", [
    ((1_000_000, 1_000_000), "more than the 1,073,741,824 bytes allowed"),  # 10^12 elements
    ((750_000_000,), "more than the 1,073,741,824 bytes allowed"),  # 3 GB in a tiny file
    ((100_000_000,), "the archive holds"),  # 400 MB declared, none there
    ((4, 1, 3, 3), "does not fit"),  # small and wrong: checked against the model first
])
def test_npz_member_sizes_are_checked_before_reading(shape, reason, tmp_path, capsys):
    path = tmp_path / "w.npz"
    npz_with_member_header(path, "weight_1", shape, data=bytes(144))
    before = path.read_bytes()
    status, out, err = run_cli(["summary", "--weights", str(path)], capsys)
    assert status == 2 and out == ""
    assert reason in one_error_line(err)
    assert path.read_bytes() == before


@pytest.mark.parametrize("model, reason", [
    ("C(99999999,3)-FC10", "parameters, more than the 50,000,000 allowed"),
    ("FC1000000000000-FC10", "has a number longer than 9 digits"),
    ("C(100000,1)-FC10", "parameters, more than"),
    ("FC" + "9" * 5000 + "-FC10", "has a number longer than 9 digits"),
])
def test_huge_model_strings_are_refused_before_allocating(model, reason, capsys):
    status, out, err = run_cli(["summary", "--model", model], capsys)
    line = one_error_line(err)
    assert status == 2 and reason in line and len(line) < 300


# ------------------------------------------------------------------ 6. weights files
def write_weights(path: Path, **overrides) -> Path:
    """A valid weights file of the tiny model with some members replaced (None: removed)."""
    arrays = v1_weights(Sequential(TINY, np.random.default_rng(0)))
    arrays.update(model=np.array(TINY), format_version=np.array(1),
                  metadata=np.array(json.dumps({"accuracy": 0.5})))
    for key, value in overrides.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    np.savez(path, **arrays)
    return path


W1 = v1_weights(Sequential(TINY, np.random.default_rng(0)))["weight_1"]


@pytest.mark.parametrize("override, reason", [
    ({"metadata": np.array("{not json")}, "'metadata' is not JSON"),
    ({"metadata": np.array("[1, 2]")}, "should be a JSON object"),
    ({"metadata": np.array("[" * 100_000 + "]" * 100_000)}, "nested"),
    ({"metadata": np.array('{"a":' * 50 + "1" + "}" * 50)}, "nested more than 20 levels"),
    ({"format_version": np.array("1")}, "'format_version' should be an integer"),
    ({"format_version": np.array(1.5)}, "'format_version' should be an integer"),
    ({"format_version": np.array(99)}, "format version 99"),
    ({"weight_1": W1.astype(np.complex64)}, "complex numbers"),
    ({"weight_1": np.zeros(W1.shape, [("a", "<f4")])}, "structured"),
    ({"weight_1": np.full(W1.shape, "x")}, "expected numbers"),
    ({"weight_1": np.zeros(W1.shape, "V4")}, "structured"),
    ({"weight_1": np.where(np.eye(5, dtype=bool), np.nan, W1)}, "NaN or infinite"),
    ({"bias_1": np.full(4, np.inf, np.float32)}, "NaN or infinite"),
    ({"model": np.array("C(８,５)-FC10")}, "non-ASCII digit"),
    ({"model": np.array(["C(4,5)-P2-FC10"])}, "should be a text"),
    ({"weight_1": None}, "it has no 'weight_1' array"),
])
def test_bad_weights_files_are_one_line(override, reason, tmp_path, capsys):
    path = write_weights(tmp_path / "w.npz", **override)
    before = path.read_bytes()
    for command in (["summary", "--weights"], ["predict", str(IMAGES / "1_1.jpg"), "--weights"]):
        status, out, err = run_cli([*command, str(path)], capsys)
        assert status == 2, (command, err)
        assert reason in one_error_line(err), err
    assert path.read_bytes() == before


def test_a_zip_member_that_is_not_npy_is_refused(tmp_path, capsys):
    import zipfile

    path = write_weights(tmp_path / "w.npz")
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("notes.txt", "hello")
    status, _, err = run_cli(["summary", "--weights", str(path)], capsys)
    assert status == 2 and "member 'notes.txt' is not an .npy array" in one_error_line(err)


# ------------------------------------------------------------------ 7. one bad file in weight_output
def test_an_unreadable_file_in_weight_output_is_skipped_with_a_warning(tmp_path, monkeypatch,
                                                                       capsys):
    folder = tmp_path / "weight_output"
    folder.mkdir()
    write_weights(folder / "good.npz", metadata=np.array(json.dumps({"accuracy": 0.2})))
    write_weights(folder / "nan.npz", weight_1=np.full(W1.shape, np.nan, np.float32),
                  metadata=np.array(json.dumps({"accuracy": 0.99})))
    (folder / "junk.npz").write_bytes(b"\x80\x04junk")
    before = fingerprint(folder)
    monkeypatch.chdir(tmp_path)
    status, out, err = run_cli(["predict", str(IMAGES / "1_1.jpg")], capsys)
    assert status == 0 and "->" in out  # the default is the shipped one, whatever lies here
    from cnn.io.catalog import list_weights

    listed = [w.path.name for w in list_weights()]  # as the menu and cnn serve list them
    err = capsys.readouterr().err
    assert "good.npz" in listed and not {"nan.npz", "junk.npz"} & set(listed)
    warnings = [line for line in err.splitlines() if line.startswith("cnn: warning: skipping")]
    assert {w.split()[3].rstrip(":") for w in warnings} >= {"nan.npz", "junk.npz"}
    assert "NaN or infinite" in err and "pickle" in err
    status, out, err = run_cli(["evaluate", "--data", str(SUBSET), "--json"], capsys)
    assert status == 0 and Path(json.loads(out)["weights"]).name not in ("nan.npz", "junk.npz")
    assert fingerprint(folder) == before


# ------------------------------------------------------------------ 8. outputs that cannot be written
def test_an_output_folder_under_a_file_is_one_line_and_predictions_are_printed(
        photos, tiny_weights, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("keep me")
    status, out, err = run_cli(["predict", str(photos / "7.png"), "--weights",
                                str(tiny_weights), "--plot", str(blocker / "plots")], capsys)
    assert status == 1
    assert out.splitlines()[1].startswith("7.png") and "->" in out  # the result came first
    line = one_error_line(err)
    assert str(blocker / "plots") in line and "Not a directory" in line
    assert blocker.read_text() == "keep me"


@pytest.mark.parametrize("code, hint", [
    (errno.ENOSPC, "free some space"),  # a full disk
    (errno.EACCES, "choose a folder you can write to"),  # a read-only folder (as a user)
    (errno.EROFS, "choose a folder on a writable disk"),  # a read-only file system
])
def test_a_folder_that_cannot_be_written_is_one_line_naming_the_file(
        code, hint, photos, tiny_weights, tmp_path, monkeypatch, capsys):
    import cnn.files

    def fail(path, write, overwrite=True):
        raise OSError(code, os.strerror(code), str(path))

    monkeypatch.setattr(cnn.files, "atomic_write", fail)
    monkeypatch.setattr("cnn.tasks.visualize_output.atomic_write", fail)
    status, out, err = run_cli(["predict", str(photos / "7.png"), "--weights",
                                str(tiny_weights), "--save-transformed", str(tmp_path / "o")],
                               capsys)
    assert status == 1 and "7.png" in out and "->" in out  # the result is printed
    line = one_error_line(err)
    assert os.strerror(code) in line and str(tmp_path / "o" / "7.png") in line and hint in line


def test_a_read_only_output_folder_is_one_line(photos, tiny_weights, tmp_path, capsys):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders; the class is covered by the tests "
                    "of a path under a file and of a full disk")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    status, out, err = run_cli(["predict", str(photos / "7.png"), "--weights",
                                str(tiny_weights), "--plot", str(folder)], capsys)
    folder.chmod(0o700)
    assert status == 1 and "->" in out and str(folder) in one_error_line(err)


def test_standard_output_on_a_full_disk_is_one_line(tiny_weights):
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "cnn", "summary", "--weights",
                                 str(tiny_weights)], stdout=full, stderr=subprocess.PIPE,
                                text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip() == ("cnn: error: cannot write to standard output: No space "
                                     "left on device")


# ------------------------------------------------------------------ 9. pipes
@pytest.mark.parametrize("command", [
    "summary --model 'C(8,5)-P2-C(16,3)-P2-FC128-FC10' | head -2",
    "evaluate --data {subset} --weights {weights} | head -5",
])
def test_a_closed_pipe_ends_quietly(command, tiny_weights):
    line = f"{sys.executable} -m cnn " + command.format(subset=shlex.quote(str(SUBSET)),
                                                         weights=shlex.quote(str(tiny_weights)))
    result = subprocess.run(["bash", "-o", "pipefail", "-c", line], capture_output=True,
                            text=True, timeout=120, env=dict(os.environ, MPLBACKEND="Agg"))
    assert result.stderr == ""
    assert len(result.stdout.splitlines()) in (2, 5)
    assert result.returncode in (0, 141)  # 141 = 128 + SIGPIPE, as 'yes | head'


# ------------------------------------------------------------------ 10. others seen
@pytest.mark.parametrize("argv, message", [
    (["visualize", "--rotate", "nan"], "--rotate: expected a finite number"),
    (["visualize", "--l2", "nan"], "--l2: expected a finite number"),
    (["visualize", "--tv", "nan"], "--tv: expected a finite number"),
    (["visualize", "--tv", "-1"], "--tv: expected a number >= 0"),
    (["visualize", "--seed", "-1"], "--seed: expected a whole number"),
    (["visualize", "--lr", "inf"], "--lr: expected a finite number > 0"),
    (["predict", "--min-confidence", "nan"], "--min-confidence: expected a finite number"),
])
def test_non_finite_options_are_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and message in err and err.count("\n") == 1


@pytest.mark.parametrize("data, message", [
    ("~nosuchuser/m.npz", "'~nosuchuser/m.npz' (from --data) not found"),
    ("{npy}", "is a single .npy array, not an .npz archive"),
    ("{random}", "is not an .npz archive (not a zip file)"),
    ("{pickle}", "looks like a pickle, which is never loaded"),
    ("", "the MNIST path (from --data) is empty"),
    ("{folder}", "has no usable labelled image"),  # a folder data set (issue 13)
])
def test_bad_data_files_are_one_line(data, message, tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.zeros((2, 28, 28), np.uint8))
    (tmp_path / "random.npz").write_bytes(np.random.default_rng(0).bytes(3000))
    (tmp_path / "pickle.npz").write_bytes(b"\x80\x04\x95" + bytes(100))
    path = data.format(npy=tmp_path / "x.npy", random=tmp_path / "random.npz",
                       pickle=tmp_path / "pickle.npz", folder=tmp_path)
    before = fingerprint(tmp_path)
    status, out, err = run_cli(["train", "--model", TINY, "--data", path,
                                "--out", str(tmp_path / "o" / "w.npz")], capsys)
    line = one_error_line(err)
    assert status == 2 and message in line and "allow_pickle" not in line
    assert fingerprint(tmp_path) == before


def test_out_naming_a_folder_is_refused_before_training(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    before = fingerprint(tmp_path)
    status, out, err = run_cli(["train", "--model", TINY, "--data", str(SUBSET), "--out",
                                str(tmp_path), "--overwrite"], capsys)
    assert status == 2 and "is a folder; give a file path" in one_error_line(err)
    assert out == "" and fingerprint(tmp_path) == before


def test_out_naming_the_mnist_file_is_refused(tmp_path, capsys):
    data = tmp_path / "mnist.npz"
    shutil.copy(SUBSET, data)
    status, _, err = run_cli(["train", "--model", TINY, "--data", str(data), "--out", str(data),
                              "--overwrite"], capsys)
    assert status == 2 and "is the MNIST file itself" in one_error_line(err)
    assert data.read_bytes() == SUBSET.read_bytes()


def test_an_empty_path_is_not_the_current_folder(capsys):
    status, out, err = run_cli(["predict", ""], capsys)
    assert status == 2 and out == "" and "path is empty" in one_error_line(err)


def test_a_100000_character_model_string_is_not_echoed_whole(capsys):
    model = "C(8,5)-" * 14_000 + "FC10"
    status, _, err = run_cli(["summary", "--model", model], capsys)
    line = one_error_line(err)
    assert status == 2 and len(line) < 400 and "(98,004 characters)" in line


# ------------------------------------------------------------------ 11. messages
def test_top_level_options_open_the_menu(tmp_path):
    result = cnn_subprocess(["--data", str(SUBSET)], cwd=tmp_path, timeout=60, input="")
    assert result.returncode == 0 and "invalid choice" not in result.stderr
    assert "Bye." in result.stdout


def test_the_menu_says_how_to_give_mnist_since_it_takes_no_flags(tmp_path, monkeypatch):
    from cnn.cli import menu
    from cnn.data import mnist as data

    monkeypatch.delenv("CNN_MNIST_DATA", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(data, "MNIST_URL", (tmp_path / "nowhere").as_uri())
    monkeypatch.setattr(data, "download_mnist", lambda *a, **k: (_ for _ in ()).throw(
        data.UserError(f"MNIST not found: {data.HOW_TO_PASS}")))
    seen = []
    monkeypatch.setattr(menu.Menu, "run", lambda self: seen.append(
        pytest.raises(data.UserError, data.find_mnist).value) or 0)
    assert menu.run_menu() == 0
    assert "cnn menu --data PATH" in str(seen[0]) and "pass --data" not in str(seen[0])
    assert data.HOW_TO_PASS == "pass --data PATH"  # restored for the subcommands


def test_visualize_refuses_to_write_over_its_own_input_image(tmp_path, tiny_weights, capsys):
    out = tmp_path / "out"
    out.mkdir()
    image = out / "feature_maps.png"
    shutil.copy(IMAGES / "3_3.png", image)
    before = image.read_bytes()
    status, _, err = run_cli(["visualize", "--weights", str(tiny_weights), "--image", str(image),
                              "--out", str(out), "--steps", "2"], capsys)
    assert status == 2 and "would be replaced by an output" in one_error_line(err)
    assert image.read_bytes() == before


def test_evaluate_prints_its_report_when_the_plot_folder_cannot_be_written(tmp_path,
                                                                            tiny_weights, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("keep me")
    status, out, err = run_cli(["evaluate", "--weights", str(tiny_weights), "--data",
                                str(SUBSET), "--plots", str(blocker / "plots")], capsys)
    assert status == 1 and "top-1 accuracy:" in out
    assert str(blocker / "plots") in one_error_line(err) and blocker.read_text() == "keep me"


def test_train_refuses_an_out_folder_it_cannot_create_before_training(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("keep me")
    status, out, err = run_cli(["train", "--model", TINY, "--data", str(SUBSET), "--out",
                                str(blocker / "w.npz")], capsys)
    assert status == 2 and "is a file, not a folder" in one_error_line(err)
    assert out == "" and blocker.read_text() == "keep me"


def test_a_full_disk_while_saving_weights_names_the_weights_file(tmp_path, monkeypatch, capsys):
    def no_space(file, **arrays):
        file.write(b"partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # as write() raises it

    monkeypatch.setattr("cnn.nn.model.np.savez", no_space)
    out = tmp_path / "w.npz"
    status, _, err = run_cli(["train", "--model", TINY, "--data", str(SUBSET), "--limit", "300",
                              "--out", str(out), "-q"], capsys)
    line = one_error_line(err)
    assert status == 1 and f"cannot write '{out}': No space left on device" in line
    assert list(tmp_path.iterdir()) == []  # no partial or temporary file left
