"""benchmarks/bench_recipe.py: both frameworks train on one cached set (the recipe's training
images minus the held-out ones, plus photo renderings of some of them), and a run stops at the
first epoch that reaches the target."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import SUBSET, load_script

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def recipe():
    return load_script(ROOT / "benchmarks" / "bench_recipe.py", "bench_recipe")


def test_the_set_holds_the_training_images_and_their_renderings_once(recipe, tmp_path,
                                                                      monkeypatch):
    import cnn.data.photo_render as render

    monkeypatch.setattr(render, "render_through_pipeline", lambda x, rng: 255 - x)
    path = recipe.prepare(str(SUBSET), tmp_path, photos=50, validation=500, seed=3)
    with np.load(path) as d, np.load(SUBSET) as s:
        x, y = d["x_train"], d["y_train"]
        assert len(x) == len(s["x_train"]) - 500 + 50
        kept = s["x_train"][:-500]
        assert np.array_equal(x[:-50], kept) and np.array_equal(y[:-50], s["y_train"][:-500])
        for image, label in zip(x[-50:], y[-50:]):  # a rendering of a kept image, its label
            source = np.flatnonzero((kept == 255 - image).all(axis=(1, 2)))
            assert source.size and label in s["y_train"][source]
        assert np.array_equal(d["x_test"], s["x_test"])
    monkeypatch.setattr(render, "render_through_pipeline",
                        lambda x, rng: pytest.fail("rendered again"))
    assert recipe.prepare(str(SUBSET), tmp_path, photos=50, validation=500, seed=3) == path


@pytest.mark.parametrize("framework", ["cnn", "torch"])
def test_a_run_stops_at_the_first_epoch_that_reaches_the_target(recipe, tmp_path, monkeypatch,
                                                                 framework):
    if framework == "torch":
        pytest.importorskip("torch")
    import cnn.data.photo_render as render

    monkeypatch.setattr(render, "render_through_pipeline", lambda x, rng: x)
    path = recipe.prepare(str(SUBSET), tmp_path, photos=10, validation=500, seed=3)
    task = {"set": str(path), "batch": 64, "epochs": 3, "lr": 3e-3, "warmup": 1, "seed": 0,
            "threads": 1, "limit": 256, "framework": framework}
    reached = recipe.worker(dict(task, target=0.0))
    assert len(reached["epoch_seconds"]) == len(reached["test_accuracy"]) == 1
    missed = recipe.worker(dict(task, target=1.01))
    assert len(missed["epoch_seconds"]) == len(missed["test_accuracy"]) == 3
    assert all(0.0 <= a <= 1.0 for a in missed["test_accuracy"])
    if framework == "torch":
        assert all(0 < a < e for a, e in zip(missed["augment_seconds"], missed["epoch_seconds"]))


def test_both_frameworks_draw_the_same_batches(recipe, tmp_path, monkeypatch):
    """The same epoch order and the same augmentation draws on both sides: the batches each
    framework trains on are identical, image for image."""
    pytest.importorskip("torch")
    import cnn.data.augment as augment
    import cnn.data.photo_render as render

    monkeypatch.setattr(render, "render_through_pipeline", lambda x, rng: x)
    path = recipe.prepare(str(SUBSET), tmp_path, photos=10, validation=500, seed=3)
    seen = {}
    real = augment.robust_batch

    def recording(images, rng):
        out = real(images, rng)
        seen.setdefault(framework, []).append(out.copy())
        return out
    monkeypatch.setattr(augment, "robust_batch", recording)
    task = {"set": str(path), "batch": 64, "epochs": 2, "lr": 3e-3, "warmup": 1, "seed": 4,
            "threads": 1, "limit": 200, "target": 1.01}
    for framework in ("cnn", "torch"):
        recipe.worker(dict(task, framework=framework))
    assert len(seen["cnn"]) == len(seen["torch"]) == 8  # 4 batches of 200 images, 2 epochs
    assert all(np.array_equal(a, b) for a, b in zip(seen["cnn"], seen["torch"]))
