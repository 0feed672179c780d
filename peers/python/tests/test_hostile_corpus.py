"""Schema-valid hostile envelopes (tests/hostile.py) through the Python peer's codec and validation.

Every generated envelope passes the peer's own validator (the generator is checked, not trusted),
encodes canonically within the limits, and decodes back to the same value; the peer's Lamport
clock merges its lc within the bounds of ENCODING.md section 4.1, and never past 2^53 - 1. Fixed
seed (derandomize) so CI runs the same corpus every time.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from correio.clock import LamportClock
from correio.codec import encode
from correio.generated.catalogue import MESSAGE_TYPES
from correio.limits import DEFAULT_LIMITS
from correio.message import decode_message, encode_message, validate_message
from interop.hostile import MAX_SAFE, SchemaStrategies, depth_of, envelopes

STRATEGIES = SchemaStrategies(pools={"nodeId": ["srv-1", "srv-2", "ref"], "userName": ["mallory"], "channelName": ["mallet"]})
HOSTILE = settings(
    derandomize=True,
    max_examples=5,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
#: Searching for one edge: the first example that reaches it (no shrinking), among up to 500.
EDGE_SEARCH = settings(HOSTILE, max_examples=500, phases=[Phase.generate])


@pytest.mark.parametrize("message_type", MESSAGE_TYPES)
def test_every_envelope_is_valid_and_round_trips(message_type: str) -> None:
    @HOSTILE
    @given(envelopes(STRATEGIES, message_type))
    def check(envelope: dict[str, Any]) -> None:
        validate_message(envelope)
        data = encode_message(envelope)
        assert len(data) <= DEFAULT_LIMITS.max_bytes
        assert data == encode(envelope)
        assert decode_message(data) == _as_decoded(envelope)

    check()


@HOSTILE
@given(st.lists(envelopes(STRATEGIES), min_size=1, max_size=20))
def test_the_lamport_clock_stays_bounded_and_integral_whatever_it_receives(received: list[dict[str, Any]]) -> None:
    clock = LamportClock()
    for envelope in received:
        before = clock.value
        clamped = clock.observe(envelope["lc"], request=True)  # served either way; clamped: merged only up to the bound
        if not clamped:
            assert clock.value == max(envelope["lc"], before) + 1  # Lamport's rule within the bounds
        assert isinstance(clock.value, int) and before < clock.value <= MAX_SAFE - 2**32 + len(received)
    assert clock.tick() <= MAX_SAFE


EDGES = {
    "lc 0": ("service.call.request", lambda envelope: envelope["lc"] == 0),
    "lc 2^53 - 1": ("service.call.request", lambda envelope: envelope["lc"] == MAX_SAFE),
    "the codec's nesting limit": ("service.call.request", lambda envelope: depth_of(envelope) == DEFAULT_LIMITS.max_depth),
    "a 1-character text": ("chat.publish.request", lambda envelope: len(envelope["body"]["text"]) == 1),
    "a 4,000-character text": ("chat.publish.request", lambda envelope: len(envelope["body"]["text"]) == 4000),
}


# find() describes the example it found; these are large by design.
@pytest.mark.filterwarnings("ignore:Generating overly large repr")
@pytest.mark.parametrize("what", EDGES)
def test_the_corpus_reaches_the_edges(what: str) -> None:
    """Each edge is searched for (a fixed seed, no shrinking), not hoped for in a sample: the
    generator must be able to produce it within a few hundred examples."""
    message_type, reached = EDGES[what]
    assert reached(find(envelopes(STRATEGIES, message_type), reached, settings=EDGE_SEARCH))


def _as_decoded(value: Any) -> Any:
    """What the decoder gives back: tuples as lists."""
    if isinstance(value, (list, tuple)):
        return [_as_decoded(item) for item in value]
    if isinstance(value, dict):
        return {key: _as_decoded(item) for key, item in value.items()}
    return value

