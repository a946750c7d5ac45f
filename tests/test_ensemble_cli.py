"""Ensembles and Kaggle CSVs through the command line: ``evaluate``/``predict`` with several
weights files, ``predict --csv``, ``train``/``evaluate --data train.csv``, and the commands
that refuse an ensemble."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import full_mnist_path
from test_kaggle import write_kaggle_csv

from cnn.cli import main
from cnn.cli.menu import Menu
from cnn.data.kaggle import read_submission
from cnn.io.catalog import list_weights
from cnn.io.weights import load_model, save_model
from cnn.nn.model import Sequential
from cnn.tasks.ensemble import expand_weights

ROOT = Path(__file__).resolve().parents[1]
SUBSET = ROOT / "tests" / "data" / "mnist_subset.npz"
SHIPPED = [w.path for w in list_weights(ROOT / "weight_output")]


@pytest.fixture
def members(tmp_path, subset):
    """Two quickly trained small networks saved as weights files."""
    from cnn.nn.optim import Adam
    from cnn.tasks.train import fit

    (x, y), _ = subset
    paths = []
    for seed, model_string in enumerate(["C(4,5)-P2-FC10", "C(6,3)-P2-FC32-FC10"]):
        rng = np.random.default_rng(seed)
        model = Sequential(model_string, rng)
        fit(model, x, y, optimizer=Adam(model.parameters(), 3e-3), rng=rng, epochs=2,
            progress=False)
        paths.append(save_model(model, tmp_path / "members" / f"m{seed}.npz"))
    return paths


def test_evaluate_prints_each_member_and_the_ensemble(members, capsys):
    assert main(["evaluate", "--weights", *map(str, members), "--data", str(SUBSET),
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    with np.load(SUBSET) as d:
        x, y = d["x_test"], d["y_test"]
    probs = [load_model(p).predict_proba(x) for p in members]
    for member, p, path in zip(report["members"], probs, members):
        assert member["weights"] == str(path)
        assert member["accuracy"] == pytest.approx((p.argmax(1) == y).mean())
    mean = (probs[0] + probs[1]) / 2
    assert report["accuracy"] == pytest.approx((mean.argmax(1) == y).mean())
    assert report["ensemble"] == "mean" and report["n"] == len(y)
    assert main(["evaluate", "--weights", str(members[0].parent), "--data", str(SUBSET)]) == 0
    out = capsys.readouterr().out
    assert "ensemble of 2 networks (mean)" in out and "ensemble top-1 accuracy" in out


def test_evaluate_runs_one_pass_per_member(members, monkeypatch, capsys):
    calls = []
    original = Sequential.predict_proba

    def counting(self, x, batch_size=1000):
        calls.append(len(x))
        return original(self, x, batch_size)

    monkeypatch.setattr(Sequential, "predict_proba", counting)
    assert main(["evaluate", "--weights", *map(str, members), "--data", str(SUBSET),
                 "--ensemble", "vote", "--json", "--no-reject"]) == 0
    assert calls == [1000, 1000]  # the not-a-digit gate, when on, adds one pass of its own
    assert json.loads(capsys.readouterr().out)["ensemble"] == "vote"


@pytest.mark.slow  # end to end; CI runs it (.ci/run: -m slow)
def test_predict_with_an_ensemble_reads_the_samples(capsys):
    if len(SHIPPED) < 2:
        pytest.skip("needs at least two shipped weights files")
    assert main(["predict", str(ROOT / "custom_test_images"), "--weights",
                 str(ROOT / "weight_output"), "--ensemble", "vote", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["model"].startswith(f"ensemble of {len(SHIPPED)} (vote)")
    assert result["accuracy"] == 1.0


def test_predict_csv_writes_a_kaggle_submission(members, tmp_path, capsys):
    with np.load(SUBSET) as d:
        x, y = d["x_test"][:300], d["y_test"][:300]
    csv = write_kaggle_csv(tmp_path / "test.csv", x)
    out = tmp_path / "submission.csv"
    assert main(["predict", "--csv", str(csv), "--out", str(out),
                 "--weights", *map(str, members)]) == 0
    assert "predicted 300 rows" in capsys.readouterr().out
    digits = read_submission(out)
    mean = sum(load_model(p).predict_proba(x) for p in members) / 2
    np.testing.assert_array_equal(digits, mean.argmax(1))
    assert out.read_text().startswith("ImageId,Label\n1,")


def test_predict_csv_never_replaces_a_file_without_overwrite(tmp_path, capsys):
    with np.load(SUBSET) as d:
        csv = write_kaggle_csv(tmp_path / "test.csv", d["x_test"][:20])
    out = tmp_path / "submission.csv"
    out.write_text("mine\n")
    assert main(["predict", "--csv", str(csv), "--out", str(out)]) == 2
    assert "exists; use --overwrite" in capsys.readouterr().err
    assert out.read_text() == "mine\n"
    assert main(["predict", "--csv", str(csv), "--out", str(out), "--overwrite"]) == 0
    assert len(read_submission(out)) == 20
    before = csv.read_bytes()
    assert main(["predict", "--csv", str(csv), "--out", str(csv), "--overwrite"]) == 2
    assert csv.read_bytes() == before


def test_predict_csv_bad_row_is_one_line_and_writes_nothing(tmp_path, capsys):
    with np.load(SUBSET) as d:
        csv = write_kaggle_csv(tmp_path / "test.csv", np.concatenate([d["x_train"], d["x_test"]]))
    lines = csv.read_text().splitlines()
    cells = lines[2200].split(",")
    cells[17] = "300"
    lines[2200] = ",".join(cells)
    csv.write_text("\n".join(lines) + "\n")
    out = tmp_path / "submission.csv"
    assert main(["predict", "--csv", str(csv), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"cnn: error: '{csv}' row 2200, column pixel17: 300 is outside 0-255"]
    assert not out.exists()
    assert main(["predict", "--csv", str(csv)]) == 2
    assert "--csv FILE and --out FILE go together" in capsys.readouterr().err


def test_train_and_evaluate_on_a_kaggle_train_csv(tmp_path, capsys):
    with np.load(SUBSET) as d:
        x, y = d["x_train"], d["y_train"]
    csv = write_kaggle_csv(tmp_path / "train.csv", x, y)
    weights = tmp_path / "kaggle.npz"
    assert main(["train", "--model", "C(4,5)-P2-FC10", "--data", str(csv), "--out",
                 str(weights), "--no-plot", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "validation top-1 accuracy" in out  # a tenth of 2,000 rows held out, as for npz
    model = load_model(weights)
    assert model.metadata["validation_images"] == 200
    assert model.metadata["scored_on"] == "validation"
    assert main(["evaluate", "--weights", str(weights), "--data", str(csv), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 2000
    assert report["accuracy"] == pytest.approx((model.predict_proba(x).argmax(1) == y).mean())
    assert main(["train", "--model", "C(4,5)-P2-FC10", "--data", str(csv), "--validation", "0",
                 "--out", str(tmp_path / "none.npz")]) == 2
    assert not (tmp_path / "none.npz").exists()


@pytest.mark.parametrize("command", [["summary"], ["visualize", "--layer", "1", "--channel", "0"]])
def test_commands_that_look_inside_one_network_refuse_a_folder(command, members, capsys):
    assert main([*command, "--weights", str(members[0].parent)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "takes one weights file" in err[0]


def test_menu_offers_all_shipped_models_as_an_ensemble(capsys):
    if len(SHIPPED) < 2:
        pytest.skip("needs at least two shipped weights files")
    answers = iter([str(len(SHIPPED) + 1)])
    menu = Menu(input_func=lambda prompt: next(answers))
    chosen = menu.choose_weights(ensemble=True)
    assert str(chosen) == "shipped" and "all shipped models" in capsys.readouterr().out
    assert sorted(p.resolve() for p in expand_weights([str(chosen)])) == sorted(
        p.resolve() for p in SHIPPED)


@pytest.mark.slow
def test_full_test_set_through_csv_scores_as_the_npz(tmp_path, capsys):
    data = full_mnist_path()
    if data is None:
        pytest.skip("full MNIST not found: set CNN_MNIST_DATA")
    with np.load(data) as d:
        csv = write_kaggle_csv(tmp_path / "mnist_test.csv", d["x_test"], d["y_test"])
    weights = str(SHIPPED[0])
    assert main(["evaluate", "--weights", weights, "--data", str(data), "--json"]) == 0
    from_npz = json.loads(capsys.readouterr().out)
    assert main(["evaluate", "--weights", weights, "--data", str(csv), "--json"]) == 0
    from_csv = json.loads(capsys.readouterr().out)
    assert from_csv["n"] == from_npz["n"] == 10000
    assert from_csv["accuracy"] == from_npz["accuracy"]
    assert from_csv["confusion_matrix"] == from_npz["confusion_matrix"]
