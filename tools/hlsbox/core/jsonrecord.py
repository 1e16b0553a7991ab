"""The JSON form of the contract's types (core.contract): frozen standard-library dataclasses with `to_dict` /
`from_dict`, since the image has no pydantic. A field typed as a dataclass, an Enum, a union, a dict, tuple or list
of them is built back from JSON by its type hint."""

from __future__ import annotations

import dataclasses
import types
import typing
from enum import Enum
from typing import ClassVar


def _build(cls, data):
    """`cls` (a dataclass, or a type hint over dataclasses) from its JSON form."""
    origin, args = typing.get_origin(cls), typing.get_args(cls)
    if data is None:
        return None
    if dataclasses.is_dataclass(cls):
        return cls.from_dict(data) if issubclass(cls, JsonRecord) else build_fields(cls, data)
    if isinstance(cls, type) and issubclass(cls, Enum):
        return cls(data)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            if arg is not type(None):
                return _build(arg, data)
    if origin is dict:
        return {key: _build(args[1], value) for key, value in data.items()}
    if origin is tuple:
        return tuple(_build(args[0], value) for value in data)
    if origin is list:
        return [_build(args[0], value) for value in data]
    return data


def build_fields(cls, data: dict):
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"{cls.__name__} has no field {', '.join(sorted(unknown))}")
    return cls(**{name: _build(hints[name], value) for name, value in data.items()})


def _dump(value):
    """The JSON form of a contract value (a contract type gives its own)."""
    if isinstance(value, JsonRecord):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _dump(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [_dump(v) for v in value]
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    return value


class JsonRecord:
    """A contract type's JSON form: its fields, under the names JSON_NAMES gives where they differ (a Python
    keyword, another tool's name), without the unset ones when OMIT_NONE."""

    JSON_NAMES: ClassVar[dict[str, str]] = {}  # field -> its name in JSON
    OMIT_NONE: ClassVar[bool] = False

    def to_dict(self) -> dict:
        data = {f.name: _dump(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        if self.OMIT_NONE:
            data = {k: v for k, v in data.items() if v is not None}
        return {self.JSON_NAMES.get(k, k): v for k, v in data.items()}

    @classmethod
    def from_dict(cls, data: dict):
        python = {theirs: ours for ours, theirs in cls.JSON_NAMES.items()}
        return build_fields(cls, {python.get(k, k): v for k, v in data.items()})
