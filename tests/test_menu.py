"""The interactive menu: its answer parsers and loop in-process, and whole sessions driven
through a real terminal (pexpect) in a temporary working folder, on the MNIST subset."""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import pexpect
import pytest

from cnn.cli import menu as menu_module
from cnn.cli.menu import (
    Menu,
    channel_answer,
    image_folder,
    layer_infos,
    model_string,
    positive_number,
    whole_number,
    yes_no,
)
from cnn.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
SUBSET = ROOT / "tests" / "data" / "mnist_subset.npz"
IMAGES = ROOT / "custom_test_images"
TINY = "C(4,5)-P2-FC10"


def scripted(*answers):
    """An ``input`` replacement answering in order; an exception instance is raised instead."""
    queue = list(answers)

    def fake_input(prompt: str) -> str:
        print(prompt, end="")
        if not queue:
            raise EOFError
        answer = queue.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        print(answer)
        return answer
    return fake_input


# ---------------------------------------------------------------- answer parsers
def test_whole_number_says_what_was_expected():
    parse = whole_number(0, 6)
    assert parse("3") == 3
    with pytest.raises(ValueError, match=r"expected a whole number from 0 to 6, got 'x'"):
        parse("x")
    with pytest.raises(ValueError, match=r"7 is out of range: expected a whole number from 0 to 6"):
        parse("7")
    with pytest.raises(ValueError, match=r"expected a whole number >= 1, got '1.5'"):
        whole_number(1)("1.5")


def test_positive_number_rejects_letters_zero_and_negatives():
    assert positive_number("0.01") == 0.01
    for bad in ("fast", "0", "-1", "inf", "nan"):
        with pytest.raises(ValueError):
            positive_number(bad)


def test_yes_no_accepts_both_spellings_in_any_case():
    assert yes_no("Y") and yes_no("yes") and not yes_no("n") and not yes_no("NO")
    with pytest.raises(ValueError, match="expected y or n, got 'maybe'"):
        yes_no("maybe")


def test_model_string_answer_is_canonical_or_the_parsers_reason():
    assert model_string("c(4,5) - p2 - fc10") == TINY
    with pytest.raises(UserError, match=r"token 1 'C\(8\)' should be C\(filters,kernel\)"):
        model_string("C(8)-P2-FC10")


def test_channel_answer_takes_all_or_a_channel_in_range():
    parse = channel_answer(4)
    assert parse("ALL") == "all" and parse("3") == "3"
    with pytest.raises(ValueError, match=r"expected 'all' or a channel number from 0 to 3, got '4'"):
        parse("4")


def test_image_folder_answer_rejects_a_missing_folder(tmp_path):
    with pytest.raises(UserError, match="not found"):
        image_folder(str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="has no image files"):
        image_folder(str(tmp_path / "empty"))


def test_layer_infos_count_channels_of_conv_and_pool_and_units_of_fc():
    layers = layer_infos("C(8,5)-P2-C(16,3)-P2-FC128-FC10")
    assert [(x.number, x.count, x.unit) for x in layers] == [
        (1, 8, "channels"), (2, 8, "channels"), (3, 16, "channels"), (4, 16, "channels"),
        (5, 128, "units"), (6, 10, "units")]


# ---------------------------------------------------------------- the loop, in-process
def test_ask_reasks_with_the_reason_and_enter_takes_the_default(capsys):
    m = Menu(input_func=scripted("abc", "99", ""))
    assert m.ask("Epochs", 1, whole_number(1, 10)) == 1
    out = capsys.readouterr().out
    assert "Epochs [1]: " in out
    assert "expected a whole number from 1 to 10, got 'abc'" in out
    assert "99 is out of range" in out


def test_zero_quits_with_status_0(capsys):
    assert Menu(input_func=scripted("0")).run() == 0
    assert "Bye." in capsys.readouterr().out


def test_end_of_input_quits_with_status_0(capsys):
    assert Menu(input_func=scripted()).run() == 0
    assert "Bye." in capsys.readouterr().out


def test_ctrl_c_at_a_question_returns_to_the_menu_and_twice_at_the_menu_quits(capsys, monkeypatch):
    monkeypatch.setattr(menu_module, "list_weights", lambda: [])
    m = Menu(input_func=scripted("1", KeyboardInterrupt(), KeyboardInterrupt(),
                                 KeyboardInterrupt()))
    assert m.run() == 0
    out = capsys.readouterr().out
    assert "interrupted: back to the menu" in out
    assert "press Ctrl-C again" in out
    assert out.rstrip().endswith("Bye.")


