"""The interactive menu that ``cnn`` (no arguments) and ``cnn menu`` open.

A loop of numbered actions. Each question shows its default in brackets and Enter takes it; a
bad answer (letters for a number, out of range, a missing file, a malformed model string) is
answered with the reason and the question is asked again. The actions do exactly what the
subcommands do: training calls :func:`cnn.cli.commands.train.train_and_save`, every other action
builds the argv a user would type, prints it (``same as: cnn predict ...``) and runs it with
:func:`cnn.cli.main.main`, so the menu and the subcommands cannot drift apart.

Keys:
    Enter: take the default shown in brackets.
    Ctrl-C: at a question or during an action, back to the main menu (training stops after
        restoring the weights of the last finished epoch, which are then saved); at the main
        menu, twice in a row, quit.
    Ctrl-D (end of input) anywhere, or 0 at the main menu: quit with exit status 0.
"""

from __future__ import annotations

import os
import shlex
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from cnn import __version__
from cnn.data.mnist import find_mnist
from cnn.errors import UserError
from cnn.io.catalog import (
    SHIPPED_KEYWORD,
    WEIGHTS_DIR,
    WeightsInfo,
    default_weights,
    list_weights,
    read_weights_info,
    shipped_folder,
)
from cnn.io.npz import NpzReader
from cnn.nn.model import Sequential
from cnn.nn.model_string import format_model, parse_model
from cnn.nn.schedule import DEFAULT_LR
from cnn.nn.summary import summary_rows
from cnn.tasks.metrics import percent
from cnn.tasks.predict import DEFAULT_FOLDER, IMAGE_EXTENSIONS, collect_images
from cnn.text import printable

EXAMPLE_MODEL = "C(8,5)-P2-C(16,3)-P2-FC128-FC10"
DEFAULT_PLOT_FOLDER = "prediction_plots"

ACTIONS = [
    ("1", "Train a new model"),
    ("2", "Predict the images in a folder"),
    ("3", "Feature visualization of a layer and channel"),
    ("4", "Feature visualization for a given image"),
    ("5", "Evaluate a model on the MNIST test set"),
    ("6", "Model summary"),
    ("7", "Draw digits in the browser (cnn serve)"),
    ("0", "Quit"),
]


# ------------------------------------------------------------------ answers
# Each parser turns the typed text into a value or raises ValueError with the reason, which
# the menu prints before asking again.

def whole_number(low: int, high: int | None = None) -> Callable[[str], int]:
    """Parser for an integer in ``[low, high]`` (``high`` None: no upper bound)."""
    expected = f"a whole number from {low} to {high}" if high is not None else \
        f"a whole number >= {low}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"expected {expected}, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise ValueError(f"{value} is out of range: expected {expected}")
        return value
    return parse


def positive_number(text: str) -> float:
    """Parser for a number > 0 (a learning rate)."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"expected a number > 0 such as 0.001, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{text} is out of range: expected a number > 0 such as 0.001")
    return value


def yes_no(text: str) -> bool:
    """Parser for y/yes/n/no (any case)."""
    answer = text.strip().lower()
    if answer in ("y", "yes"):
        return True
    if answer in ("n", "no"):
        return False
    raise ValueError(f"expected y or n, got {text!r}")


def model_string(text: str) -> str:
    """Parser for a model string: its canonical form, or the parser's reason (UserError)."""
    return format_model(parse_model(text))


def model_or_weights(text: str) -> str | Path:
    """Parser for the training action's first answer: a model string (its canonical form: a
    new model), or an existing weights file (a ``Path``: fine-tune it on a folder)."""
    path = Path(text).expanduser()
    if path.is_file() or text.endswith(".npz"):
        if not path.is_file():
            raise ValueError(f"'{text}' not found; give a model string, or the path of a "
                             ".npz weights file to fine-tune")
        return path
    return model_string(text)


def training_folder(text: str) -> str:
    """Parser for a folder of one's own digits (class folders 0..9, or <digit>_name files)."""
    if not Path(text).expanduser().is_dir():
        raise ValueError(f"'{text}' is not a folder; give a folder with class folders 0..9")
    return text


def image_folder(text: str) -> str:
    """Parser for a folder (or file) holding images that ``cnn predict`` can read."""
    collect_images([text])  # raises UserError: not found, or no image files
    return text


def image_file(text: str) -> str:
    """Parser for one existing image file."""
    path = Path(text).expanduser()
    if path.is_dir():
        raise ValueError(f"'{text}' is a folder; give one image file")
    if not path.is_file():
        raise ValueError(f"'{text}' not found; give the path of an image file")
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        raise ValueError(f"'{text}' is not an image file "
                         f"({', '.join(sorted(IMAGE_EXTENSIONS))})")
    return text


