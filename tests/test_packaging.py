"""A regular install behaves like the checkout (issues 10 and 27): the wheel holds exactly the
shipped weights of the manifest (the not-a-digit gate included, never a file a user trained
into the checkout's ``weight_output/``), the sample images and the visualization input; from
an empty folder the installed ``cnn predict --json`` gives the checkout's answers on the
samples and on generated non-digits, and ``cnn visualize`` finds its default image. Slow:
builds a wheel from a copy of the checkout and a virtual environment."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


STRAY = "weight_detailsC(4,5)-P2-FC10.npz"  # what a user's 'cnn train' leaves in weight_output/


def checkout_copy(dest: Path) -> Path:
    """The files git tracks, copied to ``dest``, plus a user's trained file in weight_output/."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    shutil.copy2(ROOT / "weight_output" / "weight_detailsC(8,5)-P2-C(16,3)-P2-FC128-FC10.npz",
                 dest / "weight_output" / STRAY)  # any weights file not in the manifest
    return dest


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh venv (system site-packages for numpy & co.) with the wheel of a copy of this
    checkout that holds one user-trained file more."""
    tmp = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    source = checkout_copy(tmp / "checkout")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps",
                    "--no-build-isolation", "-q", "-w", str(tmp / "dist")],
                   check=True, env=env, cwd=tmp, timeout=300)
    wheel = next((tmp / "dist").glob("cnn-*.whl"))
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(tmp / "venv")],
                   check=True, timeout=300)
    python = tmp / "venv" / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q",
                    str(wheel)], check=True, env=env, timeout=300)
    outside = tmp / "elsewhere"
    outside.mkdir()
    return wheel, python, outside, dict(env, MPLBACKEND="Agg")


def test_the_wheel_holds_weights_samples_and_the_visualization_input(installed):
    wheel = installed[0]
    names = zipfile.ZipFile(wheel).namelist()
    manifest = json.loads((ROOT / "weight_output" / "shipped.json").read_text())
    shipped = sorted(["shipped.json"] + [e["file"] for e in manifest["files"]])
    packed = sorted(n.removeprefix("cnn/_shipped_weights/") for n in names
                    if n.startswith("cnn/_shipped_weights/"))
    assert packed == shipped and STRAY not in packed
    assert any(e["role"] == "gate" and e["file"].startswith("reject/") for e in manifest["files"])
    samples = [n for n in names if n.startswith("cnn/_samples/")]
    assert len(samples) == len(list((ROOT / "custom_test_images").glob("*.*g")))
    assert "cnn/_visualize_input/input.jpg" in names


def non_digits(folder: Path) -> Path:
    """A letter, a doodle, a blank page and a word, drawn dark on light paper."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    page = lambda: np.full((240, 240), 235, np.uint8)  # noqa: E731
    letter = page()
    cv2.putText(letter, "K", (60, 190), cv2.FONT_HERSHEY_SIMPLEX, 6, 20, 14)
    doodle = page()
    points = rng.integers(30, 210, (12, 2)).astype(np.int32)
    cv2.polylines(doodle, [points], False, 25, 6)
    word = page()
    cv2.putText(word, "cat", (10, 150), cv2.FONT_HERSHEY_SIMPLEX, 3, 20, 8)
    for name, image in [("K.png", letter), ("doodle.png", doodle), ("blank.png", page()),
                        ("word.png", word)]:
        cv2.imwrite(str(folder / name), image)
    return folder


def answers(report: dict) -> dict:
    return {Path(p["file"]).name: (p.get("digit"), p.get("rejected"), p.get("error"))
            for p in report["predictions"]}


def test_installed_cnn_answers_as_the_checkout(installed, tmp_path):
    _, python, outside, env = installed
    images = non_digits(tmp_path / "non_digits")
    for name in os.listdir(ROOT / "custom_test_images"):
        shutil.copy(ROOT / "custom_test_images" / name, images / name)
    runs = []
    for exe, extra in [(python, {}), (Path(sys.executable), {"PYTHONPATH": str(ROOT)})]:
        result = subprocess.run([str(exe), "-m", "cnn", "predict", str(images), "--json"],
                                cwd=outside, env=dict(env, **extra), capture_output=True,
                                text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        runs.append(answers(json.loads(result.stdout)))
    installed_answers, checkout_answers = runs
    assert installed_answers == checkout_answers
    assert installed_answers["K.png"][1] and installed_answers["blank.png"][1]  # the gate is there


def test_installed_cnn_predicts_the_shipped_samples_from_elsewhere(installed):
    _, python, outside, env = installed
    where = subprocess.run([str(python), "-c", "import cnn; print(cnn.__file__)"], cwd=outside,
                           env=env, capture_output=True, text=True, check=True)
    assert str(ROOT) not in where.stdout  # the installed copy, not the checkout
    result = subprocess.run([str(python), "-m", "cnn", "predict", "--json"], cwd=outside,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    import json

    report = json.loads(result.stdout)
    assert len(report["predictions"]) >= 30 and report["accuracy"] >= 0.9


def test_installed_cnn_visualize_finds_its_default_image(installed):
    _, python, outside, env = installed
    result = subprocess.run([str(python), "-m", "cnn", "visualize", "--steps", "3", "--out",
                             str(outside / "vis"), "-q"], cwd=outside, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert (outside / "vis" / "collaged_feature_visualize.png").is_file()


def test_installed_cnn_exports_the_web_page_from_elsewhere(installed):
    """The page's static files are package data: ``cnn export --web`` works from a wheel."""
    wheel, python, outside, env = installed
    names = zipfile.ZipFile(wheel).namelist()
    for name in ("index.html", "cnn.js", "page.js", "style.css"):
        assert f"cnn/io/web_export/static/{name}" in names
    result = subprocess.run([str(python), "-m", "cnn", "export", "--web", "page"], cwd=outside,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (outside / "page").iterdir()) == [
        "cnn.js", "index.html", "page.js", "style.css", "weights.js"]
