"""The full protocol/vectors/v1 suite: exact encoder bytes, decoder equality, rejections by code."""

from __future__ import annotations

from typing import Any

import pytest

from correio import CorreioError, decode, decode_message, encode, encode_message

from .vectors import VECTORS, cases, from_json, same, vector_files


def test_the_vectors_are_there() -> None:
    assert (VECTORS / "codec.json").is_file(), f"no vectors under {VECTORS}"
    assert len(vector_files()) > 40


def _encoder(kind: str):
    return encode if kind == "codec" else encode_message


def _decoder(kind: str):
    return decode if kind == "codec" else decode_message


@pytest.mark.parametrize(("kind", "case"), cases("valid"))
def test_valid(kind: str, case: dict[str, Any]) -> None:
    value = from_json(case["value"])
    assert _encoder(kind)(value).hex() == case["msgpack_hex"]
    assert same(_decoder(kind)(bytes.fromhex(case["msgpack_hex"])), value)


@pytest.mark.parametrize(("kind", "case"), cases("decode_only"))
def test_decode_only(kind: str, case: dict[str, Any]) -> None:
    assert same(_decoder(kind)(bytes.fromhex(case["msgpack_hex"])), from_json(case["value"]))


@pytest.mark.parametrize(("kind", "case"), cases("invalid"))
def test_invalid(kind: str, case: dict[str, Any]) -> None:
    data = bytes.fromhex(case["msgpack_hex"]) if "msgpack_hex" in case else encode(from_json(case["value"]))
    with pytest.raises(CorreioError) as raised:
        _decoder(kind)(data)
    assert raised.value.code == case["error"], str(raised.value)
