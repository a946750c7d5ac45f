"""Model strings: canonical round trip and one clear error per malformed string."""

import pytest

from cnn.errors import UserError
from cnn.nn.im2col import conv_output_size
from cnn.nn.model_string import (
    FC,
    AvgPool,
    BatchNorm,
    Conv,
    Dropout,
    GlobalAvgPool,
    Pool,
    Residual,
    format_model,
    is_version1,
    layer_shapes,
    parse_model,
)

REFERENCE_MODELS = [
    "C(8,5)-P2-C(16,3)-P2-FC128-FC10",
    "C(8,5)-P2-C(16,3)-P2-C(32,3)-P2-FC256-FC10",
    "C(16,3)-P2-C(32,3)-P2-C(64,3)-P2-FC512-FC10",
]
V2_MODELS = [
    "C(16,3,same)-BN-R(16)-R(32,s2)-R(64,s2)-GAP-FC10",
    "C(16,3,same)-BN-P2-R(16)-R(32,s2)-R(64,s2)-GAP-FC10",
    "C(32,3,same)-C(64,3,s2,same)-BN-A2-D0.25-FC128-BN-D0.5-FC10",
    "C(8,5,p1)-P2-FC10",
]


@pytest.mark.parametrize("text", REFERENCE_MODELS + V2_MODELS)
def test_parse_then_format_gives_the_canonical_string(text):
    assert format_model(parse_model(text)) == text


def test_parse_accepts_lower_case_and_spaces_and_canonicalizes():
    assert format_model(parse_model(" c(8, 5) - p2 - fc10 ")) == "C(8,5)-P2-FC10"
    assert format_model(parse_model("c(8,3,s1,p0)-c(8,3,p1)-r(8,s1)-d.5-fc10")) == \
        "C(8,3)-C(8,3,same)-R(8)-D0.5-FC10"
    assert format_model(parse_model("C(8,3,same,s2)-FC10")) == "C(8,3,s2,same)-FC10"


def test_parse_returns_one_spec_per_token_in_order():
    assert parse_model("C(8,5)-P2-FC128-FC10") == [Conv(8, 5), Pool(2), FC(128), FC(10)]
    assert parse_model("C(16,3,s2,same)-BN-R(32,s2)-A2-D0.25-GAP-FC10") == [
        Conv(16, 3, 2, 1), BatchNorm(), Residual(32, 2), AvgPool(2), Dropout(0.25),
        GlobalAvgPool(), FC(10)]


@pytest.mark.parametrize("text", REFERENCE_MODELS)
def test_version1_strings_are_recognised_as_such(text):
    assert is_version1(parse_model(text))
    assert not is_version1(parse_model(V2_MODELS[0]))


def test_pooling_keeps_partial_windows_ceil_mode():
    # The reference project's sizes: 11 -> 6 and 3 -> 2 for P2.
    shapes = layer_shapes(parse_model(REFERENCE_MODELS[1]), (28, 28, 1))
    assert shapes[:6] == [(24, 24, 8), (12, 12, 8), (10, 10, 16), (5, 5, 16), (3, 3, 32), (2, 2, 32)]
    shapes = layer_shapes(parse_model(REFERENCE_MODELS[2]), (28, 28, 1))
    assert shapes[2] == (11, 11, 32) and shapes[3] == (6, 6, 32)


def test_shapes_of_a_resnet_lite_follow_the_one_output_size_formula():
    shapes = layer_shapes(parse_model(V2_MODELS[0]), (28, 28, 1))
    assert shapes == [(28, 28, 16), (28, 28, 16), (28, 28, 16), (14, 14, 32), (7, 7, 64),
                      (64,), (10,)]
    assert layer_shapes(parse_model("C(4,3,s2)-R(4,s2)-A2-FC10"), (9, 9, 1)) == [
        (4, 4, 4), (2, 2, 4), (1, 1, 4), (10,)]
    assert [conv_output_size(n, 3, 2, 1) for n in (28, 7, 1)] == [14, 4, 1]
    assert conv_output_size(28, 5, 1, 0) == 24 and conv_output_size(28, 4, 3, 2) == 10


@pytest.mark.parametrize("text,message", [
    ("C(8)-P2-FC10", "token 1 'C(8)' should be C(filters,kernel)"),
    ("C(8,5)-P-FC10", "token 2 'P' should be P<size>, e.g. P2"),
    ("C(8,5)-FC", "token 2 'FC' should be FC<units>, e.g. FC128"),
    ("C(0,3)-FC10", "token 1 'C(0,3)' has a zero size"),
    ("C(8,3,s0)-FC10", "token 1 'C(8,3,S0)' has a zero size or stride"),
    ("C(8,3,s2,s2)-FC10", "token 1 'C(8,3,S2,S2)' should be C(filters,kernel)"),
    ("C(8,4,same)-FC10", "'same' padding needs an odd kernel"),
    ("R(0)-FC10", "token 1 'R(0)' has a zero size"),
    ("R(8,x)-FC10", "token 1 'R(8,X)' should be R(filters) or R(filters,sS)"),
    ("C(8,3)-D1.5-FC10", "token 2 'D1.5' should be D<rate> with 0 <= rate < 1"),
    ("BN-C(8,3)-FC10", "token 1 'BN' comes first"),
    ("C(8,3)-P2-BN-FC10", "token 3 'BN' comes after 'P2'"),
    ("C(8,3)-GAP-C(8,3)-FC10", "token 3 'C(8,3)' follows 'GAP'"),
    ("X5-FC10", "token 1 'X5' should be one of C(filters,kernel), P<size>"),
    ("", "it is empty"),
    ("C(8,29)-FC10", "token 1 'C(8,29)': kernel 29 is larger than its 28 x 28 input"),
    ("C(8,5)-P2-C(8,5)-P2-C(8,5)-FC10", "token 5 'C(8,5)': kernel 5 is larger than its 4 x 4 input"),
    ("C(8,3,s2)-C(8,3,s2)-C(8,3,s2)-C(8,3,s2)-FC10", "token 4 'C(8,3,s2)': kernel 3 is larger"),
    ("C(8,5)-P2", "the last token 'P2' should be FC10"),
    ("C(8,5)-FC7", "the last token 'FC7' should be FC10"),
    ("FC64-C(8,3)-FC10", "token 2 'C(8,3)' follows 'FC64'"),
    ("C(8,5)--FC10", "token 2 '' should be one of"),
])
def test_malformed_model_string_gets_one_line_naming_the_token(text, message):
    with pytest.raises(UserError) as err:
        parse_model(text)
    text_of_error = str(err.value)
    assert text_of_error.startswith(f"invalid model string {text!r}: ")
    assert message in text_of_error
    assert "\n" not in text_of_error
