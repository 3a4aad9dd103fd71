"""Declare a node's parameter groups as ROS parameters and read them back as dataclasses.

Every field of a group dataclass (made with :func:`massage_td3_ros.params.param`)
becomes one ROS parameter ``<group>.<field>`` whose descriptor carries the field's
description and, where the field has a range, an IntegerRange / FloatingPointRange.
Parameters are declared explicitly, never from overrides, and any override a node
receives for a name it did not declare stops it at start-up (``ros2 run``, ``ros2
launch`` and ``massage-td3 launch`` alike), so a misspelled name in a parameter file is
never silently ignored; they are read-only because the nodes read them once, at
start-up.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from typing import Any, TypeVar

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.node import Node

from massage_td3_ros.params import describe, from_dict

T = TypeVar("T")

_INT64_MAX = 2**63 - 1


def _field_default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    return field.default_factory()


def _ros_value(value: Any) -> Any:
    """A dataclass value in the form rclpy declares (tuples as lists)."""
    return list(value) if isinstance(value, tuple) else value


def descriptor_for(field: dataclasses.Field) -> ParameterDescriptor:
    """The ROS descriptor of one field: description, range, read-only."""
    meta = field.metadata
    descriptor = ParameterDescriptor(description=describe(field), read_only=True)
    if meta.get("choices"):
        descriptor.additional_constraints = f"one of: {', '.join(meta['choices'])}"
    default = _field_default(field)
    low, high = meta.get("low"), meta.get("high")
    if low is None and high is None or isinstance(default, (bool, tuple)):
        # rclpy applies ranges to scalars only; list fields are checked by from_dict.
        if isinstance(default, tuple) and (low is not None or high is not None):
            descriptor.additional_constraints = f"each value in [{low}, {high}]"
        return descriptor
    if isinstance(default, int):
        descriptor.integer_range = [IntegerRange(
            from_value=int(low) if low is not None else -_INT64_MAX,
            to_value=min(int(high), _INT64_MAX) if high is not None else _INT64_MAX, step=0)]
    elif isinstance(default, float):
        descriptor.floating_point_range = [FloatingPointRange(
            from_value=float(low) if low is not None else -float("inf"),
            to_value=float(high) if high is not None else float("inf"), step=0.0)]
    return descriptor


def declare_group(node: Node, group: str, cls: type, default: Any = None) -> None:
    """Declare ``<group>.<field>`` for every field of ``cls``, with its value in
    ``default`` (a ``cls`` instance; None: the field defaults)."""
    for field in dataclasses.fields(cls):
        name = f"{group}.{field.name}"
        value = getattr(default, field.name) if default is not None else _field_default(field)
        try:
            node.declare_parameter(name, _ros_value(value), descriptor_for(field))
        except InvalidParameterTypeException as error:
            # Typical cause: '10' written for a float parameter in the YAML file.
            raise ValueError(f"parameter {name}: {error}. Write floats with a decimal "
                             f"point (10.0), lists with the default's element type.") from error
        except InvalidParameterValueException as error:
            raise ValueError(f"parameter {name}: {error}. {describe(field)}") from error


def read_group(node: Node, group: str, cls: type[T]) -> T:
    """The group's current parameter values as a validated ``cls`` instance."""
    values = {}
    for field in dataclasses.fields(cls):
        value = node.get_parameter(f"{group}.{field.name}").value
        values[field.name] = list(value) if not isinstance(value, (str, bytes)) and hasattr(
            value, "__len__") else value
    return from_dict(cls, values)


def refuse_unknown_overrides(node: Node) -> None:
    """Raise ValueError naming every parameter given to ``node`` (parameter file, -p) that
    it never declared, with the nearest declared name."""
    # rclpy keeps the overrides it received for this node (files and -p, already
    # filtered by node name) in this attribute; there is no public accessor.
    given = getattr(node, "_parameter_overrides", {})
    unknown = sorted(name for name in given
                     if not node.has_parameter(name) and not name.startswith("qos_overrides."))
    if not unknown:
        return
    declared = sorted(node.list_parameters([], 0).names)  # depth 0: every name
    hints = []
    for name in unknown:
        nearest = difflib.get_close_matches(name, declared, n=1, cutoff=0.6)
        hints.append(f"{name!r}" + (f" (did you mean {nearest[0]!r}?)" if nearest else ""))
    raise ValueError(f"unknown parameter(s) for node {node.get_fully_qualified_name()}: "
                     f"{', '.join(hints)}")


def declare_and_read(node: Node, groups: Mapping[str, type],
                     defaults: Any = None) -> dict[str, Any]:
    """Declare every group (with its value in ``defaults``, an object with one attribute
    per group such as config.Config(), where it has one), refuse overrides of undeclared
    names, then read each group back: ``{group: dataclass instance}``."""
    for group, cls in groups.items():
        declare_group(node, group, cls, getattr(defaults, group, None))
    refuse_unknown_overrides(node)
    return {group: read_group(node, group, cls) for group, cls in groups.items()}
