"""Model strings: canonical round trip and one clear error per malformed string."""

import pytest

from cnn.errors import UserError
from cnn.parse import FC, Conv, Pool, format_model, layer_shapes, parse_model

REFERENCE_MODELS = [
    "C(8,5)-P2-C(16,3)-P2-FC128-FC10",
    "C(8,5)-P2-C(16,3)-P2-C(32,3)-P2-FC256-FC10",
    "C(16,3)-P2-C(32,3)-P2-C(64,3)-P2-FC512-FC10",
]


@pytest.mark.parametrize("text", REFERENCE_MODELS)
def test_parse_then_format_gives_the_canonical_string(text):
    assert format_model(parse_model(text)) == text


def test_parse_accepts_lower_case_and_spaces_and_canonicalizes():
    assert format_model(parse_model(" c(8, 5) - p2 - fc10 ")) == "C(8,5)-P2-FC10"


def test_parse_returns_one_spec_per_token_in_order():
    assert parse_model("C(8,5)-P2-FC128-FC10") == [Conv(8, 5), Pool(2), FC(128), FC(10)]


def test_pooling_keeps_partial_windows_ceil_mode():
    # The reference project's sizes: 11 -> 6 and 3 -> 2 for P2.
    shapes = layer_shapes(parse_model(REFERENCE_MODELS[1]), (28, 28, 1))
    assert shapes[:6] == [(24, 24, 8), (12, 12, 8), (10, 10, 16), (5, 5, 16), (3, 3, 32), (2, 2, 32)]
    shapes = layer_shapes(parse_model(REFERENCE_MODELS[2]), (28, 28, 1))
    assert shapes[2] == (11, 11, 32) and shapes[3] == (6, 6, 32)


@pytest.mark.parametrize("text,message", [
    ("C(8)-P2-FC10", "token 1 'C(8)' should be C(filters,kernel), e.g. C(8,5)"),
    ("C(8,5)-P-FC10", "token 2 'P' should be P<size>, e.g. P2"),
    ("C(8,5)-FC", "token 2 'FC' should be FC<units>, e.g. FC128"),
    ("C(0,3)-FC10", "token 1 'C(0,3)' has a zero size"),
    ("X5-FC10", "token 1 'X5' should be one of C(filters,kernel), P<size> or FC<units>"),
    ("", "it is empty"),
    ("C(8,29)-FC10", "token 1 'C(8,29)': kernel 29 is larger than its 28 x 28 input"),
    ("C(8,5)-P2-C(8,5)-P2-C(8,5)-FC10", "token 5 'C(8,5)': kernel 5 is larger than its 4 x 4 input"),
    ("C(8,5)-P2", "the last token 'P2' should be FC10"),
    ("C(8,5)-FC7", "the last token 'FC7' should be FC10"),
    ("FC64-C(8,3)-FC10", "token 2 'C(8,3)' follows a fully connected layer"),
    ("C(8,5)--FC10", "token 2 '' should be one of"),
])
def test_malformed_model_string_gets_one_line_naming_the_token(text, message):
    with pytest.raises(UserError) as err:
        parse_model(text)
    text_of_error = str(err.value)
    assert text_of_error.startswith(f"invalid model string {text!r}: ")
    assert message in text_of_error
    assert "\n" not in text_of_error
