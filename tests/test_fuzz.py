"""Fuzz tests (issue 10): random model strings and random weights files either work or give
one :class:`UserError` line; nothing else is ever raised, nothing huge is allocated. Fixed
seed (``derandomize``) and a bounded number of examples, so the run is the same every time."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from conftest import v1_weights
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnn.errors import UserError
from cnn.io.weights import load_model
from cnn.nn.model import Sequential
from cnn.nn.model_string import (
    MAX_PARAMETERS,
    count_parameters,
    format_model,
    parse_model,
)

FUZZ = settings(derandomize=True, max_examples=300, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

TOKEN = st.one_of(
    st.builds(lambda f, k: f"C({f},{k})", st.integers(0, 10**12), st.integers(0, 40)),
    st.builds(lambda k: f"P{k}", st.integers(0, 40)),
    st.builds(lambda n: f"FC{n}", st.integers(0, 10**15)),
    st.text(alphabet="CPF()0123456789,-８５١ xX\t", max_size=12),
)
MODEL_STRINGS = st.one_of(
    st.lists(TOKEN, min_size=0, max_size=8).map("-".join),
    st.text(max_size=60),
)


def check_error_line(error: UserError, text: str) -> None:
    message = str(error)
    assert "\n" not in message
    assert message.startswith("invalid model string ")
    assert len(message) < 600 or len(text) > 100


@FUZZ
@given(MODEL_STRINGS)
def test_any_model_string_parses_or_gives_one_line(text):
    try:
        specs = parse_model(text)
    except UserError as e:
        check_error_line(e, text)
        return
    assert format_model(parse_model(format_model(specs))) == format_model(specs)
    assert sum(count_parameters(specs, (28, 28, 1))) <= MAX_PARAMETERS
    assert all(ch.isascii() for ch in format_model(specs))


def npz_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buffer.getvalue()


def npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


TINY = "C(4,5)-P2-FC10"
VALID = v1_weights(Sequential(TINY, np.random.default_rng(0)))
DTYPES = st.sampled_from(["<f4", "<f8", "<f2", "<i4", "|u1", "<c8", "|b1", "<U3", "|S3", "|V4",
                          "<M8[s]"])
SHAPES = st.lists(st.integers(0, 12), min_size=0, max_size=4).map(tuple)


@st.composite
def weights_files(draw) -> bytes:
    """A weights file: mostly valid members, some replaced, added or corrupted at random."""
    members = {f"{k}.npy": npy(v) for k, v in VALID.items()}
    def rarely() -> bool:  # about one example in five
        return draw(st.integers(0, 4)) == 0

    members["model.npy"] = npy(np.array(TINY if not rarely() else draw(st.sampled_from(
        ["C(4,5)-FC10", "", "FC10", "C(８,５)-FC10"]))))
    members["format_version.npy"] = npy(np.array(1) if not rarely() else draw(st.sampled_from(
        [np.array(0), np.array(7), np.array(1.0), np.array("1"), np.array([1])])))
    members["metadata.npy"] = npy(np.array(draw(st.sampled_from(
        ["{}", '{"accuracy": 0.9}', '{"accuracy": "high"}', '{"accuracy": NaN}']))
        if not rarely() else draw(st.sampled_from(
            ["[]", "{", "null", "[" * 5000 + "]" * 5000,
             json.dumps({"a": {"b": [1, 2, {"c": None}]}})]))))
    for _ in range(draw(st.integers(0, 3)) if rarely() else 0):
        key = draw(st.sampled_from(list(VALID) + ["extra", "notes"]))
        dtype = np.dtype(draw(DTYPES))
        shape = draw(st.one_of(st.just(VALID.get(key, np.zeros(1)).shape), SHAPES))
        value = np.zeros(shape, dtype)
        if dtype.kind == "f" and value.size and draw(st.booleans()):
            value.flat[0] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        members[f"{key}.npy"] = npy(value)
    if rarely():
        name = draw(st.sampled_from(list(members)))
        data = bytearray(members[name])
        for _ in range(draw(st.integers(1, 8))):
            if data:
                data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        members[name] = bytes(data)
    if rarely():
        members["readme.txt"] = b"not an array"
    blob = npz_bytes(members)
    if rarely():
        cut = draw(st.integers(0, len(blob)))
        blob = blob[:cut]
    return blob


@FUZZ
@given(weights_files())
def test_any_weights_file_loads_finite_or_gives_one_line(tmp_path_factory, blob):
    path = tmp_path_factory.mktemp("fuzz") / "w.npz"
    path.write_bytes(blob)
    try:
        model = load_model(path)
    except UserError as e:
        assert "\n" not in str(e) and str(path) in str(e)
        return
    for key, value in model.state_dict().items():
        assert np.isfinite(value).all() and value.dtype == np.float32, key
    assert isinstance(model.metadata, dict)
    assert path.read_bytes() == blob


@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes_as_a_weights_file_give_one_line(tmp_path_factory, blob):
    path = tmp_path_factory.mktemp("bytes") / "weight_detailsC(4,5)-P2-FC10.npz"
    path.write_bytes(blob)
    with pytest.raises(UserError):
        load_model(path)
