"""``cnn visualize``: what a channel responds to, and which channels an image excites.

Two modes (see ``cnn.tasks.visualize`` for the method):

- ``--channel K`` (or ``all``, or a list ``3,5,7``): synthesize the input that maximizes each
  channel of ``--layer``; writes ``feature_visualize_<K>.png`` (280 x 280) and ``.npy``
  (28 x 28 float32 in [0, 1]) per channel, and ``contact_sheet_layer<L>.png`` when more than
  one channel is asked for.
- ``--image PATH`` (the default mode, input ``feature_visualize/input.jpg``): rank the channels
  of ``--layer`` by the image's mean activation and write ``mean_activation_bar.png``, the
  visualizations of the ``--top`` channels, ``collaged_feature_visualize.png`` and (for
  convolution and pooling layers) ``feature_maps.png``. An image of a number (read as ``cnn
  predict --max-digits 12`` reads one) gives one digit's 28 x 28: ``--digit K`` (1-based, left
  to right), by default the first.

Files go to ``--out`` (default ``feature_visualize/output/``, created if missing); files of the
same name are replaced, other files there are left alone.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

from cnn.cli.commands.common import (
    add_weights_option,
    non_negative_float,
    positive_float,
    positive_int,
    seed_int,
    single_weights,
)
from cnn.errors import UserError
from cnn.files import is_regular_file, same_file
from cnn.io.catalog import shipped_folder
from cnn.io.weights import load_model
from cnn.nn.model_string import FC, Conv
from cnn.tasks import visualize as vis
from cnn.tasks import visualize_output as vis_out
from cnn.tasks import visualize_param as vis_param

DEFAULT_INPUT = Path("feature_visualize") / "input.jpg"
DEFAULT_OUTPUT = Path("feature_visualize") / "output"
OUTPUT_NAMES = re.compile(r"feature_visualize_\d+\.(png|npy)|contact_sheet_layer\d+\.png|"
                          r"(mean_activation_bar|collaged_feature_visualize|feature_maps)\.png")

EXAMPLE = """examples:
  cnn visualize --layer 3 --channel all
  cnn visualize --layer 6 --channel 3          # what the network thinks a 3 looks like
  cnn visualize --layer 1 --channel all --objective neuron
  cnn visualize --layer 3 --image my_digit.jpg --top 5
  cnn visualize --layer 3 --image my_number.jpg --digit 2   # the second digit of a number
  cnn summary --weights "weight_output/weight_detailsC(8,5)-P2-C(16,3)-P2-FC128-FC10.npz"

