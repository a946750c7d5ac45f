"""Weight initializers.

He (Kaiming) normal initialization: He, Zhang, Ren & Sun, "Delving Deep into Rectifiers",
ICCV 2015 (``torch.nn.init.kaiming_normal_`` with ``mode='fan_in'``).
"""

from __future__ import annotations

import math

import numpy as np


def he_normal(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int,
              gain: float = 2.0) -> np.ndarray:
    """He initialisation: normal, mean 0, std ``sqrt(gain / fan_in)``, as float32.

    ``gain=2`` for a layer followed by ReLU (He et al., "Delving Deep into Rectifiers",
    ICCV 2015, eq. 10); ``gain=1`` for a linear layer such as the logits, where no ReLU halves
    the variance (the same derivation without ReLU; LeCun et al., "Efficient BackProp", 1998).
    """
    return (rng.standard_normal(shape) * math.sqrt(gain / fan_in)).astype(np.float32)
