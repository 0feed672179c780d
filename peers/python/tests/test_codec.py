"""Encoder refusals, lowered limits, and what the vectors cannot show."""

from __future__ import annotations

import pytest

from correio import MAX_SAFE_INTEGER, CorreioError, Limits, decode, encode


@pytest.mark.parametrize(
    "value",
    [1.5, float("nan"), MAX_SAFE_INTEGER + 1, -MAX_SAFE_INTEGER - 1, {1: "x"}, {"__proto__": {}}, "\ud800", object(), {"a": [2.0]}],
    ids=["float", "nan", "2^53", "-2^53", "int key", "__proto__", "lone surrogate", "object", "nested float"],
)
def test_encode_refuses_what_v1_cannot_carry(value: object) -> None:
    with pytest.raises(CorreioError) as raised:
        encode(value)
    assert raised.value.code == "VALIDATION"


def test_encode_names_the_offending_path() -> None:
    with pytest.raises(CorreioError) as raised:
        encode({"a": {"b/c": [0, 1.0]}})
    assert raised.value.data == {"path": "/a/b~1c/1"}


def test_encode_sorts_keys_by_code_point_at_every_depth() -> None:
    value = {"b": 1, "a": {"é": 1, "z": 2, "A": 3}, "\U0001f600": 0, "\uffff": 0}
    encoded = encode(value)
    # keys of the inner map: "A" < "z" < "é"; outer: "a" < "b" < U+FFFF < U+1F600
    assert encoded.hex() == "84a16183a14103a17a02a2c3a901a16201a3efbfbf00a4f09f988000"
    assert decode(encoded) == value


def test_encode_refuses_nesting_past_the_depth_limit() -> None:
    value: list = []
    for _ in range(32):
        value = [value]
    with pytest.raises(CorreioError):
        encode(value)


def test_total_size_limit_can_be_lowered() -> None:
    data = encode("x" * 100)
    assert decode(data, Limits(max_bytes=len(data))) == "x" * 100
    with pytest.raises(CorreioError) as raised:
        decode(data, Limits(max_bytes=len(data) - 1))
    assert raised.value.code == "TOO_LARGE"


@pytest.mark.parametrize(
    ("limits", "value"),
    [
        (Limits(max_string_bytes=3), "ééé"[:2]),
        (Limits(max_bin_bytes=2), b"abc"),
        (Limits(max_array_length=2), [1, 2, 3]),
        (Limits(max_map_size=1), {"a": 1, "b": 2}),
        (Limits(max_depth=2), [[[]]]),
    ],
    ids=["string bytes", "binary", "array", "map", "depth"],
)
def test_each_limit_is_too_large(limits: Limits, value: object) -> None:
    with pytest.raises(CorreioError) as raised:
        decode(encode(value), limits)
    assert raised.value.code == "TOO_LARGE"


def test_deep_nesting_fails_typed_not_with_a_crash() -> None:
    with pytest.raises(CorreioError) as raised:
        decode(b"\x91" * 100_000 + b"\xc0")
    assert raised.value.code == "TOO_LARGE"


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Limits(max_depth=0)