def test_no_weights_files_says_so_and_offers_training(capsys, monkeypatch):
    monkeypatch.setattr(menu_module, "list_weights", lambda: [])
    assert Menu(input_func=scripted("5", "n", "0")).run() == 0
    out = capsys.readouterr().out
    assert "No weights files in weight_output/ yet" in out
    assert "Train a new model now? (y/n) [y]: " in out
    assert "Choice [1]: " in out  # training is the default action while there are no weights


# ---------------------------------------------------------------- real terminal sessions
@pytest.fixture
def session(tmp_path, request):
    """Start ``python -m cnn menu`` (or the argv given by indirect parametrization) on a pty in
    a temporary folder holding three digit photos; yields ``(child, folder)``. Everything the
    session writes lands in that folder."""
    argv = getattr(request, "param", ["-m", "cnn", "menu"])
    digits = tmp_path / "digits"
    digits.mkdir()
    for name in ("0_1.jpg", "3_3.png", "7_1.jpg"):
        shutil.copy(IMAGES / name, digits / name)
    env = dict(os.environ, CNN_MNIST_DATA=str(SUBSET), COLUMNS="100", LINES="40",
               PYTHONPATH=str(ROOT))
    child = pexpect.spawn(sys.executable, argv, cwd=str(tmp_path), env=env,
                          encoding="utf-8", timeout=30, dimensions=(40, 100))
    child.logfile_read = open(tmp_path / "transcript.txt", "w")  # for debugging failures
    yield child, tmp_path
    if child.isalive():
        child.terminate(force=True)
    child.logfile_read.close()


def answer(child, prompt: str, text: str) -> None:
    """Wait for the question ``prompt`` and type ``text`` (Enter alone for "")."""
    child.expect_exact(prompt)
    child.sendline(text)


def train_tiny(child, epochs: str = "1") -> None:
    answer(child, "Choice [", "1")
    answer(child, "Model string [", TINY)
    answer(child, "Learning rate [0.003]: ", "0.01")
    answer(child, "Epochs [1]: ", epochs)
    answer(child, "Batch size [64]: ", "")
    answer(child, "(y/n) [n]: ", "")
    answer(child, "(of 2,000) [200]: ", "")


