"""Turn any picture of one handwritten digit into what an MNIST digit looks like.

A network trained on MNIST only ever saw one kind of picture: a white digit on a black 28 x 28
field, size-normalised so that it fits a 20 x 20 box with its aspect ratio kept, anti-aliased
(grey levels at the stroke edges), and centred by its centre of mass. LeCun, Bottou, Bengio &
Haffner, "Gradient-based learning applied to document recognition", Proc. IEEE 86(11), 1998,
Section III.A, and the MNIST page: "The original black and white (bilevel) images from NIST
were size normalized to fit in a 20x20 pixel box while preserving their aspect ratio. [...]
the images were centered in a 28x28 image by computing the center of mass of the pixels".
Measured on the first 2000 test digits: the centre of mass (row, col) is (14.0, 14.0) +- 0.3,
the bounding box has a long side of 20, and the stroke width (``2 * area / perimeter`` of the
pixels above 0.5) has a median of 2.25 px (5 % .. 95 %: 1.5 .. 3.5 px).

Pictures people feed a digit reader differ from that in polarity (dark ink on paper), size,
position, stroke width, lighting and file format, and they carry other marks: ruled lines,
boxes, underlines, stains, shadows, the edge of the sheet, an app's buttons. The pipeline,
:func:`cnn.vision.pipeline.to_mnist`, runs one stage per module, each function naming the
condition it exists for:

1. :mod:`cnn.vision.decode`: files and bytes to arrays (sizes checked before decoding; a
   large JPEG decoded grey and reduced by the decoder), grey levels as float in [0, 1] (8-
   and 16-bit, grey, BGR, BGRA; a varying alpha channel is composited over a background that
   contrasts with the strokes);
2. :mod:`cnn.vision.polarity`: dark ink or light ink, from the larger tail of the residual
   from a robust quadratic background, corrected for tight crops, a dark hard shadow over
   most of the page and a sheet smaller than the darker desk around it (a large picture
   judged on a copy reduced by a whole factor to 640-1279 px);
3. :mod:`cnn.vision.illumination`: large images shrunk to 1000 px (a max filter first keeps
   1-px strokes), a textured desk made paper, a replicated margin, and the ink above a
   grey-level opening (or a large median under a hard shadow) relative to the paper;
4. :mod:`cnn.vision.segment`: Otsu within bounds, ruled lines and boxes removed, candidate
   digits (the largest ink with what lies near it, the same without an underline, other ink
   groups); with a classifier (``choose``) the candidate it reads most confidently wins
   (recognition-driven segmentation), and a flat-background pass is tried only when no
   candidate is convincing;
5. :mod:`cnn.vision.normalize`: the grey-level ink inside the digit's box, strokes brought to
   MNIST's width, resized with ``cv2.INTER_AREA`` to 4x the output resolution, placed at the
   quarter-pixel offset that puts its centre of mass at (14, 14), 4 x 4 block means.

:mod:`cnn.vision.measures` holds the small measures several stages share.
"""

from cnn.vision.decode import (
                               MAX_FILE_BYTES,
                               MAX_PIXELS,
                               declared_pixels,
                               decode_image_bytes,
                               read_image,
)
from cnn.vision.normalize import BOX_SIZE, CENTRE, OUT_SIZE, STROKE_WIDTH
from cnn.vision.pipeline import preprocess_file, to_mnist
from cnn.vision.polarity import POLARITIES

__all__ = ["BOX_SIZE", "CENTRE", "MAX_FILE_BYTES", "MAX_PIXELS", "OUT_SIZE", "POLARITIES",
           "STROKE_WIDTH", "decode_image_bytes", "declared_pixels", "preprocess_file",
           "read_image", "to_mnist"]
