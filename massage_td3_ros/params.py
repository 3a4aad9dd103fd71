"""Typed parameter groups: one dataclass per group, every field documented.

Each tunable is declared once, as a dataclass field made with :func:`param`, which
carries its default, a one-line description and an optional closed range. The same
declaration serves three readers: plain Python (``EnvConfig(target_force_n=15)``),
the YAML file ``config/train.yaml`` (:func:`from_dict`, which rejects misspelled
keys) and the ROS nodes (which declare one ROS parameter per field, with the
description and range in its descriptor).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


def param(default: Any, description: str, low: float | None = None,
          high: float | None = None, choices: tuple[str, ...] | None = None) -> Any:
    """A dataclass field with a description and an optional range or choice set."""
    meta = {"description": description, "low": low, "high": high, "choices": choices}
    if isinstance(default, (list, tuple)):
        value = tuple(default)
        return dataclasses.field(default_factory=lambda: value, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def describe(field: dataclasses.Field) -> str:
    """The field's description, with its range or choices appended."""
    meta = field.metadata
    text = meta.get("description", "")
    if meta.get("choices"):
        text += f" One of {', '.join(meta['choices'])}."
    elif meta.get("low") is not None or meta.get("high") is not None:
        text += f" Range [{meta.get('low')}, {meta.get('high')}]."
    return text


def validate(group: Any) -> None:
    """Raise ValueError naming the first field outside its range or choices."""
    name = type(group).__name__
    for field in dataclasses.fields(group):
        value = getattr(group, field.name)
        meta = field.metadata
        if meta.get("choices") and value not in meta["choices"]:
            raise ValueError(f"{name}.{field.name}={value!r}: must be one of {meta['choices']}")
        values = value if isinstance(value, tuple) else (value,)
        for item in values:
            if isinstance(item, bool) or not isinstance(item, (int, float)):
                continue
            if not math.isfinite(item):
                raise ValueError(f"{name}.{field.name}={value!r}: must be finite")
            low, high = meta.get("low"), meta.get("high")
            if (low is not None and item < low) or (high is not None and item > high):
                raise ValueError(
                    f"{name}.{field.name}={value!r}: outside its range [{low}, {high}]")


def _coerce(field: dataclasses.Field, value: Any, owner: str) -> Any:
    """Convert a YAML/ROS value to the type of the field's default."""
    default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
    where = f"{owner}.{field.name}"
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected true/false, got {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ValueError(f"{where}: expected an integer, got {value!r}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if isinstance(default, tuple):
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where}: expected a list, got {value!r}")
        if default and len(value) != len(default):
            raise ValueError(f"{where}: expected {len(default)} values, got {len(value)}")
        kind = type(default[0]) if default else float
        return tuple(kind(v) for v in value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ValueError(f"{where}: expected a string, got {value!r}")
        return value
    return value


def from_dict(cls: type[T], values: Mapping[str, Any] | None) -> T:
    """Build and validate ``cls`` from a mapping; unknown keys are an error."""
    values = dict(values or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ValueError(
            f"{cls.__name__}: unknown parameter(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(fields))}")
    kwargs = {k: _coerce(fields[k], v, cls.__name__) for k, v in values.items()}
    group = cls(**kwargs)
    validate(group)
    return group


def to_dict(group: Any) -> dict[str, Any]:
    """Plain dict of a group, tuples as lists (YAML- and JSON-friendly)."""
    out = {}
    for field in dataclasses.fields(group):
        value = getattr(group, field.name)
        out[field.name] = list(value) if isinstance(value, tuple) else value
    return out
