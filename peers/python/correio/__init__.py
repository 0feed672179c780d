"""Correio reference peer for Python: the v1 wire protocol of protocol/ on pyzmq and msgpack.

- ``encode`` / ``decode``: the canonical MessagePack subset (ENCODING.md sections 1-2).
- ``encode_message`` / ``decode_message``: envelopes with every check of section 3.
- ``MdpClient`` / ``MdpWorker``: MDP/0.2 through the broker (FRAMES.md section 1).
- ``Subscriber`` / ``Publisher``: pub/sub through the proxy with sequence gaps (section 3).
- ``ChatClient``: the chat service on top of both, with password logins and tokens (``Tokens``).
- ``correio.service`` (imported on its own): the microservice framework on top of all of these.
- ``correio.tasks`` (imported on its own): the durable task queue's client and worker.
"""

from .chat import CHAT_SERVICE, ChatClient
from .client import MdpClient
from .clock import LamportClock, LamportExhausted
from .codec import MAX_SAFE_INTEGER, decode, decode_sequence, encode
from .envelope import Stamp, new_node_id, new_request_id, now_ms
from .errors import RETRYABLE_CODES, CorreioError
from .generated.catalogue import ERROR_CODES, MESSAGE_INFO, MESSAGE_TYPES, PROTOCOL_REVISION, PROTOCOL_VERSION, MessageType
from .limits import DEFAULT_LIMITS, Limits
from .message import decode_message, encode_message, validate_message
from .microservice import ActionHandler, broker_service
from .publisher import Publisher
from .sequence import Gap, SequenceTracker
from .subscriber import Publication, Subscriber
from .tokens import Tokens
from .topics import channel_topic, topic, user_topic
from .worker import MdpWorker

__all__ = [
    "ActionHandler",
    "CHAT_SERVICE",
    "ChatClient",
    "CorreioError",
    "DEFAULT_LIMITS",
    "ERROR_CODES",
    "Gap",
    "LamportClock",
    "LamportExhausted",
    "Limits",
    "MAX_SAFE_INTEGER",
    "MESSAGE_INFO",
    "MESSAGE_TYPES",
    "MdpClient",
    "MdpWorker",
    "MessageType",
    "PROTOCOL_REVISION",
    "PROTOCOL_VERSION",
    "Publication",
    "Publisher",
    "RETRYABLE_CODES",
    "SequenceTracker",
    "Stamp",
    "Subscriber",
    "Tokens",
    "broker_service",
    "channel_topic",
    "decode",
    "decode_message",
    "decode_sequence",
    "encode",
    "encode_message",
    "new_node_id",
    "new_request_id",
    "now_ms",
    "topic",
    "user_topic",
    "validate_message",
]
