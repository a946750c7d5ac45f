"""The two corruption suites: scripts/corrupt_mnist_c.py and scripts/corrupt_degrade.py.

Both are loaded from their paths (scripts/ is not a package) and run on the committed MNIST
subset (tests/data/mnist_subset.npz, 1,000 test digits), a few dozen digits at a time.
"""

from __future__ import annotations

import functools
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import load_script

ROOT = Path(__file__).resolve().parents[1]
SUBSET = ROOT / "tests" / "data" / "mnist_subset.npz"
SCRIPTS = {"mnist_c": ROOT / "scripts" / "corrupt_mnist_c.py",
           "degrade": ROOT / "scripts" / "corrupt_degrade.py"}
# Corruptions with no randomness: the same output whatever the seed.
FIXED = {"identity", "brightness", "scale", "stripe", "canny_edges", "skeleton"}


@functools.cache
def suite(key):
    return load_script(SCRIPTS[key], f"corrupt_suite_{key}")


@functools.lru_cache(maxsize=1)
def digits():
    with np.load(SUBSET) as d:
        return d["x_test"][:48].copy(), d["y_test"][:48].copy()


def run(key, *args):
    """The script as a command, in a subprocess: (return code, stdout, stderr)."""
    proc = subprocess.run([sys.executable, str(SCRIPTS[key]), *map(str, args)], cwd=ROOT,
                          check=False, capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


def call_main(key, args):
    """main() in this process; the return code (argparse's SystemExit turned into its code)."""
    try:
        return suite(key).main([str(a) for a in args])
    except SystemExit as e:
        return e.code


CASES = [(key, name) for key in SCRIPTS for name in suite(key).CORRUPTIONS]


def test_suites_are_as_briefed():
    c, d = suite("mnist_c").CORRUPTIONS, suite("degrade").CORRUPTIONS
    assert set(c) == {"identity", "shot_noise", "impulse_noise", "glass_blur", "motion_blur",
                      "shear", "scale", "rotate", "brightness", "translate", "stripe", "fog",
                      "spatter", "dotted_line", "zigzag", "canny_edges"}
    assert "identity" in d and 10 <= len(d) - 1 <= 14
    # independent: neither script imports or names the other
    assert "corrupt_degrade" not in SCRIPTS["mnist_c"].read_text()
    assert "corrupt_mnist_c" not in SCRIPTS["degrade"].read_text()


@pytest.mark.parametrize("key,name", CASES)
def test_corruption_shape_dtype_change_determinism(key, name):
    x, _ = digits()
    before = x.copy()
    out = suite(key).corrupt(x, name, np.random.default_rng(5))
    assert out.dtype == np.uint8 and out.shape == x.shape
    np.testing.assert_array_equal(x, before)  # input untouched
    again = suite(key).corrupt(x, name, np.random.default_rng(5))
    np.testing.assert_array_equal(out, again)
    changed = np.any(out != x, axis=(1, 2))
    if name == "identity":
        np.testing.assert_array_equal(out, x)
        assert out is not x
        return
    assert changed.mean() >= 0.9, f"{name} left {np.sum(~changed)} of {len(x)} digits as they were"
    # a real change, not a stray pixel: mean absolute difference over 2 grey levels
    assert np.abs(out.astype(int) - x).mean() > 2.0
    if name not in FIXED:
        other = suite(key).corrupt(x, name, np.random.default_rng(6))
        assert np.any(other != out), f"{name} ignores its random generator"


@pytest.mark.parametrize("key", SCRIPTS)
def test_corrupt_refuses_bad_input(key):
    x, _ = digits()
    with pytest.raises(ValueError, match="nope"):
        suite(key).corrupt(x, "nope", np.random.default_rng(0))
    with pytest.raises(ValueError):
        suite(key).corrupt(x.astype(np.float32), "identity", np.random.default_rng(0))


@pytest.mark.parametrize("key", SCRIPTS)
def test_npz_files_labels_and_seed(key, tmp_path, capsys):
    names = ["identity", suite(key).CORRUPTIONS[1], suite(key).CORRUPTIONS[-1]]
    common = ["--data", SUBSET, "--n", 30, "--corruptions", ",".join(names)]
    assert call_main(key, ["--out", tmp_path / "a", "--seed", 3, *common]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == len(names) and all(p.startswith(n) for p, n in zip(printed, names))
    with np.load(SUBSET) as d:
        x_all, y_all = d["x_test"], d["y_test"]
    expected = np.random.default_rng(3).permutation(len(x_all))[:30]
    for name in names:
        with np.load(tmp_path / "a" / f"{name}.npz") as f:
            assert f["x_test"].dtype == np.uint8 and f["x_test"].shape == (30, 28, 28)
            assert f["y_test"].dtype == np.uint8 and f["y_test"].shape == (30,)
            assert f["x_train"].shape == (0, 28, 28) and f["y_train"].shape == (0,)
            np.testing.assert_array_equal(f["test_index"], expected)
            np.testing.assert_array_equal(f["y_test"], y_all[expected])
            if name == "identity":
                np.testing.assert_array_equal(f["x_test"], x_all[expected])
    # same seed, same bytes; a subset run gives the images of the full run
    assert call_main(key, ["--out", tmp_path / "b", "--seed", 3, *common[:4],
                           "--corruptions", names[1]]) == 0
    with np.load(tmp_path / "a" / f"{names[1]}.npz") as a, \
            np.load(tmp_path / "b" / f"{names[1]}.npz") as b:
        np.testing.assert_array_equal(a["x_test"], b["x_test"])
    assert call_main(key, ["--out", tmp_path / "c", "--seed", 4, *common]) == 0
    with np.load(tmp_path / "a" / "identity.npz") as a, \
            np.load(tmp_path / "c" / "identity.npz") as c:
        assert not np.array_equal(a["test_index"], c["test_index"])


@pytest.mark.parametrize("key", SCRIPTS)
def test_png_files_named_and_readable(key, tmp_path):
    name = suite(key).CORRUPTIONS[2]
    assert call_main(key, ["--out", tmp_path, "--data", SUBSET, "--n", 12,
                           "--corruptions", name, "--png"]) == 0
    with np.load(tmp_path / f"{name}.npz") as f:
        x, y, index = f["x_test"], f["y_test"], f["test_index"]
    files = sorted((tmp_path / "png" / name).iterdir())
    assert len(files) == 12
    rows = {int(i): r for r, i in enumerate(index)}
    for path in files:
        m = re.fullmatch(rf"(\d)_{name}_(\d{{5}})\.png", path.name)
        assert m, path.name
        row = rows[int(m.group(2))]
        assert int(m.group(1)) == y[row]
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert image.dtype == np.uint8 and image.shape == (28, 28)
        np.testing.assert_array_equal(image, x[row])


@pytest.mark.parametrize("key", SCRIPTS)
def test_command_line_errors(key, tmp_path):
    code, out, err = run(key, "--out", tmp_path / "x", "--data", SUBSET,
                         "--corruptions", "fog,nope")
    assert code == 2
    assert "nope" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("x")
    assert call_main(key, ["--out", tmp_path / "full", "--data", SUBSET, "--n", 3,
                           "--corruptions", "identity"]) == 2
    assert call_main(key, ["--out", tmp_path / "full", "--data", SUBSET, "--n", 3,
                           "--corruptions", "identity", "--overwrite"]) == 0
    assert call_main(key, ["--out", tmp_path / "y", "--data", tmp_path / "missing.npz"]) == 2
    code, out, err = run(key, "--help")
    assert code == 0 and "--corruptions" in out