def channel_answer(channels: int) -> Callable[[str], str]:
    """Parser for ``all`` or a channel number ``0 .. channels - 1``."""
    number = whole_number(0, channels - 1)

    def parse(text: str) -> str:
        if text.strip().lower() == "all":
            return "all"
        try:
            return str(number(text))
        except ValueError:
            raise ValueError(f"expected 'all' or a channel number from 0 to {channels - 1}, "
                             f"got {text!r}") from None
    return parse


# ------------------------------------------------------------------ helpers
@dataclass(frozen=True)
class LayerInfo:
    """A visualizable token: its 1-based ``number`` (as in ``cnn summary``), ``name``, and
    ``count`` channels (conv/pool) or units (FC)."""

    number: int
    name: str
    count: int
    unit: str


def layer_infos(model: str) -> list[LayerInfo]:
    """The layers of a model string with their channel (or unit) counts, for actions 3 and 4."""
    net = Sequential(model)
    return [LayerInfo(row.number, row.name, int(shape[-1]),
                      "channels" if len(shape) == 3 else "units")
            for row, shape in zip(summary_rows(net), net.token_shapes)]


def whose(info: WeightsInfo) -> str:
    """``yours``, or ``shipped`` with the manifest role and what the file name adds to the model
    string (``shipped, default, seed2``)."""
    if not info.shipped:
        return "yours"
    extra = info.path.stem.removeprefix("weight_details").removeprefix(info.model).strip("_")
    return ", ".join(["shipped"] + (["default"] if info.role == "default" else [])
                     + ([extra] if extra else []))


def display_path(path: Path) -> str:
    """``path`` relative to the working folder when it is inside it, else absolute."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def training_images(data: str | None) -> int | None:
    """How many training images the MNIST file that training will use holds (``None`` if no
    local file is found yet: training will download full MNIST)."""
    try:
        path = find_mnist(data, download=False)
        with NpzReader(path, "MNIST file") as f:
            return int(f.members["y_train"].shape[0])
    except (UserError, KeyError, IndexError):
        return None


def number_in(weights: Path, image: str):
    """What ``cnn visualize --image`` reads in ``image`` when it holds a number of two or
    more digits (:class:`cnn.tasks.visualize_input.VisualizeInput`), else None (one digit,
    or an image the command itself will report on)."""
    from cnn.io.weights import load_model
    from cnn.tasks.visualize_input import default_rejector, read_visualize_input

    try:
        given = read_visualize_input(image, load_model(weights), default_rejector())
    except UserError:
        return None
    return given if given.number else None


def default_folder() -> str:
    """``custom_test_images/`` here, else the project's own, else the name (to be typed)."""
    if (Path.cwd() / DEFAULT_FOLDER).is_dir():
        return DEFAULT_FOLDER + "/"
    shipped = shipped_folder(DEFAULT_FOLDER)
    if shipped is not None:
        return str(shipped) + "/"
    return DEFAULT_FOLDER + "/"


def default_image() -> str | None:
    """Default answer of action 4: ``cnn visualize``'s default input image
    (feature_visualize/input.jpg), else the first image of the default folder."""
    from cnn.cli.commands.visualize import default_input

    try:
        return display_path(default_input())
    except UserError:
        pass
    try:
        return display_path(collect_images([default_folder()])[0])
    except UserError:
        return None


