"""Model-string limits (issue 10, items 5, 10 and 15): ASCII digits only, numbers of at most
9 digits, a parameter and an activation limit checked before anything is allocated, long
strings cut in the error line, and the pooling-window rule."""

from __future__ import annotations

import numpy as np
import pytest

from cnn.errors import UserError
from cnn.nn.model import Sequential
from cnn.nn.model_string import (
    MAX_ACTIVATIONS,
    MAX_PARAMETERS,
    count_parameters,
    layer_shapes,
    parse_model,
)
from cnn.nn.pooling import MaxPool2D


@pytest.mark.parametrize("text, message", [
    ("C(８,５)-FC10", "token 1 'C(８,５)' has the non-ASCII digit '８' (U+FF18); type the digits 0-9"),
    ("C(8,5)-FC١٠", "non-ASCII digit '١' (U+0661)"),
    ("FC1234567890-FC10", "token 1 'FC1234567890' has a number longer than 9 digits"),
    ("C(99999999,3)-FC10", f"parameters, more than the {MAX_PARAMETERS:,} allowed"),
    ("C(6000,1)-FC10", f"outputs 4,704,000 values per image, more than the {MAX_ACTIVATIONS:,}"),
])
def test_numbers_are_ascii_short_and_the_network_bounded(text, message):
    with pytest.raises(UserError) as err:
        parse_model(text)
    assert message in str(err.value)


def test_parameter_count_of_the_parser_equals_the_built_model():
    for text in ["C(8,5)-P2-C(16,3)-P2-FC128-FC10", "FC64-FC10", "C(3,3)-P3-FC10"]:
        specs = parse_model(text)
        assert sum(count_parameters(specs, (28, 28, 1))) == Sequential(text).num_params()


def test_a_long_model_string_is_cut_in_the_error_line():
    text = "C(8,5)-" * 20_000 + "FC10"
    with pytest.raises(UserError) as err:
        parse_model(text)
    message = str(err.value)
    assert len(message) < 300 and f"({len(text):,} characters)" in message


def test_a_pooling_window_may_cover_its_whole_map_but_not_more():
    # Decision (issue 10, item 15): P<k> with k <= the map side is accepted, the last window
    # partial (ceil mode); k = the side is a global max; k larger than the map is refused, as
    # torch.nn.MaxPool2d refuses it ("Output size is too small").
    assert layer_shapes(parse_model("C(2,5)-P2-P12-FC10"), (28, 28, 1))[2] == (1, 1, 2)
    assert layer_shapes(parse_model("C(2,5)-P2-P5-FC10"), (28, 28, 1))[2] == (3, 3, 2)
    with pytest.raises(UserError, match=r"token 3 'P13': pooling window 13 is larger than its "
                                        r"12 x 12 input \(P12 already pools the whole map\)"):
        parse_model("C(2,5)-P2-P13-FC10")


def test_a_window_equal_to_the_map_is_a_global_max():
    x = np.random.default_rng(0).random((2, 12, 12, 3)).astype(np.float32)
    out = MaxPool2D(12).forward(x)
    np.testing.assert_array_equal(out[:, 0, 0, :], x.max(axis=(1, 2)))