layer numbers are the ones 'cnn summary' prints; channels are numbered from 0, so channel d
of the last layer is the logit of digit d.
"""


def add_parser(subparsers, common) -> None:
    p = subparsers.add_parser(
        "visualize", parents=[common],
        help="feature visualization: what each channel responds to",
        description="Activation maximization (Olah, Mordvintsev & Schubert, 'Feature "
        "Visualization', Distill 2017): synthesize, from small random noise, the input that "
        "most excites a channel of a trained network; or rank the channels a given image "
        "excites and visualize the top ones.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_weights_option(p)
    p.add_argument("--layer", type=int, default=1, metavar="L",
                   help="layer number as 'cnn summary' prints it (1)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--channel", metavar="K",
                      help="channel to visualize, 0-based: a number, a list such as 3,5,7, or "
                           "'all' for a contact sheet of every channel of the layer")
    mode.add_argument("--image", metavar="PATH", default=None,
                      help=f"rank the layer's channels by this image's mean activation "
                           f"(default mode, default image {DEFAULT_INPUT})")
    p.add_argument("--top", type=positive_int, default=None, metavar="N",
                   help="with --image: visualize the N most excited channels (5)")
    p.add_argument("--digit", type=positive_int, default=None, metavar="K",
                   help="with --image of a number: use its K-th digit, 1-based, left to right "
                        "(default: the first)")
    p.add_argument("--out", metavar="DIR", default=str(DEFAULT_OUTPUT),
                   help=f"output folder, created if missing ({DEFAULT_OUTPUT})")
    g = p.add_argument_group("optimization")
    g.add_argument("--steps", type=positive_int, default=vis.DEFAULT_STEPS,
                   help=f"Adam steps ({vis.DEFAULT_STEPS})")
    g.add_argument("--lr", type=positive_float, default=vis.DEFAULT_LR,
                   help=f"Adam learning rate ({vis.DEFAULT_LR})")
    g.add_argument("--param", choices=vis_param.PARAMETERIZATIONS, default="pixel",
                   help="pixels through a sigmoid, or a 1/f-scaled Fourier spectrum (pixel)")
    g.add_argument("--objective", choices=vis.OBJECTIVES, default="channel",
                   help="mean pre-ReLU activation of the channel, or of its centre unit only "
                        "(channel)")
    g.add_argument("--jitter", type=int, default=vis_param.DEFAULT_JITTER, metavar="PX",
                   help=f"random shift of up to PX pixels each step ({vis_param.DEFAULT_JITTER})")
    g.add_argument("--scale", type=non_negative_float, default=0.0, metavar="S",
                   help="random scaling in [1-S, 1+S] each step, e.g. 0.1 (0: off)")
    g.add_argument("--rotate", type=non_negative_float, default=0.0, metavar="DEG",
                   help="random rotation in [-DEG, DEG] degrees each step, e.g. 10 (0: off)")
    g.add_argument("--l2", type=non_negative_float, default=vis.DEFAULT_L2, metavar="W",
                   help=f"weight of the L2 penalty, pulls pixels to black ({vis.DEFAULT_L2})")
    g.add_argument("--tv", type=non_negative_float, default=vis.DEFAULT_TV, metavar="W",
                   help=f"weight of the total-variation penalty, smooths ({vis.DEFAULT_TV})")
    g.add_argument("--seed", type=seed_int, default=0, help="random seed (0)")
    p.set_defaults(run=run)


def default_input() -> Path:
    """``./feature_visualize/input.jpg``, else the project's own copy.

    Raises:
        UserError: when neither exists.
    """
    shipped = shipped_folder("feature_visualize")
    candidates = [DEFAULT_INPUT] + ([shipped / DEFAULT_INPUT.name] if shipped else [])
    for candidate in candidates:
        if is_regular_file(candidate):  # the first relative to the current folder
            return candidate
    raise UserError(f"no input image: {DEFAULT_INPUT} not found; pass --image PATH")


def parse_channels(text: str):
    """``'all'`` stays as it is; ``'3'`` and ``'3,5,7'`` become lists of strings (checked
    against the layer by :func:`cnn.tasks.visualize.check_channels`)."""
    if text.strip().lower() == "all":
        return "all"
    return [item.strip() for item in text.split(",") if item.strip()] or [text]


def optimization_settings(args) -> dict:
    """The keyword arguments of :func:`cnn.tasks.visualize.visualize_channels` from the options."""
    return dict(steps=args.steps, lr=args.lr, param=args.param, objective=args.objective,
                jitter=args.jitter, scale=args.scale, rotate=args.rotate, l2=args.l2,
                tv=args.tv, seed=args.seed, progress=not args.quiet)


def first_layer_note(model, layer: int, objective: str) -> str | None:
    """A hint when the channel mean of a convolution that sees the image directly is asked
    for: that pre-activation is linear in the image, so its mean over positions is maximized
    by a nearly flat image (every interior pixel has the same coefficient, the filter's sum)."""
    t = vis.check_layer(model, layer)
    if objective == "channel" and t == 0 and isinstance(model.specs[0], Conv):
        return (f"note: layer {layer} is linear in the image, so its channel means are maximized "
                "by nearly flat images; --objective neuron shows the pattern a unit responds to")
    return None


def visualize_channel_mode(model, args, folder: Path) -> list[Path]:
    """Visualize the asked-for channels; returns the files written."""
    channels = vis.check_channels(model, args.layer, parse_channels(args.channel))
    start = time.perf_counter()
    images = vis.visualize_channels(model, args.layer, channels, **optimization_settings(args))
    seconds = time.perf_counter() - start
    reached = vis.objective_and_grad(model, args.layer, channels, images[..., None],
                                     args.objective)[0]
    written = []
    for channel, image in zip(channels, images):
        written += vis_out.save_visualization(folder, channel, image)
    if len(channels) > 1:
        labels = [f"ch {k}: {v:.3g}" for k, v in zip(channels, reached)]
        sheet = vis_out.contact_sheet(images, labels)
        written.append(vis_out.write_png(folder / f"contact_sheet_layer{args.layer}.png", sheet))
    print(f"{vis.describe_layer(model, args.layer)}: visualized {len(channels)} channel(s) in "
          f"{seconds:.1f} s ({args.steps} steps, {args.param}, {args.objective} objective)")
    if len(channels) <= 16:
        for channel, value in zip(channels, reached):
            print(f"  channel {channel}: {args.objective} objective {value:.4g}")
    return written


def pick_digit(model, path: Path, digit: int | None):
    """The 28 x 28 to visualize from ``path``: its single digit, or digit ``digit`` (1-based;
    None: the first) of the number it holds, saying which in one line.

    Returns:
        ``(x, which)``: float32 ``(28, 28)`` in [0, 1], and ``" (digit K of N)"`` for a
        number (``""`` for a single digit), for the plots' titles.
    Raises:
        UserError: ``digit`` beyond the digits the image holds.
    """
    from cnn.tasks.visualize_input import default_rejector, read_visualize_input

    given = read_visualize_input(path, model, default_rejector())  # as predict's number rule
    k = digit or 1
    if k > given.count:
        holds = (f"holds the number {given.number}, {given.count} digits; give --digit 1 to "
                 f"{given.count}" if given.number else
                 "holds one digit, not a number; leave out --digit")
        raise UserError(f"--digit {k}: {path} {holds}")
    if given.number is None:
        return given.digit(1), ""
    print(f"{path}: the number {given.number}; visualizing digit {k} of {given.count}, a "
          f"{given.number[k - 1]}" + ("; --digit K picks another" if digit is None else ""))
    return given.digit(k), f" (digit {k} of {given.count})"


def visualize_image_mode(model, args, folder: Path) -> list[Path]:
    """Rank the layer's channels for one image and visualize the top ones."""
    path = Path(args.image) if args.image else default_input()
    x, which = pick_digit(model, path, args.digit)
    layer = args.layer
    order, means = vis.rank_channels(model, layer, x)
    top = [int(k) for k in order[: min(args.top or 5, len(order))]]
    probabilities = model.predict_proba(x[None])[0]
    digit = int(probabilities.argmax())
    print(f"{path}: read as {digit} (p = {probabilities[digit]:.3f}); "
          f"{vis.describe_layer(model, layer)}")
    relu = model.block(layer).has_relu
    print(f"most excited channels (mean activation{' after ReLU' if relu else ''}): "
          + ", ".join(f"{k} ({means[k]:.3g})" for k in top))
    start = time.perf_counter()
    images = vis.visualize_channels(model, layer, top, **optimization_settings(args))
    seconds = time.perf_counter() - start
    title = f"{path.name}{which}, {vis.describe_layer(model, layer)}, {model.model_string}"
    written = [vis_out.plot_mean_activation_bar(
        means, folder / "mean_activation_bar.png", title=title, highlight=top,
        ylabel="mean activation" + (" (after ReLU)" if relu else
                                    " (logit)" if layer == len(model.specs) else ""))]
    for channel, image in zip(top, images):
        written += vis_out.save_visualization(folder, channel, image)
    written.append(vis_out.plot_collage(x, images, top, means[top],
                                    folder / "collaged_feature_visualize.png", title=title))
    if isinstance(model.specs[layer - 1], FC):
        print(f"layer {layer} is fully connected: no spatial maps, feature_maps.png not written")
    else:
        maps = vis.layer_activation(model, layer, x[None], pre=False)[0]
        written.append(vis_out.plot_feature_maps(maps, folder / "feature_maps.png",
                                             title=f"activation maps, {title}"))
    print(f"visualized {len(top)} channel(s) in {seconds:.1f} s")
    return written


def run(args) -> int:
    model = load_model(single_weights(args.weights, 'visualize'))
    vis.check_layer(model, args.layer)
    for given, name in ((args.top, "--top"), (args.digit, "--digit")):
        if args.channel is not None and given is not None:
            raise UserError(f"{name} goes with --image (the image mode), not with --channel")
    folder = Path(args.out)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"--out {folder} is a file; give a folder")
    image = Path(args.image) if args.image else None
    if image is not None and OUTPUT_NAMES.fullmatch(image.name) and same_file(
            image.parent, folder):
        raise UserError(f"--image {image} would be replaced by an output of the same name in "
                        f"--out {folder}; copy it elsewhere or choose another --out")
    if args.channel is not None:
        written = visualize_channel_mode(model, args, folder)
    else:
        written = visualize_image_mode(model, args, folder)
    note = first_layer_note(model, args.layer, args.objective)
    if note and not args.quiet:
        print(note)
    pngs = [p for p in written if p.suffix == ".png"]
    print(f"wrote {len(written)} files to {folder}/: "
          + ", ".join(p.name for p in pngs[:8]) + (", ..." if len(pngs) > 8 else ""))
    return 0
