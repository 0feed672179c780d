"""Encoder refusals, lowered limits, and what the vectors cannot show."""

from __future__ import annotations

import msgpack
import pytest

from correio import MAX_SAFE_INTEGER, CorreioError, Limits, decode, decode_sequence, encode


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


SEQUENCE = [{"a": 1}, [1, "xyz"], "text", 0, None]
PACKED = b"".join(encode(value) for value in SEQUENCE)


def test_decode_sequence_reads_values_written_back_to_back() -> None:
    assert decode_sequence(PACKED, len(SEQUENCE)) == SEQUENCE
    one = encode({"b": [True, b"\x00"]})
    assert decode_sequence(one, 1) == [decode(one)]


@pytest.mark.parametrize(
    ("data", "count"),
    [
        (PACKED, len(SEQUENCE) + 1),
        (PACKED, len(SEQUENCE) - 1),
        (PACKED + b"\xc1", len(SEQUENCE)),
        (PACKED[:-1] + b"\xa5ab", len(SEQUENCE)),
        (b"", 1),
        (PACKED + msgpack.packb({"__proto__": 1}), len(SEQUENCE) + 1),
        (PACKED + b"\x82\xa1a\x01\xa1a\x02", len(SEQUENCE) + 1),
        (PACKED + b"\xcb" + bytes(8), len(SEQUENCE) + 1),
        (PACKED + b"\xd6\xff" + bytes(4), len(SEQUENCE) + 1),
    ],
    ids=["fewer values", "more values", "trailing garbage", "truncated last value", "empty", "__proto__", "duplicate key", "float", "timestamp extension"],
)
def test_decode_sequence_refuses_anything_but_exactly_count_values(data: bytes, count: int) -> None:
    with pytest.raises(CorreioError) as raised:
        decode_sequence(data, count)
    assert raised.value.code == "DECODE"


def test_decode_sequence_applies_max_bytes_to_the_whole_frame_and_the_limits_to_each_value() -> None:
    assert decode_sequence(PACKED, len(SEQUENCE), Limits(max_bytes=len(PACKED))) == SEQUENCE
    with pytest.raises(CorreioError) as raised:
        decode_sequence(PACKED, len(SEQUENCE), Limits(max_bytes=len(PACKED) - 1))
    assert raised.value.code == "TOO_LARGE"
    with pytest.raises(CorreioError) as raised:
        decode_sequence(PACKED + encode("x" * 10), len(SEQUENCE) + 1, Limits(max_string_bytes=9))
    assert raised.value.code == "TOO_LARGE"
    with pytest.raises(CorreioError) as raised:
        decode_sequence(PACKED + b"\x91" * 100_000 + b"\xc0", len(SEQUENCE) + 1)
    assert raised.value.code == "TOO_LARGE"
