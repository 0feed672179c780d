"""Checking an action's params before its handler runs: against a JSON Schema, or against the
``params`` parameter's type hint. A failure is VALIDATION naming the field (``data.path`` is its
JSON Pointer from the envelope, such as ``/body/params/a``)."""

from __future__ import annotations

import typing
from typing import Any, Callable, Mapping

from jsonschema import Draft202012Validator

from ..errors import CorreioError
from ..schemas import first_error, json_pointer

ParamsCheck = Callable[[Any], None]

_SIMPLE: dict[Any, tuple[str, Callable[[Any], bool]]] = {
    int: ("an integer", lambda value: isinstance(value, int) and not isinstance(value, bool)),
    float: ("a number", lambda value: isinstance(value, (int, float)) and not isinstance(value, bool)),
    str: ("a string", lambda value: isinstance(value, str)),
    bool: ("a boolean", lambda value: isinstance(value, bool)),
    list: ("an array", lambda value: isinstance(value, list)),
    dict: ("a map", lambda value: isinstance(value, dict)),
}


def _invalid(path: str, message: str) -> CorreioError:
    pointer = "/body/params" + path
    field = "params" + path.replace("/", ".")
    return CorreioError("VALIDATION", f"{field}: {message}", data={"path": pointer})


def compile_check(handler: Callable[..., Any], schema: Mapping[str, Any] | None) -> ParamsCheck | None:
    """The check of ``handler``'s params, or None when nothing is declared."""
    if schema is not None:
        Draft202012Validator.check_schema(schema)
        validator = Draft202012Validator(schema)

        def check_schema(params: Any) -> None:
            error = first_error(validator, params)
            if error is not None:
                raise _invalid(json_pointer(error), error.message)

        return check_schema
    try:
        hint = typing.get_type_hints(handler).get("params")
    except Exception:  # noqa: BLE001 - unresolvable hints declare nothing checkable
        return None
    return _check_for(hint, "")


def _check_for(hint: Any, path: str) -> ParamsCheck | None:
    if hint in _SIMPLE:
        what, accepts = _SIMPLE[hint]

        def check_simple(value: Any) -> None:
            if not accepts(value):
                raise _invalid(path, f"expected {what}, got {type(value).__name__}")

        return check_simple
    if typing.is_typeddict(hint):
        required = set(getattr(hint, "__required_keys__", ()))
        fields = {name: _check_for(field, f"{path}/{name}") for name, field in typing.get_type_hints(hint).items()}

        def check_fields(value: Any) -> None:
            if not isinstance(value, dict):
                raise _invalid(path, f"expected a map, got {type(value).__name__}")
            for name in sorted(required - value.keys()):
                raise _invalid(f"{path}/{name}", "is required")
            for name, check in fields.items():
                if check is not None and name in value:
                    check(value[name])

        return check_fields
    return None
