"""Schema-valid hostile envelopes for Hypothesis: the Python side of tools/interop/src/hostile (used by
tests/test_hostile_corpus.py and the hostile_peer program).

Strategies built from the protocol's JSON Schemas (the copies the package ships), biased to the
edges: integers at their bounds and at every MessagePack format boundary, strings and arrays at
their minimum and maximum lengths (long ones repeat a short drawn run, so they cost Hypothesis few
choices), every enum value and const, optional fields all present or all absent as often as
mixed, untyped payloads nested exactly to the decoder's limit. Covers the keywords protocol/ uses;
any other raises, so a schema change cannot silently generate invalid values (the tests validate
every envelope with the peer's own validator anyway).
"""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

from hypothesis import strategies as st

from correio.codec import encode
from correio.generated.catalogue import MESSAGE_TYPES
from correio.limits import DEFAULT_LIMITS
from correio.schemas import ecma_regex

MAX_SAFE = 2**53 - 1
_EDGES = [0, 1, -1, 2, 31, 32, -32, -33, 127, 128, -128, -129, 255, 256, 32_767, 32_768, -32_768, -32_769, 65_535, 65_536]
_WIDE = [2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**32 - 1, 2**32, 2**52, MAX_SAFE - 1, MAX_SAFE, -MAX_SAFE, -MAX_SAFE + 1]
_AWKWARD = ["\x00", "\x07", "\n", "\r", "\u202e", "\u200b", "\ufeff", "\uffff", "😀", "𝕏", "/", "\\", "%", '"', "'", ".", " "]
_CLASS_REPEAT = re.compile(r"^\^(\[(?:\\.|[^\]\\])+\])\{(\d+),(\d+)\}\$$")
#: Code points drawn one by one; longer strings and lists repeat a drawn run.
_TILE = 16
_UNBOUNDED = 32


def _schemas() -> dict[str, dict[str, Any]]:
    folder = resources.files("correio").joinpath("generated", "schemas")
    return {entry.name: json.loads(entry.read_text(encoding="utf-8")) for entry in folder.iterdir() if entry.name.endswith(".json")}


def boundary_integers(low: int = -MAX_SAFE, high: int = MAX_SAFE) -> st.SearchStrategy[int]:
    edges = sorted({value for value in [low, low + 1, high - 1, high, *_EDGES, *_WIDE] if low <= value <= high})
    return st.one_of(st.sampled_from([low, high]), st.sampled_from(edges), st.integers(low, high), st.integers(low, min(high, low + 1000)))


def _length(low: int, high: int) -> st.SearchStrategy[int]:
    return st.one_of(st.just(high), st.just(low), st.integers(low, high))


def _tiled(unit: st.SearchStrategy[str], length: int) -> st.SearchStrategy[str]:
    if length <= _TILE:
        return st.lists(unit, min_size=length, max_size=length).map("".join)
    return st.lists(unit, min_size=1, max_size=_TILE).map(lambda run: "".join(run[i % len(run)] for i in range(length)))


def any_value(levels: int) -> st.SearchStrategy[Any]:
    """Any v1 value nesting at most ``levels`` lists/maps deep, and as often a chain exactly that deep."""
    leaf = st.one_of(st.none(), st.booleans(), boundary_integers(), st.text(max_size=32), st.binary(max_size=32))
    if levels <= 0:
        return leaf
    keys = st.text(max_size=12).filter(lambda key: key != "__proto__")
    tree = st.recursive(leaf, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4), max_leaves=12)

    def chain(inner: Any) -> Any:
        for level in range(levels):
            inner = {"k": inner} if level % 2 else [inner]
        return inner

    depth_bounded = tree.filter(lambda value: depth_of(value) <= levels)
    return st.one_of(depth_bounded, leaf.map(chain))


