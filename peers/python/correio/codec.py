"""The canonical MessagePack subset of ENCODING.md: a canonical encoder and a strict decoder.

msgpack-python already writes the shortest format for every integer, string, binary, array and
map header; what canonical form adds is key order, which ``encode`` gets by rebuilding every dict
with its keys sorted (Python's ``sorted`` on ``str`` is code point order, the same as UTF-8 byte
order). The decoder lets msgpack parse, rejects duplicate and non-string keys in
``object_pairs_hook`` while it parses, and then walks the result once for what msgpack cannot be
told to refuse: floats, extensions, integers beyond +-(2^53-1), and the size and depth limits.
``decode_sequence`` does the same for values written back to back (a pub/sub bodies frame).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import msgpack

from .errors import CorreioError
from .limits import DEFAULT_LIMITS, Limits

#: The largest integer magnitude v1 carries: 2^53 - 1, what a JavaScript number holds exactly.
MAX_SAFE_INTEGER = 2**53 - 1

_FORBIDDEN_KEY = "__proto__"


def encode(value: Any, *, max_depth: int = DEFAULT_LIMITS.max_depth) -> bytes:
    """Encodes one v1 value canonically. Raises VALIDATION for a value v1 cannot carry.

    None, bool, int, str, bytes, list/tuple and dict with str keys are the value model; a dict
    entry whose value is ``None`` is written as nil (omit absent fields yourself).
    """
    return msgpack.packb(_canonical(value, 0, max_depth, ""), use_bin_type=True)


def _canonical(value: Any, depth: int, max_depth: int, path: str) -> Any:
    if value is None or isinstance(value, (bool, str, bytes)):
        if isinstance(value, str):
            _require_utf8(value, path)
        return value
    if isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise _invalid(path, f"{value} is outside +-(2^53-1)")
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, (list, tuple, dict)) and depth >= max_depth:
        raise _invalid(path, f"nesting deeper than {max_depth}")
    if isinstance(value, (list, tuple)):
        return [_canonical(item, depth + 1, max_depth, f"{path}/{i}") for i, item in enumerate(value)]
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key in sorted(value, key=_key_order(path)):
            if key == _FORBIDDEN_KEY:
                raise _invalid(path, "the key __proto__ is not allowed")
            _require_utf8(key, path)
            out[key] = _canonical(value[key], depth + 1, max_depth, f"{path}/{_escape(key)}")
        return out
    if isinstance(value, float):
        raise _invalid(path, f"{value!r} is a float; v1 carries integers only")
    raise _invalid(path, f"a {type(value).__name__} has no v1 encoding")


def _key_order(path: str):
    def order(key: Any) -> str:
        if not isinstance(key, str):
            raise _invalid(path, f"map key {key!r} is not a string")
        return key

    return order


def _require_utf8(text: str, path: str) -> None:
    # A str may hold lone surrogates, which have no UTF-8 form.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise _invalid(path, "a string with a lone surrogate has no UTF-8 form") from error


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _invalid(path: str, reason: str) -> CorreioError:
    return CorreioError("VALIDATION", f"{path or '/'}: {reason}", data={"path": path})


class _Rejected(Exception):
    """Raised from inside msgpack's hooks; carries the CorreioError to surface."""

    def __init__(self, error: CorreioError) -> None:
        super().__init__(str(error))
        self.error = error


