"""Loading protocol/vectors/v1 (see protocol/vectors/README.md) as pytest parameters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

VECTORS = Path(__file__).resolve().parents[3] / "protocol" / "vectors" / "v1"


def from_json(value: Any) -> Any:
    """A vector value: ``{"$bin": hex}`` is binary, everything else is plain JSON."""
    if isinstance(value, dict):
        if list(value) == ["$bin"]:
            return bytes.fromhex(value["$bin"])
        return {key: from_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [from_json(item) for item in value]
    return value


def same(left: Any, right: Any) -> bool:
    """Deep equality that also tells True from 1 and str from bytes (Python's == does not)."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(same(left[key], right[key]) for key in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right))
    return left == right


def vector_files() -> list[Path]:
    return [VECTORS / "codec.json", VECTORS / "envelope.json", *sorted((VECTORS / "messages").glob("*.json"))]


def cases(group: str) -> Iterator[Any]:
    """One pytest param per case of ``group`` (valid, decode_only, invalid) in every file."""
    for path in vector_files():
        file = json.loads(path.read_text(encoding="utf-8"))
        for case in file[group]:
            name = f"{path.relative_to(VECTORS)}: {case['description']}"
            yield pytest.param(file["kind"], case, id=name)
