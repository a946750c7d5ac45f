"""Draw docs/images/numbers_examples.jpg: number photos with the boxes read, then each segment
as the network saw it (28 x 28). Usage: python scripts/make_numbers_figure.py OUT.png PHOTO...
"""

from __future__ import annotations

import sys

import cv2
import numpy as np

from cnn.tasks.numbers import read_number
from cnn.tasks.predictor import load_predictor
from cnn.tasks.reject import Rejector
from cnn.vision.decode import read_image


def panel(path: str, model, rejector, width: int = 640) -> np.ndarray:
    """One example: the photo with boxes and digits drawn, the 28 x 28 segments below it."""
    image = read_image(path)
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    reading = read_number(image, model, rejector)
    shown = image.copy()
    for d in reading.digits:
        x0, y0, x1, y1 = d["box"]
        cv2.rectangle(shown, (x0, y0), (x1, y1), (0, 0, 230), 2)
        cv2.putText(shown, "?" if d["digit"] is None else str(d["digit"]), (x0, max(15, y0 - 6)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.9, (0, 0, 230), 2)
    f = width / shown.shape[1]
    shown = cv2.resize(shown, (width, int(shown.shape[0] * f)), interpolation=cv2.INTER_AREA)
    tiles = [cv2.resize((img * 255).astype(np.uint8), (84, 84), interpolation=cv2.INTER_NEAREST)
             for img in reading.images]
    strip = np.full((96, width), 255, np.uint8)
    for k, tile in enumerate(tiles[: width // 90]):
        strip[6:90, 6 + 90 * k:90 + 90 * k] = tile
    label = f"{path.rsplit('/', 1)[-1]}: read {reading.number}"
    bar = np.full((30, width, 3), 255, np.uint8)
    cv2.putText(bar, label, (6, 21), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1)
    return np.vstack([bar, shown, cv2.cvtColor(strip, cv2.COLOR_GRAY2BGR)])


def main(argv: list[str]) -> int:
    _, model = load_predictor(None)
    rejector = Rejector.default()
    sheet = np.vstack([panel(p, model, rejector) for p in argv[1:]])
    cv2.imwrite(argv[0], sheet)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
