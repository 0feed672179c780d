"""Envelope checks and schema details beyond the vectors."""

from __future__ import annotations

import pytest

from correio import CorreioError, LamportClock, LamportExhausted, Stamp, decode_message, encode_message, new_request_id
from correio.clock import MAX_MERGED_LAMPORT
from correio.schemas import ecma_regex


def login(stamp: Stamp, user: str = "alice") -> dict:
    return stamp.envelope("chat.login.request", {"user": user})


def test_a_stamped_envelope_round_trips() -> None:
    stamp = Stamp("py-test", now=lambda: 1_700_000_000_123)
    envelope = login(stamp)
    assert envelope["lc"] == 1 and envelope["ts"] == 1_700_000_000_123 and envelope["from"] == "py-test"
    assert decode_message(encode_message(envelope)) == envelope


def test_the_frames_md_login_example_is_byte_exact() -> None:
    envelope = {"body": {"user": "alice"}, "from": "cli-7f3a", "id": "q7Xc2mPz0kR4bT9wLs1aYg", "lc": 3, "ts": 1700000000123, "type": "chat.login.request", "v": 1}
    encoded = encode_message(envelope)
    assert len(encoded) == 101
    assert encoded.hex().startswith("87a4626f647981a475736572a5616c696365a466726f6da8636c692d37663361")


def test_validation_names_the_field_as_a_json_pointer() -> None:
    envelope = login(Stamp("py-test"), user="not a user name")
    with pytest.raises(CorreioError) as raised:
        encode_message(envelope)
    assert raised.value.code == "VALIDATION"
    assert raised.value.data == {"path": "/body/user"}


def test_a_trailing_newline_does_not_match_an_ecma_pattern() -> None:
    # Python's `$` matches before a final newline; ECMA-262's does not.
    assert ecma_regex("^[a-z]{1,3}$").search("abc")
    assert not ecma_regex("^[a-z]{1,3}$").search("abc\n")
    assert ecma_regex("^[$]x$").search("$x")
    with pytest.raises(CorreioError):
        encode_message(login(Stamp("py-test"), user="alice\n"))


def test_request_ids_are_22_url_safe_characters() -> None:
    ids = {new_request_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 22 and set(i) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") for i in ids)


def test_lamport_clock_ticks_and_merges() -> None:
    clock = LamportClock()
    assert clock.tick() == 1
    clock.observe(10)
    assert clock.value == 11 and clock.tick() == 12
    clock.observe(3)  # a receive is an event: max(12, 3) + 1
    assert clock.tick() == 14


def test_lamport_clock_follows_the_protocol_bounds() -> None:
    now = [0.0]
    clock = LamportClock(free_jump=10, max_jump=1_000, refill_per_second=100, monotonic=lambda: now[0])
    hostile = 2**53 - 2
    assert clock.observe(hostile, request=True)
    assert clock.value == 1_001 and (clock.clamped, clock.clamped_requests) == (1, 1)  # the whole budget, no more
    assert clock.observe(hostile)
    assert clock.value == 1_012 and (clock.clamped, clock.clamped_requests) == (2, 1)  # the budget is spent: the free jump only
    now[0] += 1.0
    assert not clock.observe(1_012 + 100, request=True)  # refilled 100: within the bounds again, merged in full
    assert clock.value == 1_113 and clock.clamped == 2
    for junk in (-1, 2**53, "7", None, True):
        clock.observe(junk)  # not a clock value: ignored, never raises
    assert clock.value == 1_113


def test_a_lamport_clock_never_merges_into_its_last_2_to_the_32_values_and_degrades_at_the_ceiling() -> None:
    clock = LamportClock(MAX_MERGED_LAMPORT - 5)
    clock.observe(2**53 - 1)
    assert clock.value == MAX_MERGED_LAMPORT + 1
    exhausted = LamportClock(2**53 - 1)
    with pytest.raises(LamportExhausted):
        exhausted.tick()
    stamp = Stamp("py-full", clock=exhausted)
    error = stamp.error("abc", CorreioError("INTERNAL", "x"))  # the error path still stamps, with the last value
    assert error["lc"] == 2**53 - 1 and error["type"] == "error"


def test_error_round_trips_through_the_wire() -> None:
    error = CorreioError("NOT_FOUND", "no channel x", data={"channel": "x"})
    envelope = Stamp("py-test").error("abc", error)
    back = CorreioError.from_wire(decode_message(encode_message(envelope))["body"])
    assert (back.code, back.message, back.retryable, back.data) == ("NOT_FOUND", "no channel x", False, {"channel": "x"})
    assert CorreioError("UNAVAILABLE", "x").retryable