# ------------------------------------------------------------------ the menu
class Menu:
    """The interactive loop.

    Args:
        data: MNIST file for training and evaluation (``--data``; ``None``: ``$CNN_MNIST_DATA``,
            then the keras cache, then a download).
        quiet: pass ``--quiet`` to the actions (no progress bars).
        debug: pass ``--debug`` to the actions and print tracebacks.
        input_func: reads one answer, like :func:`input` (tests pass a scripted one).
    """

    def __init__(self, data: str | None = None, quiet: bool = False, debug: bool = False,
                 input_func: Callable[[str], str] = input) -> None:
        self.data, self.quiet, self.debug = data, quiet, debug
        self.input = input_func
        self.trained: Path | None = None  # weights trained in this session: the new default

    # ---------------------------------------------------------- questions
    def ask(self, question: str, default, parse: Callable[[str], object] = str):
        """Ask until ``parse`` accepts the answer; Enter takes ``default`` (``None``: no
        default, an answer is required). Raises EOFError / KeyboardInterrupt through."""
        shown = f" [{default}]" if default is not None else ""
        while True:
            try:
                text = self.input(f"{question}{shown}: ").strip()
            except UnicodeDecodeError as e:  # bytes that are not text in the terminal's encoding
                byte = e.object[e.start:e.start + 1]
                print(f"  that answer is not {e.encoding} text (byte {byte!r}); type it again")
                continue
            if not text:
                if default is None:
                    print("  please type an answer (there is no default)")
                    continue
                text = str(default)
            try:
                return parse(text)
            except ValueError as e:  # UserError is a ValueError
                print(f"  {printable(e)}")

    def confirm(self, question: str, default: bool) -> bool:
        return self.ask(f"{question} (y/n)", "y" if default else "n", yes_no)

    # ---------------------------------------------------------- the loop
    def run(self) -> int:
        """Show the menu until the user quits; returns the exit status (0)."""
        print(f"cnn {__version__}: a NumPy CNN for handwritten digits (MNIST).")
        print("Enter takes the [default]; Ctrl-C goes back to this menu; 0 or Ctrl-D quits.")
        interrupted = False
        while True:
            print()
            for key, text in ACTIONS:
                print(f"  {key}  {text}")
            try:
                choice = self.ask("Choice", "2" if list_weights() else "1", whole_number(0, len(ACTIONS) - 1))
            except KeyboardInterrupt:
                if interrupted:
                    print("\nBye.")
                    return 0
                interrupted = True
                print("\n(press Ctrl-C again, Ctrl-D or 0 to quit)")
                continue
            except EOFError:
                print("\nBye.")
                return 0
            interrupted = False
            if choice == 0:
                print("Bye.")
                return 0
            try:
                self.dispatch(choice)
            except EOFError:
                print("\nBye.")
                return 0
            except KeyboardInterrupt:
                print("\ninterrupted: back to the menu")
            except UserError as e:
                if self.debug:
                    traceback.print_exc()
                else:
                    print(f"cnn: error: {printable(e)}", file=sys.stderr)
            except Exception as e:  # a bug: keep the session, say how to see more
                if self.debug:
                    traceback.print_exc()
                else:
                    print(f"cnn: error: unexpected {type(e).__name__}: {printable(e)} "
                          "(run 'cnn menu --debug' for the traceback)", file=sys.stderr)

    def dispatch(self, choice: int) -> None:
        actions = {1: self.train, 2: self.predict, 3: self.visualize_channel,
                   4: self.visualize_image, 5: self.evaluate, 6: self.summary, 7: self.serve}
        actions[choice]()

    def run_cli(self, argv: list[str]) -> int:
        """Run ``cnn ARGV`` in this process, as the user could type it; returns its status."""
        from cnn.cli import main

        print(f"same as: cnn {shlex.join(argv)}")
        flags = (["--quiet"] if self.quiet else []) + (["--debug"] if self.debug else [])
        try:
            status = main(argv + flags)
        except SystemExit as e:  # argparse: --help or a usage error
            status = e.code if isinstance(e.code, int) else 2
        if status == 130:
            print("interrupted: back to the menu")
        return status

    def data_args(self) -> list[str]:
        return ["--data", self.data] if self.data else []

    # ---------------------------------------------------------- weights
    def choose_weights(self, ensemble: bool = False) -> Path | None:
        """List the weights files and ask for one (number or path); ``None``: none chosen.

        The user's files (``./weight_output/``) come first, marked ``yours`` with their path;
        the shipped ones (:mod:`cnn.io.catalog`'s manifest) follow, marked ``shipped``. With
        ``ensemble`` (predict, evaluate, serve), one more entry, "all shipped models", answers
        ``shipped``: the ensemble of the shipped default and members (never a user's file)."""
        found = list_weights()
        if not found:
            print(f"No weights files in {WEIGHTS_DIR}/ yet: train one first (action 1) or copy "
                  f"a .npz file into {WEIGHTS_DIR}/.")
            if self.confirm("Train a new model now?", True):
                return self.train()
            return None
        print("Weights files (model string, recorded test top-1, whose):")
        models = [printable(w.model) for w in found]
        wm = max(map(len, models))
        for i, w in enumerate(found, 1):
            acc = percent(w.accuracy) if w.accuracy is not None else "  n/a"
            print(f"  {i:>2}  {models[i - 1]:<{wm}}  {acc:>7}  {whose(w)}")
            if not w.shipped:
                print(f"      {printable(display_path(w.path))}")
        choices = list(found)
        shipped = [w for w in found if w.shipped]
        if ensemble and len(shipped) > 1:
            choices.append(WeightsInfo(Path(SHIPPED_KEYWORD), "all shipped models", None))
            print(f"  {len(choices):>2}  all shipped models (an ensemble of {len(shipped)}: the "
                  "mean of their probabilities)")
        answer = self.ask("Weights file (number or path)", self.default_weights_number(found),
                          self.weights_answer(choices))
        return answer.path

    def default_weights_number(self, found: list[WeightsInfo]) -> int:
        """1-based number of the weights trained in this session, else of the most accurate."""
        paths = [w.path.resolve() for w in found]
        if self.trained is not None and self.trained.resolve() in paths:
            return paths.index(self.trained.resolve()) + 1
        try:
            return paths.index(default_weights().resolve()) + 1
        except (UserError, ValueError):
            return 1

    @staticmethod
    def weights_answer(found: list[WeightsInfo]) -> Callable[[str], WeightsInfo]:
        def parse(text: str) -> WeightsInfo:
            if text.isdigit():
                return found[whole_number(1, len(found))(text) - 1]
            path = Path(text).expanduser()
            if not path.is_file():
                raise ValueError(f"expected a number from 1 to {len(found)} or the path of a "
                                 f".npz weights file, got {text!r}")
            info = read_weights_info(path)
            if info is None:
                raise ValueError(f"cannot read {text!r} as a weights file: expected a .npz "
                                 "written by 'cnn train' or named weight_details<model>.npz")
            return info
        return parse

    def choose_layer(self, weights: Path) -> LayerInfo:
        info = read_weights_info(weights)
        layers = layer_infos(info.model)
        print(f"Layers of {printable(info.model)}:")
        width = max(len(layer.name) for layer in layers)
        for layer in layers:
            print(f"  {layer.number:>2}  {layer.name:<{width}}  {layer.count:>4} {layer.unit}")
        spatial = [layer.number for layer in layers if layer.unit == "channels"]
        default = spatial[-1] if spatial else layers[-1].number  # the last conv/pool layer
        number = self.ask("Layer", default, whole_number(1, len(layers)))
        return layers[number - 1]

    # ---------------------------------------------------------- actions
    def train(self) -> Path | None:
        """Action 1: ask the settings, show the summary, train, save; returns the weights."""
        from cnn.cli.commands.train import train_and_save
        from cnn.data.sources import default_validation

        print("A model string is layer tokens joined by '-': C(filters,kernel) convolution + "
              "ReLU,\nP<size> max pooling, FC<units> dense layer; the last token is FC10 "
              "(one unit per digit).\nAlso: C(32,3,s2,same) stride/padding, BN batch norm, "
              "R(32) / R(64,s2) residual block,\nD0.25 dropout, A2 average pooling, GAP "
              "global average pooling (see 'cnn train --help').")
        print(f"  e.g. {EXAMPLE_MODEL}   (tiny and fast: C(4,5)-P2-FC10)")
        try:
            example = display_path(default_weights())
        except UserError:
            example = "weight_output/<file>.npz"
        print(f"  or a weights file to fine-tune on a folder of your own digits, e.g. {example}")
        model = self.ask("Model string", EXAMPLE_MODEL, model_or_weights)
        if isinstance(model, Path):
            return self.finetune(model)
        lr = self.ask("Learning rate", f"{DEFAULT_LR:g}", positive_number)
        epochs = self.ask("Epochs", 1, whole_number(1))
        batch = self.ask("Batch size", 64, whole_number(1))
        augment = self.confirm("Augment the training images (random shifts, rotations, "
                               "stroke widths)?", False)
        n = training_images(self.data)
        if n is None:
            validation = self.ask("Training images held out for validation",
                                  default_validation(60_000), whole_number(0))  # full MNIST
        else:
            validation = self.ask(f"Training images held out for validation (of {n:,})",
                                  default_validation(n), whole_number(0, n - 1))
        argv = ["train", "--model", model, "--lr", f"{lr:g}", "--epochs", str(epochs),
                "--batch-size", str(batch), "--validation", str(validation)]
        argv += ["--augment"] if augment else []
        print(f"same as: cnn {shlex.join(argv + self.data_args())}")
        print("Ctrl-C stops training and keeps the weights of the last finished epoch.")
        result = train_and_save(model, epochs=epochs, batch_size=batch, lr=lr, augment=augment,
                                validation=validation, data=self.data, quiet=self.quiet,
                                show_summary=True)
        if result["weights"] is None:  # train_and_save said why
            return None
        self.trained = Path(result["weights"])
        print(f"Actions 2-{len(ACTIONS) - 1} now use these weights by default.")
        return self.trained

    def finetune(self, init: Path) -> Path | None:
        """Action 1 given a weights file: fine-tune it on a folder with ``cnn train --init``'s
        defaults (:mod:`cnn.tasks.safe_finetune`); returns the weights written."""
        from cnn.cli.commands.train import train_and_save

        folder = self.ask("Folder of your digits (class folders 0..9)", None, training_folder)
        epochs = self.ask("Epochs (at most: the best one is kept)", 5, whole_number(1))
        argv = ["train", "--init", display_path(init), "--data", folder, "--epochs", str(epochs)]
        print(f"same as: cnn {shlex.join(argv)}")
        result = train_and_save(None, init=init, data=[folder], epochs=epochs, quiet=self.quiet)
        if result["weights"] is None:
            return None
        self.trained = Path(result["weights"])
        print(f"Actions 2-{len(ACTIONS) - 1} now use these weights by default.")
        return self.trained

    def predict(self) -> None:
        """Action 2: the digits in a folder of images, optionally with one plot per image."""
        weights = self.choose_weights(ensemble=True)
        if weights is None:
            return
        folder = self.ask("Folder (or image file) to predict", default_folder(), image_folder)
        argv = ["predict", folder, "--weights", display_path(weights)]
        if self.confirm("Save a plot per image (original, network input, probabilities)?",
                        False):
            argv += ["--plot", self.ask("Plot folder", DEFAULT_PLOT_FOLDER + "/")]
        self.run_cli(argv)

    def visualize_channel(self) -> None:
        """Action 3: the input pattern that excites one channel (or all) of a layer most."""
        weights = self.choose_weights()
        if weights is None:
            return
        layer = self.choose_layer(weights)
        channel = self.ask(f"Channel (0-{layer.count - 1}, or all)", "all",
                           channel_answer(layer.count))
        self.run_cli(["visualize", "--weights", display_path(weights),
                      "--layer", str(layer.number), "--channel", channel])

    def visualize_image(self) -> None:
        """Action 4: a layer's feature maps for one image, its most active channels first."""
        weights = self.choose_weights()
        if weights is None:
            return
        image = self.ask("Image file", default_image(), image_file)
        given = number_in(weights, image)
        digit = [] if given is None else ["--digit", str(self.ask(
            f"It holds the number {given.number}: which digit to use (1-{given.count}, left "
            "to right)", 1, whole_number(1, given.count)))]
        layer = self.choose_layer(weights)
        top = self.ask(f"How many of its most active {layer.unit} to show", min(5, layer.count),
                       whole_number(1, layer.count))
        self.run_cli(["visualize", "--weights", display_path(weights),
                      "--layer", str(layer.number), "--image", image, "--top", str(top)]
                     + digit)

    def evaluate(self) -> None:
        """Action 5: top-1 accuracy and friends on the MNIST test set."""
        weights = self.choose_weights(ensemble=True)
        if weights is None:
            return
        self.run_cli(["evaluate", "--weights", display_path(weights)] + self.data_args())

    def summary(self) -> None:
        """Action 6: the layer table of a weights file."""
        weights = self.choose_weights()
        if weights is None:
            return
        self.run_cli(["summary", "--weights", display_path(weights)])

    def serve(self) -> None:
        """Action 7: the drawing page on http://127.0.0.1:PORT/ until Ctrl-C."""
        weights = self.choose_weights(ensemble=True)
        if weights is None:
            return
        port = self.ask("Port (0: any free one)", 8000, whole_number(0, 65535))
        print("Ctrl-C stops the server and comes back to this menu.")
        self.run_cli(["serve", "--weights", display_path(weights), "--port", str(port)])


def run_menu(data: str | None = None, quiet: bool = False, debug: bool = False) -> int:
    """Open the menu; a ``data`` path (or ``$CNN_MNIST_DATA``) that does not exist is an error
    now rather than at the first training."""
    from cnn.data import mnist as mnist_data

    if data or os.environ.get("CNN_MNIST_DATA"):
        find_mnist(data, download=False)
    # The menu takes no flags: its messages say how to start it with the MNIST path instead.
    saved, mnist_data.HOW_TO_PASS = (mnist_data.HOW_TO_PASS,
                                     "quit and start the menu as 'cnn menu --data PATH'")
    try:
        return Menu(data, quiet, debug).run()
    finally:
        mnist_data.HOW_TO_PASS = saved
