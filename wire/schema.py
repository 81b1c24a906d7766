"""Typed message machinery shared by the wire and editor protocols.

Messages are plain dataclasses. ``converter_for`` compiles, once per type, a
function that checks a decoded JSON value against the type hints and builds
the dataclass; ``to_wire`` turns a dataclass back into JSON-ready data,
leaving out fields that are ``None``. Only the standard library is used so the
daemon can ship this module inside the editor extension.

Strict converters (``structure(..., strict=True)``, used for every frame a client
sends to the relay) also bound every value: integers within +-(2**53 - 1) (exact in
JSON and in every client language), finite numbers only, strings at most
``MAX_STRING`` characters and never holding U+0000 (NUL: no text a person writes has
one, and PostgreSQL cannot store it), plus what a field's metadata asks for (``Check``).
A value of the right type that breaks a bound raises ``ValueOutOfRange``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import types
import typing
from collections.abc import Callable
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

T = TypeVar("T")

Converter = Callable[[Any, str], Any]


class SchemaError(ValueError):
    """a value does not match the declared message type."""

    def __init__(self, path: str, expected: str) -> None:
        self.path = path or "message"
        self.expected = expected
        super().__init__(f"{self.path}: expected {expected}")


class ValueOutOfRange(SchemaError):
    """a value has the declared type but breaks a bound (strict converters only)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(path, problem)
        self.args = (f"{self.path}: {problem}",)

    def __str__(self) -> str:
        return str(self.args[0])


MAX_INT = 2**53 - 1  # strict: integers within +-MAX_INT
MAX_STRING = 128  # strict: characters in a string field without its own Check


@dataclasses.dataclass(frozen=True, slots=True)
class Check:
    """Bounds of one field, kept in the field's metadata under ``"check"``.

    ``low``/``high`` bound an integer (each item of a list of them); ``max_chars``
    bounds a string (None: no bound here, the caller checks it); ``test`` returns why a
    string is refused, or None. Only strict converters apply checks.
    """

    low: int | None = None
    high: int | None = None
    max_chars: int | None = MAX_STRING
    test: Callable[[str], str | None] | None = None

    def meta(self) -> dict[str, Check]:
        return {"check": self}


_DEFAULT = Check()
_cache: dict[Any, Converter] = {}


def converter_for(tp: Any, strict: bool = False, check: Check | None = None) -> Converter:
    """Return (and cache) the checking converter for a type annotation."""
    key = (tp, strict, check if strict else None)
    try:
        return _cache[key]
    except (KeyError, TypeError):
        pass
    conv = _build(tp, strict, (check or _DEFAULT) if strict else None)
    with contextlib.suppress(TypeError):
        _cache[key] = conv
    return conv


def structure(value: Any, tp: type[T], path: str = "", strict: bool = False) -> T:
    """Check ``value`` against ``tp`` and build it; raise SchemaError otherwise
    (ValueOutOfRange, a SchemaError, when ``strict`` and a value breaks a bound)."""
    result: T = converter_for(tp, strict)(value, path)
    return result


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _build(tp: Any, strict: bool, check: Check | None) -> Converter:
    if tp is Any:
        if strict:
            raise TypeError("Any is not allowed in a strict schema")
        return lambda v, p: v
    if tp is str:
        if check is not None:
            return _strict_str(check)

        def conv_str(v: Any, p: str) -> str:
            if type(v) is not str:
                raise SchemaError(p, "string")
            return v
        return conv_str
    if tp is bool:
        def conv_bool(v: Any, p: str) -> bool:
            if type(v) is not bool:
                raise SchemaError(p, "boolean")
            return v
        return conv_bool
    if tp is int:
        if check is not None:
            return _strict_int(check)

        def conv_int(v: Any, p: str) -> int:
            if type(v) is not int:
                raise SchemaError(p, "integer")
            return v
        return conv_int
    if tp is float:
        if check is not None:
            return _strict_float

        def conv_float(v: Any, p: str) -> float:
            if type(v) is float or type(v) is int:
                return float(v)
            raise SchemaError(p, "number")
        return conv_float
    if tp is type(None):
        def conv_none(v: Any, p: str) -> None:
            if v is not None:
                raise SchemaError(p, "null")
            return None
        return conv_none
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _build_dataclass(tp, strict)
    origin = get_origin(tp)
    args = get_args(tp)
    if origin is Literal:
        allowed = frozenset(args)
        names = " | ".join(repr(a) for a in args)

        def conv_literal(v: Any, p: str) -> Any:
            if type(v) not in (str, int, bool) or v not in allowed:
                raise SchemaError(p, f"one of {names}")
            return v
        return conv_literal
    if origin in (Union, types.UnionType):
        non_none = [a for a in args if a is not type(None)]
        if len(non_none) == 1 and len(args) == 2:
            inner = converter_for(non_none[0], strict, check)

            def conv_optional(v: Any, p: str) -> Any:
                return None if v is None else inner(v, p)
            return conv_optional
        convs = [converter_for(a, strict, check) for a in args]
        label = " | ".join(_label(a) for a in args)

        def conv_union(v: Any, p: str) -> Any:
            for c in convs:
                try:
                    return c(v, p)
                except SchemaError:
                    continue
            raise SchemaError(p, label)
        return conv_union
    if origin is list:
        item = converter_for(args[0] if args else Any, strict, check)

        def conv_list(v: Any, p: str) -> list[Any]:
            if type(v) is not list:
                raise SchemaError(p, "array")
            return [item(x, _join(p, i)) for i, x in enumerate(v)]
        return conv_list
    if origin is dict:
        val = converter_for(args[1] if args else Any, strict, check)
        key_check = _strict_str(_DEFAULT) if strict else None

        def conv_dict(v: Any, p: str) -> dict[str, Any]:
            if type(v) is not dict:
                raise SchemaError(p, "object")
            out: dict[str, Any] = {}
            for k, x in v.items():
                if type(k) is not str:
                    raise SchemaError(p, "object with string keys")
                if key_check is not None:
                    key_check(k, p)
                out[k] = val(x, _join(p, k))
            return out
        return conv_dict
    raise TypeError(f"unsupported annotation in schema: {tp!r}")