@pytest.mark.slow  # end to end; CI runs it (.ci/run: -m slow)
def test_menu_session_trains_predicts_visualizes_evaluates_and_quits_despite_bad_answers(
        session):
    child, tmp = session
    weights = f"weight_output/weight_details{TINY}.npz"

    # main menu: letters, then out of range
    answer(child, "Choice [", "x")
    child.expect_exact("expected a whole number from 0 to 7, got 'x'")
    answer(child, "Choice [", "8")
    child.expect_exact("8 is out of range: expected a whole number from 0 to 7")
    child.sendline("1")

    # 1. train, with a malformed model string and bad numbers on the way
    child.expect_exact("e.g. C(8,5)-P2-C(16,3)-P2-FC128-FC10")
    answer(child, "Model string [C(8,5)-P2-C(16,3)-P2-FC128-FC10]: ", "C(8)-P2-FC10")
    child.expect_exact("invalid model string 'C(8)-P2-FC10': token 1 'C(8)' should be "
                       "C(filters,kernel), e.g. C(8,5)")
    answer(child, "Model string [", TINY)
    answer(child, "Learning rate [0.003]: ", "fast")
    child.expect_exact("expected a number > 0 such as 0.001, got 'fast'")
    answer(child, "Learning rate [0.003]: ", "0.01")
    answer(child, "Epochs [1]: ", "0")
    child.expect_exact("0 is out of range: expected a whole number >= 1")
    answer(child, "Epochs [1]: ", "")
    answer(child, "Batch size [64]: ", "")
    answer(child, "(y/n) [n]: ", "maybe")
    child.expect_exact("expected y or n, got 'maybe'")
    answer(child, "(y/n) [n]: ", "n")
    answer(child, "Training images held out for validation (of 2,000) [200]: ", "5000")
    child.expect_exact("5000 is out of range: expected a whole number from 0 to 1999")
    answer(child, "(of 2,000) [200]: ", "")
    child.expect_exact(f'Model: "{TINY}"')  # the summary comes before training
    child.expect_exact("training C(4,5)-P2-FC10")
    child.expect_exact(f"weights saved to {weights}")
    child.expect_exact("Actions 2-7 now use these weights by default.")
    assert (tmp / weights).is_file()

    # 2. predict a folder, a missing one first, with plots
    answer(child, "Choice [2]: ", "")
    child.expect(re.escape(TINY) + r"\s+\d+\.\d\d%  yours\r?\n\s+" + re.escape(weights))
    child.expect(r"Weights file \(number or path\) \[(\d+)\]: ")
    child.sendline("99")
    child.expect(r"99 is out of range: expected a whole number from 1 to \d+")
    answer(child, "Weights file (number or path) [", "")
    answer(child, "Folder (or image file) to predict [", "no_such_folder")
    child.expect_exact("'no_such_folder' not found")
    answer(child, "Folder (or image file) to predict [", "digits")
    answer(child, "(y/n) [n]: ", "y")
    answer(child, "Plot folder [prediction_plots/]: ", "plots")
    child.expect_exact(f"same as: cnn predict digits --weights '{weights}' --plot plots")
    child.expect(r"7_1\.jpg\s+-> \d")
    child.expect_exact("plots written to plots")
    assert (tmp / "plots" / "7_1_prediction.png").is_file()

    # 3. feature visualization of a layer and channel
    answer(child, "Choice [2]: ", "3")
    answer(child, "Weights file (number or path) [", "")
    child.expect(r"1  C\(4,5\) conv 5x5 \+ ReLU\s+4 channels")
    child.expect(r"3  FC10 dense \(logits\)\s+10 units")
    answer(child, "Layer [2]: ", "9")  # the last convolution or pooling layer by default
    child.expect_exact("9 is out of range: expected a whole number from 1 to 3")
    answer(child, "Layer [2]: ", "")
    answer(child, "Channel (0-3, or all) [all]: ", "4")
    child.expect_exact("expected 'all' or a channel number from 0 to 3, got '4'")
    answer(child, "Channel (0-3, or all) [all]: ", "2")
    child.expect_exact(f"same as: cnn visualize --weights '{weights}' --layer 2 --channel 2")
    child.expect_exact("wrote 2 files to feature_visualize/output/")
    assert (tmp / "feature_visualize" / "output" / "feature_visualize_2.png").is_file()

    # 4. feature visualization for a given image
    answer(child, "Choice [2]: ", "4")
    answer(child, "Weights file (number or path) [", "")
    answer(child, "Image file [", "missing.png")
    child.expect_exact("'missing.png' not found; give the path of an image file")
    answer(child, "Image file [", "digits")
    child.expect_exact("'digits' is a folder; give one image file")
    answer(child, "Image file [", "digits/7_1.jpg")
    answer(child, "Layer [2]: ", "")
    answer(child, "How many of its most active channels to show [4]: ", "")
    child.expect_exact(f"same as: cnn visualize --weights '{weights}' --layer 2 "
                       "--image digits/7_1.jpg --top 4")
    child.expect_exact("digits/7_1.jpg: read as ")
    child.expect_exact("files to feature_visualize/output/")
    assert (tmp / "feature_visualize" / "output" / "collaged_feature_visualize.png").is_file()

    # 5. evaluate on the (subset's) test set
    answer(child, "Choice [2]: ", "5")
    answer(child, "Weights file (number or path) [", "")
    child.expect_exact(f"model: {TINY}")
    child.expect_exact("test images: 1,000")
    child.expect(r"top-1 accuracy: \d+\.\d\d% \(\d+ errors\)")

    # 6. summary, choosing the file by its path
    answer(child, "Choice [2]: ", "6")
    answer(child, "Weights file (number or path) [", weights)
    child.expect_exact(f'Model: "{TINY}"')
    child.expect_exact("Recorded test top-1 accuracy")

    # Ctrl-C at a question goes back to the menu; 0 quits
    answer(child, "Choice [2]: ", "2")
    child.expect_exact("Weights file (number or path) [")
    child.sendintr()
    child.expect_exact("interrupted: back to the menu")
    answer(child, "Choice [2]: ", "0")
    child.expect_exact("Bye.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


@pytest.mark.parametrize("session", [[str(ROOT / "cli.py")]], indirect=True)  # no arguments
def test_ctrl_c_during_training_keeps_the_last_finished_epoch(session):
    child, tmp = session
    train_tiny(child, epochs="200")
    child.expect_exact("epoch 1: val_loss")
    child.expect_exact("epoch 2/200")  # epoch 1 is recorded once epoch 2 has started
    child.sendintr()
    child.expect_exact("interrupted: keeping the weights of the last finished epoch")
    child.expect(r"weights saved to (\S+\.npz)")
    assert (tmp / child.match.group(1)).is_file()
    child.expect_exact("Choice [2]: ")  # back at the menu, the new weights the default
    child.sendeof()
    child.expect_exact("Bye.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
