"""scripts/pipeline_inputs.py: the 28 x 28 inputs cnn predict makes of a folder of pictures."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import load_script

from cnn.io.catalog import default_weights
from cnn.io.weights import load_model
from cnn.tasks.predict import confidence_of
from cnn.vision.pipeline import preprocess_file

ROOT = Path(__file__).resolve().parents[1]


def script():
    return load_script(ROOT / "scripts" / "pipeline_inputs.py")


def test_writes_what_predict_gives_the_networks_and_leaves_out_blank_pages(tmp_path, capsys):
    source = tmp_path / "in"
    source.mkdir()
    shutil.copy(ROOT / "custom_test_images" / "7_1.jpg", source / "seven.jpg")
    cv2.imwrite(str(source / "blank.png"), np.full((120, 90), 210, np.uint8))
    out = tmp_path / "out"
    assert script().main([str(source), "--out", str(out), "--processes", "1"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["seven.png"]
    written = cv2.imread(str(out / "seven.png"), cv2.IMREAD_GRAYSCALE)
    expected = preprocess_file(source / "seven.jpg",
                               choose=confidence_of(load_model(default_weights())))
    assert written.shape == (28, 28)
    np.testing.assert_allclose(written / 255.0, expected, atol=0.5 / 255 + 1e-6)
    assert "1 of 2 pictures usable" in capsys.readouterr().out
    (source / "seven.png").write_bytes(b"not an image")  # seven.jpg's twin, and unreadable
    with pytest.raises(SystemExit):
        script().main([str(source), "--out", str(tmp_path / "other"), "--processes", "1"])
    assert "written twice" in capsys.readouterr().err
    (source / "seven.png").rename(source / "broken.png")
    assert script().main([str(source), "--out", str(tmp_path / "third"), "--processes", "1"]) == 1
    assert "1 unreadable" in capsys.readouterr().out
    (source / "broken.png").unlink()
    with pytest.raises(SystemExit) as refused:  # nothing replaced without --overwrite
        script().main([str(source), "--out", str(out), "--processes", "1"])
    assert refused.value.code == 2 and "--overwrite" in capsys.readouterr().err
    assert script().main([str(source), "--out", str(out), "--processes", "1", "--prefix", "s1_"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["s1_seven.png", "seven.png"]
