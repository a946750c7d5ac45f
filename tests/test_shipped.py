"""The shipped set is named by weight_output/shipped.json, not guessed from a folder (issue 27):
training in a checkout adds the user's file beside the shipped ones, and the shipped set, the
default and cnn serve's model list stay as they were (the wheel's contents: the slow
tests/test_packaging.py)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from cnn.cli import main
from cnn.io import catalog
from cnn.tasks.ensemble import expand_weights

ROOT = Path(__file__).resolve().parents[1]
SUBSET = ROOT / "tests" / "data" / "mnist_subset.npz"
MANIFEST = ROOT / "weight_output" / "shipped.json"


def test_the_manifest_names_every_shipped_file_with_its_hash():
    doc = json.loads(MANIFEST.read_text())
    roles = [e["role"] for e in doc["files"]]
    assert roles.count("default") == 1 and roles.count("gate") >= 1
    assert roles.count("line") == 1  # the number reader's line gate
    if roles.count("gate") > 1:  # gates that decide together need their common threshold
        assert 0 < doc["gate_threshold"] <= 1 and catalog.shipped_gate_threshold() == \
            doc["gate_threshold"]
    for entry in doc["files"]:
        data = (ROOT / "weight_output" / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["file"]


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    """A checkout-like folder: a copy of weight_output/ (manifest and files), as the working
    folder, so that 'cnn train' writes beside the shipped files as in a real checkout."""
    shutil.copytree(ROOT / "weight_output", tmp_path / "weight_output",
                    ignore=shutil.ignore_patterns("*.png"))
    monkeypatch.setattr(catalog, "PROJECT_ROOT", tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_training_in_a_checkout_leaves_the_shipped_set_alone(checkout):
    before = (catalog.shipped_files(), catalog.default_weights())
    out = checkout / "weight_output" / "weight_detailsC(4,5)-P2-FC10.npz"
    assert main(["train", "--model", "C(4,5)-P2-FC10", "--data", str(SUBSET), "--limit", "300",
                 "--epochs", "1", "-q"]) == 0
    assert out.is_file()  # the user's file lies beside the shipped ones
    assert (catalog.shipped_files(), catalog.default_weights()) == before
    listed = {w.path.name: w for w in catalog.list_weights()}
    assert listed[out.name].role is None and not listed[out.name].shipped
    assert out.resolve() not in [p.resolve() for p in expand_weights(["shipped"])]


def test_a_changed_shipped_file_is_no_longer_shipped(checkout):
    default = catalog.default_weights()
    copy = checkout / "weight_output" / default.name
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))  # same name and size, other bytes: no longer ours
    assert catalog.role_of(copy) is None and copy not in catalog.shipped_files()


def test_serve_lists_only_the_shipped_models(checkout):
    pytest.importorskip("fastapi")
    from cnn.server.app import ModelStore

    before = sorted(ModelStore().entries)
    assert main(["train", "--model", "C(4,5)-P2-FC10", "--data", str(SUBSET), "--limit", "300",
                 "--epochs", "1", "-q"]) == 0
    after = sorted(ModelStore().entries)
    assert after == before and "weight_detailsC(4,5)-P2-FC10.npz" not in after
    shipped = {p.name for p in catalog.shipped_files("default", "member")}
    assert set(after) == shipped


def test_shipped_keyword_is_the_default_and_the_members(checkout):
    assert [p.name for p in expand_weights(["shipped"])] == [
        p.name for p in catalog.shipped_files("default", "member")]
    manifest = json.loads((ROOT / "weight_output" / "shipped.json").read_text())
    roles = [e["role"] for e in manifest["files"]]
    assert len(expand_weights(["shipped"])) == roles.count("default") + roles.count("member") >= 6
