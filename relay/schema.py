"""Typed message machinery shared by the wire and editor protocols.

Messages are plain dataclasses. ``converter_for`` compiles, once per type, a
function that checks a decoded JSON value against the type hints and builds
the dataclass; ``to_wire`` turns a dataclass back into JSON-ready data,
leaving out fields that are ``None``. Only the standard library is used so the
daemon can ship this module inside the editor extension.
"""

from __future__ import annotations

import contextlib
import dataclasses
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


_cache: dict[Any, Converter] = {}


def converter_for(tp: Any) -> Converter:
    """Return (and cache) the checking converter for a type annotation."""
    try:
        return _cache[tp]
    except (KeyError, TypeError):
        pass
    conv = _build(tp)
    with contextlib.suppress(TypeError):
        _cache[tp] = conv
    return conv


def structure(value: Any, tp: type[T], path: str = "") -> T:
    """Check ``value`` against ``tp`` and build it; raise SchemaError otherwise."""
    result: T = converter_for(tp)(value, path)
    return result


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _build(tp: Any) -> Converter:
    if tp is Any:
        return lambda v, p: v
    if tp is str:
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
        def conv_int(v: Any, p: str) -> int:
            if type(v) is not int:
                raise SchemaError(p, "integer")
            return v
        return conv_int
    if tp is float:
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
        return _build_dataclass(tp)
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
            inner = converter_for(non_none[0])

            def conv_optional(v: Any, p: str) -> Any:
                return None if v is None else inner(v, p)
            return conv_optional
        convs = [converter_for(a) for a in args]
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
        item = converter_for(args[0]) if args else converter_for(Any)

        def conv_list(v: Any, p: str) -> list[Any]:
            if type(v) is not list:
                raise SchemaError(p, "array")
            return [item(x, _join(p, i)) for i, x in enumerate(v)]
        return conv_list
    if origin is dict:
        val = converter_for(args[1]) if args else converter_for(Any)

        def conv_dict(v: Any, p: str) -> dict[str, Any]:
            if type(v) is not dict:
                raise SchemaError(p, "object")
            out: dict[str, Any] = {}
            for k, x in v.items():
                if type(k) is not str:
                    raise SchemaError(p, "object with string keys")
                out[k] = val(x, _join(p, k))
            return out
        return conv_dict
    raise TypeError(f"unsupported annotation in schema: {tp!r}")


def _label(tp: Any) -> str:
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


def _build_dataclass(cls: type[Any]) -> Converter:
    hints = get_type_hints(cls)
    specs: list[tuple[str, Converter, bool]] = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        specs.append((f.name, converter_for(hints[f.name]), required))
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
    "SchemaError",
    "converter_for",
    "structure",
    "to_wire",
    "type_hints",
    "typing",
]
