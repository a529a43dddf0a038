"""Turn parsed TOML into frozen attrs instances, and back.

Errors name the dotted key path and the offending value, e.g.
``methods.aperture.max_resizes: expected an integer, got 'five'``.
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any, Literal

import attrs

from tasoc_core.exceptions import ConfigError

__all__ = ["structure", "unstructure"]

_TYPE_WORDS = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


def _fail(path: str, message: str) -> typing.NoReturn:
    raise ConfigError(f"{path or '<top level>'}: {message}")


def _scalar(tp: type, value: Any, path: str) -> Any:
    is_bool = isinstance(value, bool)
    if tp is bool and is_bool:
        return value
    if tp is int and isinstance(value, int) and not is_bool:
        return value
    if tp is float and isinstance(value, int | float) and not is_bool:
        return float(value)
    if tp is str and isinstance(value, str):
        return value
    _fail(path, f"expected {_TYPE_WORDS[tp]}, got {value!r}")


def structure(tp: Any, value: Any, path: str = "") -> Any:
    """Convert ``value`` (parsed TOML) to type ``tp``; raise ConfigError naming ``path``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if tp in _TYPE_WORDS:
        return _scalar(tp, value, path)
    if tp is Path:
        if not isinstance(value, str):
            _fail(path, f"expected a path (string), got {value!r}")
        return Path(value).expanduser()
    if origin in (typing.Union, types.UnionType):
        non_none = [a for a in args if a is not type(None)]
        if value is None and len(non_none) < len(args):
            return None
        errors = []
        for option in non_none:
            try:
                return structure(option, value, path)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(
            errors[0]
            if len(errors) == 1
            else f"{path}: {value!r} matches none of the allowed types"
        )
    if origin is Literal:
        if value not in args:
            _fail(path, f"{value!r} is not one of {', '.join(map(repr, args))}")
        return value
    if origin in (tuple, list):
        item = args[0] if args else Any
        if not isinstance(value, list | tuple):
            # A single value may stand for a one-element list of scalars (outcome = "edge").
            if isinstance(value, dict) or attrs.has(item):
                _fail(path, f"expected a list, got {value!r}")
            value = [value]
        items = [structure(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            _fail(path, f"expected a table, got {value!r}")
        val_tp = args[1] if len(args) == 2 else Any
        return {
            str(k): structure(val_tp, v, f"{path}.{k}" if path else str(k))
            for k, v in value.items()
        }
    if attrs.has(tp):
        return _structure_attrs(tp, value, path)
    raise TypeError(f"cannot structure configuration type {tp!r} at {path}")


def _structure_attrs(cls: type, value: Any, path: str) -> Any:
    if not isinstance(value, dict):
        _fail(path, f"expected a table, got {value!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in attrs.fields(cls) if f.init}
    unknown = sorted(set(value) - set(fields))
    if unknown:
        known = ", ".join(sorted(fields)) or "(none)"
        _fail(path, f"unknown key {unknown[0]!r} (known keys: {known})")
    kwargs = {}
    for name, raw in value.items():
        sub = f"{path}.{name}" if path else name
        kwargs[name] = structure(hints.get(name, Any), raw, sub)
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (ValueError, TypeError) as exc:
        _fail(path, str(exc))


def unstructure(value: Any) -> Any:
    """Convert attrs instances (and containers of them) to TOML-compatible data.

    ``None`` values are dropped, because TOML has no null.
    """
    if attrs.has(type(value)):
        out = {}
        for field in attrs.fields(type(value)):
            if not field.init or field.metadata.get("serialize") is False:
                continue
            item = unstructure(getattr(value, field.name))
            if item is not None:
                out[field.name] = item
        return out
    if isinstance(value, dict):
        return {str(k): unstructure(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [unstructure(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