def depth_of(value: Any) -> int:
    """How many lists/maps deep a value nests."""
    if isinstance(value, list):
        return 1 + max((depth_of(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth_of(item) for item in value.values()), default=0)
    return 0


class SchemaStrategies:
    """Hypothesis strategies for protocol/schemas/v1, by file, at a nesting depth."""

    def __init__(self, pools: dict[str, list[Any]] | None = None) -> None:
        self._documents = _schemas()
        self._pools = pools or {}

    def of(self, file: str, depth: int) -> st.SearchStrategy[Any]:
        return self._build(self._documents[file], file, depth)

    def definition(self, name: str, depth: int) -> st.SearchStrategy[Any]:
        return self._reference(f"defs.json#/$defs/{name}", "defs.json", depth)

    def _build(self, node: dict[str, Any], file: str, depth: int) -> st.SearchStrategy[Any]:
        if "$ref" in node:
            return self._reference(node["$ref"], file, depth)
        if "const" in node:
            return st.just(node["const"])
        if "enum" in node:
            return st.sampled_from(node["enum"])
        if "oneOf" in node:
            return st.one_of(*(self._build(branch, file, depth) for branch in node["oneOf"]))
        kind = node.get("type")
        if kind == "integer":
            return boundary_integers(node.get("minimum", -MAX_SAFE), node.get("maximum", MAX_SAFE))
        if kind == "boolean":
            return st.booleans()
        if kind == "string":
            return self._string(node)
        if kind == "array":
            return self._array(node, file, depth)
        if kind == "object":
            return self._object(node, file, depth)
        if kind is None:
            return any_value(DEFAULT_LIMITS.max_depth - depth)
        raise ValueError(f"{file}: the hostile corpus does not generate type {kind!r}")

    def _reference(self, ref: str, file: str, depth: int) -> st.SearchStrategy[Any]:
        target, _, pointer = ref.partition("#")
        target_file = target or file
        node: Any = self._documents[target_file]
        for part in filter(None, pointer.split("/")):
            node = node[part]
        generated = self._build(node, target_file, depth)
        pool = self._pools.get(pointer.rsplit("/", 1)[-1])
        return st.one_of(st.sampled_from(pool), generated) if pool else generated

    def _string(self, node: dict[str, Any]) -> st.SearchStrategy[str]:
        low, high = node.get("minLength", 0), node.get("maxLength", 256)
        pattern = node.get("pattern")
        if pattern is None:
            unit = st.one_of(st.sampled_from(_AWKWARD), st.characters(exclude_categories=["Cs"]))
            return _length(low, high).flatmap(lambda length: _tiled(unit, length))
        simple = _CLASS_REPEAT.match(pattern)
        if simple:
            chars = [chr(code) for code in range(128) if re.fullmatch(simple.group(1), chr(code))]
            lo, hi = max(low, int(simple.group(2))), min(high, int(simple.group(3)))
            return _length(lo, hi).flatmap(lambda length: _tiled(st.sampled_from(chars), length))
        regex = ecma_regex(pattern)
        return st.from_regex(regex, fullmatch=True).filter(lambda value: low <= len(value) <= high)

    def _array(self, node: dict[str, Any], file: str, depth: int) -> st.SearchStrategy[list[Any]]:
        if "prefixItems" in node:
            return st.tuples(*(self._build(item, file, depth + 1) for item in node["prefixItems"])).map(list)
        item = self._build(node["items"], file, depth + 1)
        # 500 items of 16 KB cannot be sent: the longest list is the most of the largest items that fit.
        fitting = int(DEFAULT_LIMITS.max_bytes // self._largest(node["items"], file))
        low = node.get("minItems", 0)
        high = max(low, min(node.get("maxItems", _UNBOUNDED), fitting))

        def tiled(length: int) -> st.SearchStrategy[list[Any]]:
            if length <= _TILE:
                return st.lists(item, min_size=length, max_size=length)
            return st.lists(item, min_size=1, max_size=_TILE).map(lambda run: [run[i % len(run)] for i in range(length)])

        return _length(low, high).flatmap(tiled)

    def _largest(self, node: dict[str, Any], file: str) -> float:
        """The most bytes a value of the schema encodes to (infinite for untyped values and free-form maps)."""
        if "$ref" in node:
            target, _, pointer = node["$ref"].partition("#")
            resolved: Any = self._documents[target or file]
            for part in filter(None, pointer.split("/")):
                resolved = resolved[part]
            return self._largest(resolved, target or file)
        if "const" in node or "enum" in node:
            return len(json.dumps(node.get("const", node.get("enum")))) + 5
        if "oneOf" in node:
            return max(self._largest(branch, file) for branch in node["oneOf"])
        kind = node.get("type")
        if kind in ("integer", "boolean"):
            return 9
        if kind == "string":  # up to 4 UTF-8 bytes a code point, and the length prefix
            return 4 * node.get("maxLength", 256) + 5
        if kind == "array" and "prefixItems" in node:
            return 5 + sum(self._largest(item, file) for item in node["prefixItems"])
        if kind == "array":
            return 5 + node.get("maxItems", _UNBOUNDED) * self._largest(node["items"], file)
        if kind == "object" and "patternProperties" not in node and not isinstance(node.get("additionalProperties"), dict):
            return 5 + sum(64 + self._largest(value, file) for value in node.get("properties", {}).values())
        return float("inf")

    def _object(self, node: dict[str, Any], file: str, depth: int) -> st.SearchStrategy[dict[str, Any]]:
        properties = node.get("properties", {})
        required = list(node.get("required", []))
        optional = [key for key in properties if key not in required]
        fields = {key: self._build(value, file, depth + 1) for key, value in properties.items()}
        present = st.one_of(st.just(optional), st.just([]), st.lists(st.sampled_from(optional), unique=True) if optional else st.just([]))
        fixed = present.flatmap(lambda keys: st.fixed_dictionaries({key: fields[key] for key in [*required, *keys]}))
        extra = self._extra(node, file, depth)
        if extra is None:
            return fixed
        return st.tuples(fixed, extra).map(lambda pair: {**pair[1], **pair[0]})

    def _extra(self, node: dict[str, Any], file: str, depth: int) -> st.SearchStrategy[dict[str, Any]] | None:
        if "patternProperties" in node:
            [(pattern, value)] = node["patternProperties"].items()
            keys, values = self._string({"type": "string", "pattern": pattern}), self._build(value, file, depth + 1)
        elif isinstance(node.get("additionalProperties"), dict):
            # Names may be a $ref or an enum (a task queue, a task state): built like any other value.
            names = node.get("propertyNames")
            keys = self._string({"type": "string", "maxLength": 64}) if names is None else self._build(names, file, depth + 1)
            values = self._build(node["additionalProperties"], file, depth + 1)
        else:
            return None
        high = node.get("maxProperties", _UNBOUNDED)
        safe_keys = keys.filter(lambda key: key != "__proto__")
        return _length(0, min(high, 64)).flatmap(lambda count: st.dictionaries(safe_keys, values, min_size=count, max_size=count))


def envelopes(strategies: SchemaStrategies, message_type: str | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """Envelopes of one type (any when None), shortened to fit the 1 MiB message limit."""
    types = st.just(message_type) if message_type else st.sampled_from(MESSAGE_TYPES)

    def of_type(chosen: str) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries(
            {
                "v": st.just(1),
                "type": st.just(chosen),
                "id": strategies.definition("requestId", 1),
                "from": strategies.definition("nodeId", 1),
                "lc": strategies.definition("lamport", 1),
                "ts": strategies.definition("timestamp", 1),
                "body": strategies.of(f"{chosen}.json", 1),
            }
        ).map(_fit)

    return types.flatmap(of_type)


def _fit(envelope: dict[str, Any]) -> dict[str, Any]:
    """Halves the longest list until the envelope encodes within the size limit (every list schema allows one item)."""
    for _ in range(64):
        if len(encode(envelope)) <= DEFAULT_LIMITS.max_bytes:
            return envelope
        longest = max(_lists(envelope["body"]), key=lambda items: len(encode(items)), default=None)
        if longest is None or len(longest) <= 1:
            break
        del longest[(len(longest) + 1) // 2 :]
    raise ValueError(f"cannot fit a {envelope['type']} envelope within {DEFAULT_LIMITS.max_bytes} bytes")


def _lists(value: Any) -> list[list[Any]]:
    found: list[list[Any]] = []
    if isinstance(value, list):
        found.append(value)
        for item in value:
            found.extend(_lists(item))
    elif isinstance(value, dict):
        for item in value.values():
            found.extend(_lists(item))
    return found
