"""JSON Schema (draft 2020-12) validation of envelopes and bodies against protocol/schemas/v1.

The schemas ship inside the package (``correio/generated/schemas``, copied by tools/codegen).
Schema ``pattern``s are ECMA-262 regular expressions, where ``$`` matches only at the very end;
Python's ``$`` also matches before a final newline, so patterns are translated (``$`` -> ``\\Z``)
before use. Everything else (``maxLength`` in code points, ``integer`` excluding ``bool``) already
agrees between jsonschema and ECMA-262 semantics.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any, Iterator, Mapping

from jsonschema import Draft202012Validator, ValidationError, validators
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .generated.catalogue import MESSAGE_TYPES


@lru_cache(maxsize=None)
def ecma_regex(pattern: str) -> re.Pattern[str]:
    """Compiles an ECMA-262 pattern of the kind the schemas use, with ECMA's meaning of ``$``."""
    out: list[str] = []
    escaped = in_class = False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif char == "$" and not in_class:
            out.append(r"\Z")
            continue
        out.append(char)
    return re.compile("".join(out))


def _pattern(validator: Any, pattern: str, instance: Any, _schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not ecma_regex(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


#: Draft 2020-12 with ECMA-262 patterns.
CorreioValidator = validators.extend(Draft202012Validator, {"pattern": _pattern})


_DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"


def _load() -> dict[str, dict[str, Any]]:
    folder = resources.files(__package__).joinpath("generated", "schemas")
    schemas: dict[str, dict[str, Any]] = {}
    for entry in sorted(folder.iterdir(), key=lambda entry: entry.name):
        if not entry.name.endswith(".json"):
            continue
        schema = json.loads(entry.read_text(encoding="utf-8"))
        # jsonschema picks the validator class of a referenced document from its $schema, which
        # would swap CorreioValidator for the stock one (and Python's `$`) across files. Every
        # schema is 2020-12, which the registry states instead.
        if schema.pop("$schema", _DRAFT_2020_12) != _DRAFT_2020_12:
            raise ValueError(f"{entry.name}: only draft 2020-12 schemas are supported")
        schemas[entry.name] = schema
    return schemas


class SchemaSet:
    """The envelope validator and one body validator per message type."""

    def __init__(self) -> None:
        schemas = _load()
        registry = Registry().with_resources(
            (schema["$id"], Resource.from_contents(schema, default_specification=DRAFT202012)) for schema in schemas.values()
        )
        self.envelope = CorreioValidator(schemas["envelope.json"], registry=registry)
        self.bodies = {
            message_type: CorreioValidator(schemas[f"{message_type}.json"], registry=registry)
            for message_type in MESSAGE_TYPES
        }


@lru_cache(maxsize=1)
def schema_set() -> SchemaSet:
    """The schemas, loaded once."""
    return SchemaSet()


def first_error(validator: Any, instance: Any) -> ValidationError | None:
    """The most relevant schema violation, or None when ``instance`` is valid."""
    return best_match(validator.iter_errors(instance))


def json_pointer(error: ValidationError, prefix: str = "") -> str:
    """The JSON Pointer of the offending value, from ``prefix``."""
    parts = (str(part).replace("~", "~0").replace("/", "~1") for part in error.absolute_path)
    return prefix + "".join(f"/{part}" for part in parts)
