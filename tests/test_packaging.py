"""A regular install ships what the commands need (issue 10, item 12): the wheel holds the
shipped weights, the sample images and the visualization input, and from a folder outside
the checkout ``cnn predict`` reads the samples with the shipped default model and ``cnn
visualize`` finds its default image. Slow: builds a wheel and a virtual environment."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh venv (system site-packages for numpy & co.) with the wheel of this checkout."""
    tmp = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps",
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
    shipped = sorted(p.name for p in (ROOT / "weight_output").glob("*.npz"))
    assert sorted(Path(n).name for n in names if n.startswith("cnn/_shipped_weights/")) == shipped
    samples = [n for n in names if n.startswith("cnn/_samples/")]
    assert len(samples) == len(list((ROOT / "custom_test_images").glob("*.*g")))
    assert "cnn/_visualize_input/input.jpg" in names


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
        assert f"cnn/web_export/static/{name}" in names
    result = subprocess.run([str(python), "-m", "cnn", "export", "--web", "page"], cwd=outside,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (outside / "page").iterdir()) == [
        "cnn.js", "index.html", "page.js", "style.css", "weights.js"]