def _strict_str(check: Check) -> Converter:
    limit, test = check.max_chars, check.test

    def conv(v: Any, p: str) -> str:
        if type(v) is not str:
            raise SchemaError(p, "string")
        if limit is not None and len(v) > limit:
            raise ValueOutOfRange(p, f"must be at most {limit} characters")
        if "\x00" in v:
            raise ValueOutOfRange(p, "must not hold a NUL character (U+0000)")
        if test is not None:
            problem = test(v)
            if problem is not None:
                raise ValueOutOfRange(p, problem)
        return v
    return conv


def _strict_int(check: Check) -> Converter:
    low = -MAX_INT if check.low is None else check.low
    high = MAX_INT if check.high is None else check.high

    def conv(v: Any, p: str) -> int:
        if type(v) is not int:
            raise SchemaError(p, "integer")
        if not low <= v <= high:
            raise ValueOutOfRange(p, f"must be an integer from {low} to {high}")
        return v
    return conv


def _strict_float(v: Any, p: str) -> float:
    if type(v) is float:
        if not math.isfinite(v):
            raise ValueOutOfRange(p, "must be a finite number")
        return v
    if type(v) is int:
        if not -MAX_INT <= v <= MAX_INT:
            raise ValueOutOfRange(p, f"must be a number from {-MAX_INT} to {MAX_INT}")
        return float(v)
    raise SchemaError(p, "number")


def _label(tp: Any) -> str:
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


def _build_dataclass(cls: type[Any], strict: bool) -> Converter:
    hints = get_type_hints(cls)
    specs: list[tuple[str, Converter, bool]] = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        check = f.metadata.get("check") if strict else None
        specs.append((f.name, converter_for(hints[f.name], strict, check), required))
    name = cls.__name__

    def conv_dc(v: Any, p: str) -> Any:
        if type(v) is not dict:
            raise SchemaError(p, f"{name} object")
        kwargs: dict[str, Any] = {}
        for fname, conv, required in specs:
            if fname in v:
                x = v[fname]
                if x is None and not required:
                    continue
                kwargs[fname] = conv(x, _join(p, fname))
            elif required:
                raise SchemaError(_join(p, fname), "a value (field is required)")
        return cls(**kwargs)
    return conv_dc


def to_wire(obj: Any) -> Any:
    """Turn dataclasses (recursively) into JSON-ready data, dropping ``None`` fields."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {}
        tag = getattr(obj, "TYPE", None)
        if tag is not None:
            out["type"] = tag
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if value is None:
                continue
            out[f.name] = to_wire(value)
        return out
    if isinstance(obj, list | tuple):
        return [to_wire(x) for x in obj]
    if isinstance(obj, dict):
        return {k: to_wire(x) for k, x in obj.items()}
    return obj


def type_hints(cls: type[Any]) -> dict[str, Any]:
    """Resolved field annotations of a dataclass (used by the TypeScript generator)."""
    return get_type_hints(cls)


__all__ = [
    "MAX_INT",
    "MAX_STRING",
    "Check",
    "SchemaError",
    "ValueOutOfRange",
    "converter_for",
    "structure",
    "to_wire",
    "type_hints",
    "typing",
]
