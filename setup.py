"""Packages and package data; the rest of the metadata lives in pyproject.toml.

The shipped weights (``weight_output/``), the sample images (``custom_test_images/``) and the
visualization input (``feature_visualize/input.jpg``) stay at the top of the checkout, where a
user of the checkout finds them; a regular ``pip install .`` and the wheel install them as the
package data of ``cnn._shipped_weights``, ``cnn._samples`` and ``cnn._visualize_input``, where
``cnn.io.catalog.shipped_folder`` finds them. Every sub-package of ``cnn`` is found
automatically.

The weights in the wheel are exactly the files named in ``weight_output/shipped.json`` (the
manifest that ``cnn.io.catalog`` reads) and the manifest itself: files a user trained into
``weight_output/`` of a checkout are never packed (tests/test_packaging.py).
"""

import json
from pathlib import Path

from setuptools import find_packages, setup

MANIFEST = Path(__file__).resolve().parent / "weight_output" / "shipped.json"
SHIPPED_WEIGHTS = ["shipped.json"] + [entry["file"] for entry in
                                      json.loads(MANIFEST.read_text(encoding="utf-8"))["files"]]

SHIPPED = {  # package -> top-level folder of the checkout
    "cnn._shipped_weights": "weight_output",
    "cnn._samples": "custom_test_images",
    "cnn._visualize_input": "feature_visualize",
}

setup(
    packages=find_packages(include=["cnn", "cnn.*"]) + list(SHIPPED),
    package_dir={"cnn": "cnn", **SHIPPED},
    package_data={
        "cnn._shipped_weights": SHIPPED_WEIGHTS,
        "cnn._samples": ["*.jpg", "*.jpeg", "*.png"],
        "cnn._visualize_input": ["input.jpg"],
        "cnn.server": ["static/*.html", "static/*.js", "static/*.css"],  # the cnn serve page
        "cnn.io.web_export": ["static/*.html", "static/*.js", "static/*.css"],  # cnn export --web
    },
)
