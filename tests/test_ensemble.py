"""Ensembles: soft (mean) and hard (vote) combination, the single-model interface, members
that do not fit."""

from __future__ import annotations

import numpy as np
import pytest

from cnn.errors import UserError
from cnn.nn.losses import softmax
from cnn.nn.model import Sequential
from cnn.tasks.ensemble import Ensemble, combine, expand_weights


def test_mean_averages_probabilities():
    p = np.array([[[0.6, 0.4]], [[0.1, 0.9]], [[0.7, 0.3]]], np.float32)
    digits, mean = combine(p, "mean")
    np.testing.assert_allclose(mean, [[1.4 / 3, 1.6 / 3]], rtol=1e-6)
    assert digits.tolist() == [1]


def test_vote_follows_the_majority_even_against_the_mean():
    # Two members say 0 weakly, one says 1 very strongly: the mean picks 1, the vote picks 0.
    p = np.array([[[0.55, 0.45]], [[0.55, 0.45]], [[0.0, 1.0]]], np.float32)
    assert combine(p, "mean")[0].tolist() == [1]
    assert combine(p, "vote")[0].tolist() == [0]


def test_vote_tie_is_broken_by_the_mean_probability():
    # Members vote 0, 1, 2, 2 ... no: two for 0 and two for 1, the mean favours 1.
    p = np.array([[[0.5, 0.4, 0.1]], [[0.5, 0.45, 0.05]], [[0.1, 0.9, 0.0]], [[0.3, 0.7, 0.0]]],
                 np.float32)
    assert combine(p, "vote")[0].tolist() == [1]
    p_swapped = p[..., [1, 0, 2]]
    assert combine(p_swapped, "vote")[0].tolist() == [0]


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="should be one of"):
        combine(np.zeros((1, 1, 10)), "median")
    with pytest.raises(UserError, match="should be one of"):
        Ensemble([("a", Sequential("C(4,5)-P2-FC10", np.random.default_rng(0)))], "median")


def test_ensemble_behaves_like_a_model(subset):
    _, (x, y) = subset
    a = Sequential("C(4,5)-P2-FC10", np.random.default_rng(0))
    b = Sequential("C(6,3)-P2-FC16-FC10", np.random.default_rng(1))
    ens = Ensemble([("a.npz", a), ("b.npz", b)])
    probs = ens.predict_proba(x[:50])
    np.testing.assert_allclose(probs, (a.predict_proba(x[:50]) + b.predict_proba(x[:50])) / 2,
                               atol=1e-6)
    np.testing.assert_allclose(softmax(ens.logits(x[:50])), probs, atol=1e-5)
    assert ens.predict(x[:50]).tolist() == probs.argmax(1).tolist()
    assert "C(4,5)-P2-FC10" in ens.model_string and "C(6,3)-P2-FC16-FC10" in ens.model_string
    assert [m["weights"] for m in ens.metadata["members"]] == ["a.npz", "b.npz"]


def test_one_member_ensemble_equals_the_member(subset):
    _, (x, _) = subset
    a = Sequential("C(4,5)-P2-FC10", np.random.default_rng(0))
    for method in ("mean", "vote"):
        ens = Ensemble([("a", a)], method)
        assert ens.predict(x[:100]).tolist() == a.predict_proba(x[:100]).argmax(1).tolist()


def test_member_with_other_classes_is_named():
    ok = Sequential("C(4,5)-P2-FC10", np.random.default_rng(0))
    odd = Sequential("C(4,5)-P2-FC5", np.random.default_rng(0), num_classes=None)
    with pytest.raises(UserError, match=r"'odd.npz' \(C\(4,5\)-P2-FC5\).*10 classes"):
        Ensemble([("ok.npz", ok), ("odd.npz", odd)])


def test_expand_weights_takes_files_and_folders(tmp_path):
    (tmp_path / "b.npz").write_bytes(b"x")
    (tmp_path / "a.npz").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("x")
    assert [p.name for p in expand_weights([tmp_path])] == ["a.npz", "b.npz"]
    assert [p.name for p in expand_weights([tmp_path / "b.npz", tmp_path])] == ["b.npz", "a.npz"]
    with pytest.raises(UserError, match="not found"):
        expand_weights([tmp_path / "nope.npz"])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="no .npz"):
        expand_weights([empty])