def decode(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Decodes exactly one value; raises CorreioError DECODE or TOO_LARGE (ENCODING.md 1-2)."""
    _check_size(data, limits)
    if not data:
        raise CorreioError("DECODE", "no bytes: expected one MessagePack value")
    with _decode_errors(limits):
        value = msgpack.unpackb(data, **_unpack_options(limits, len(data)))
    _check(value, limits, 0)
    return value


def decode_sequence(data: bytes, count: int, limits: Limits = DEFAULT_LIMITS) -> list[Any]:
    """Decodes exactly ``count`` values written back to back, as a pub/sub bodies frame holds them.

    Each value gets every check of ``decode``; ``limits.max_bytes`` applies to the whole of
    ``data``. Raises CorreioError TOO_LARGE, or DECODE when the bytes are not exactly ``count``
    complete values (fewer, a truncated last one, or bytes left over).
    """
    _check_size(data, limits, "frame")
    unpacker = msgpack.Unpacker(max_buffer_size=max(len(data), 1), **_unpack_options(limits, len(data)))
    unpacker.feed(data)
    values: list[Any] = []
    with _decode_errors(limits):
        for index in range(count):
            try:
                value = unpacker.unpack()
            except msgpack.OutOfData:
                # Not a ValueError: a streaming Unpacker would wait for more bytes, but the frame is all there is.
                if unpacker.tell() == len(data):
                    raise CorreioError("DECODE", f"the frame holds {index} MessagePack values, not {count}") from None
                raise CorreioError("DECODE", f"MessagePack value {index + 1} of {count} is truncated") from None
            _check(value, limits, 0)
            values.append(value)
    left = len(data) - unpacker.tell()
    if left:
        raise CorreioError("DECODE", f"{left} bytes left over after the {count} expected MessagePack values (more values, or garbage)")
    return values


def _check_size(data: bytes, limits: Limits, what: str = "message") -> None:
    if len(data) > limits.max_bytes:
        raise CorreioError("TOO_LARGE", f"{what} of {len(data)} bytes exceeds the limit of {limits.max_bytes}")


def _unpack_options(limits: Limits, size: int) -> dict[str, Any]:
    """msgpack's options for ``size`` bytes of input, with hooks that refuse what v1 does not carry."""

    def pairs(entries: list[tuple[Any, Any]]) -> dict[str, Any]:
        if len(entries) > limits.max_map_size:
            raise _Rejected(CorreioError("TOO_LARGE", f"map of {len(entries)} entries exceeds the limit of {limits.max_map_size}"))
        out: dict[str, Any] = {}
        for key, item in entries:
            if not isinstance(key, str):
                raise _Rejected(CorreioError("DECODE", f"map key {key!r} is not a string"))
            if key == _FORBIDDEN_KEY:
                raise _Rejected(CorreioError("DECODE", "the map key __proto__ is not allowed"))
            if key in out:
                raise _Rejected(CorreioError("DECODE", f"duplicate map key {key!r}"))
            out[key] = item
        return out

    def reject_ext(code: int, _payload: bytes) -> Any:
        raise _Rejected(CorreioError("DECODE", f"extension type {code} is not part of v1"))

    return {
        "raw": False,  # strings must be valid UTF-8 (Python's codec refuses overlongs and surrogates)
        "strict_map_key": False,  # key types are checked in `pairs`, with a protocol error
        "object_pairs_hook": pairs,
        "ext_hook": reject_ext,
        "use_list": True,
        # A length prefix can never exceed the input; the real limits are checked by _check,
        # so that a prefix longer than the remaining bytes is DECODE, not TOO_LARGE.
        "max_str_len": size,
        "max_bin_len": size,
        "max_array_len": size,
        "max_map_len": size,
        "max_ext_len": size,
    }


@contextmanager
def _decode_errors(limits: Limits) -> Iterator[None]:
    """Turns what msgpack and the hooks raise into CorreioError."""
    try:
        yield
    except _Rejected as rejected:
        raise rejected.error from None
    except msgpack.StackError as error:
        raise CorreioError("TOO_LARGE", f"nesting deeper than {limits.max_depth}") from error
    except (ValueError, TypeError, msgpack.FormatError) as error:
        # ExtraData, incomplete input, 0xc1, invalid UTF-8, a prefix past the end.
        raise CorreioError("DECODE", f"not canonical-subset MessagePack: {error or type(error).__name__}") from error


def _check(value: Any, limits: Limits, depth: int) -> None:
    """Walks a decoded value in order and applies what msgpack did not (see the module doc)."""
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise CorreioError("DECODE", f"integer {value} is outside +-(2^53-1)")
        return
    if isinstance(value, str):
        # At most 4 bytes per code point: only long strings need measuring.
        if len(value) * 4 > limits.max_string_bytes and len(value.encode("utf-8")) > limits.max_string_bytes:
            raise CorreioError("TOO_LARGE", f"string exceeds the limit of {limits.max_string_bytes} bytes")
        return
    if isinstance(value, bytes):
        if len(value) > limits.max_bin_bytes:
            raise CorreioError("TOO_LARGE", f"binary of {len(value)} bytes exceeds the limit of {limits.max_bin_bytes}")
        return
    if isinstance(value, (list, dict)):
        if depth >= limits.max_depth:
            raise CorreioError("TOO_LARGE", f"nesting deeper than {limits.max_depth}")
        if isinstance(value, list):
            if len(value) > limits.max_array_length:
                raise CorreioError("TOO_LARGE", f"array of {len(value)} items exceeds the limit of {limits.max_array_length}")
            for item in value:
                _check(item, limits, depth + 1)
        else:
            for item in value.values():
                _check(item, limits, depth + 1)
        return
    if isinstance(value, float):
        raise CorreioError("DECODE", "a float is not part of v1")
    # msgpack.Timestamp (extension -1) and anything else msgpack may produce.
    raise CorreioError("DECODE", f"a {type(value).__name__} is not part of v1")
