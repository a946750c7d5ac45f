"""Metrics against hand counts, the loss's numerical stability, and one optimizer step each."""

import numpy as np
import pytest

from cnn.nn.dense import Dense
from cnn.nn.losses import softmax, softmax_cross_entropy
from cnn.nn.optim import SGD, Adam, make_optimizer
from cnn.tasks.metrics import classification_report, confusion_matrix


def test_confusion_matrix_counts_true_rows_against_predicted_columns():
    cm = confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], num_classes=3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]


def test_report_gives_top1_accuracy_and_macro_precision_recall():
    r = classification_report([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], num_classes=3)
    assert r["accuracy"] == pytest.approx(4 / 6) and r["errors"] == 2 and r["n"] == 6
    # precision per class: 1/2, 1/2, 2/2; recall: 1/2, 1/1, 2/3
    assert r["macro_precision"] == pytest.approx((0.5 + 0.5 + 1.0) / 3)
    assert r["macro_recall"] == pytest.approx((0.5 + 1.0 + 2 / 3) / 3)


def test_a_class_never_predicted_has_precision_zero():
    r = classification_report([0, 1], [0, 0], num_classes=2)
    assert r["per_class_precision"] == [0.5, 0.0]


def test_softmax_cross_entropy_is_finite_for_huge_logits():
    logits = np.array([[1000.0, -1000.0, 0.0], [-5e4, 5e4, 0.0]], dtype=np.float32)
    loss, grad = softmax_cross_entropy(logits, np.array([0, 0]))
    assert np.isfinite(loss) and np.all(np.isfinite(grad))
    assert loss == pytest.approx(1e5 / 2, rel=1e-6)  # second row: -log softmax = 1e5


def test_softmax_cross_entropy_of_uniform_logits_is_log_k():
    loss, _ = softmax_cross_entropy(np.zeros((4, 10)), np.arange(4))
    assert loss == pytest.approx(np.log(10))


def test_softmax_rows_sum_to_one():
    p = softmax(np.random.default_rng(0).standard_normal((5, 10)) * 50)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)


def _layer_with_grad(w, g):
    layer = Dense(1, len(w))
    layer.params = {"W": np.array([w], dtype=np.float64), "b": np.zeros(len(w))}
    layer.grads = {"W": np.array([g], dtype=np.float64), "b": np.zeros(len(w))}
    return layer


def test_adam_first_step_moves_each_weight_by_lr_against_the_gradient_sign():
    # Kingma & Ba: with bias correction the first step is lr * g / (|g| + eps) ~ lr * sign(g).
    layer = _layer_with_grad([1.0, 1.0], [0.5, -3.0])
    Adam(layer.parameters(), lr=0.1).step()
    np.testing.assert_allclose(layer.params["W"][0], [0.9, 1.1], rtol=1e-6)


def test_sgd_momentum_accumulates_velocity():
    layer = _layer_with_grad([0.0], [1.0])
    opt = SGD(layer.parameters(), lr=0.1, momentum=0.9)
    opt.step()
    opt.step()  # v1 = -0.1, v2 = 0.9 * -0.1 - 0.1 = -0.19
    assert layer.params["W"][0, 0] == pytest.approx(-0.29)


def test_unknown_optimizer_name_is_rejected():
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        make_optimizer("rmsprop", [], 0.1)


def test_optimizers_see_parameters_only_never_batchnorm_running_statistics():
    from cnn.nn.batchnorm import BatchNorm

    bn = BatchNorm(3)
    assert [key for _, key in bn.parameters()] == ["weight", "bias"]
    bn.grads = {"weight": np.ones(3, np.float32), "bias": np.ones(3, np.float32)}
    before = {k: v.copy() for k, v in bn.buffers.items()}
    Adam(bn.parameters(), lr=0.1).step()
    for key, value in before.items():
        np.testing.assert_array_equal(bn.buffers[key], value)
    assert not np.allclose(bn.params["weight"], 1.0)
