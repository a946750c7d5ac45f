"""benchmarks/robustness.py: a test set is generated once, stamped with its command, and a
folder made by another command (another seed) is refused rather than scored as if it were the
set asked for."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def robustness():
    spec = importlib.util.spec_from_file_location("robustness_bench",
                                                  ROOT / "benchmarks" / "robustness.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_set_is_stamped_with_its_command_and_another_seeds_folder_is_refused(tmp_path,
                                                                               monkeypatch):
    r = robustness()
    monkeypatch.setitem(r.SETS, "tiny", ("nondigits", ["make_non_digits.py", "--per-kind", "1",
                                                       "--seed", "5"], False))
    folder = r.generate("tiny", tmp_path / "tiny")
    assert (folder / ".generator").read_text().split() == r.set_command("tiny")
    assert len(list(folder.glob("nd_*"))) == 8 and not (tmp_path / "tiny.partial").exists()
    made = sorted(p.name for p in folder.iterdir())
    assert r.generate("tiny", folder) == folder  # reused as it is
    assert sorted(p.name for p in folder.iterdir()) == made
    monkeypatch.setitem(r.SETS, "tiny", ("nondigits", ["make_non_digits.py", "--per-kind", "1",
                                                       "--seed", "6"], False))
    with pytest.raises(SystemExit, match="--seed 5.*delete it"):
        r.generate("tiny", folder)
    assert r.set_command("nondigit_a")[-2:] == ["--seed", "1101"]  # not a gate's training seed
    assert r.set_command("photos_a")[-2:] == ["--seed", str(r.SEED)]
