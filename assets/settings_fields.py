"""Dagster config fields derived from the domain packages' settings dataclasses.

Each setting is declared once, in the domain dataclass (name, type, default, and help text
as ``field(metadata={"help": ...})``, as TRL's config classes do). The Dagster resources and
op configs take their fields from there, so a field added to the domain appears in run
config with the same default, and nothing is copied by hand.

Profiles (``pipelines/resources.py``) subclass a resource with their own values as class
defaults (:func:`with_defaults`), because Dagster fills the fields a run config leaves out
from the class defaults, not from the instance: with plain instances, a run config that
set one crawler field silently reset every other one to the class default.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable
from typing import Any

import pydantic
from pydantic import Field


def _config_type(tp: Any, default: Any) -> tuple[Any, Any]:
    """Dagster config has lists, not tuples: ``tuple[X, ...]`` becomes ``list[X]``."""
    if typing.get_origin(tp) is tuple:
        return types.GenericAlias(list, (typing.get_args(tp)[0],)), list(default)
    return tp, default


def settings_fields(dc: type, *, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """``{name: (type, FieldInfo)}`` for ``pydantic.create_model``, one per field of ``dc``."""
    hints = typing.get_type_hints(dc)
    skip = set(exclude)
    out: dict[str, Any] = {}
    for f in dataclasses.fields(dc):
        if f.name in skip:
            continue
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            raise TypeError(f"{dc.__name__}.{f.name} has no default; a config field derived from it would be required")
        tp, default = _config_type(hints[f.name], default)
        out[f.name] = (tp, Field(default=default, description=f.metadata.get("help")))
    return out


def config_base(name: str, base: type, *settings: type, exclude: Iterable[str] = ()) -> Any:
    """A ``base`` subclass (``dg.ConfigurableResource`` / ``dg.Config``) holding the fields of
    every dataclass in ``settings``; a class with methods and extra fields inherits from it."""
    fields: dict[str, Any] = {}
    for dc in settings:
        for key, value in settings_fields(dc, exclude=exclude).items():
            if key in fields:
                raise TypeError(f"{dc.__name__}.{key} is declared by two settings classes of {name}")
            fields[key] = value
    return pydantic.create_model(name, __base__=base, **fields)


def settings_from(dc: type, source: pydantic.BaseModel, **extra: Any) -> Any:
    """An instance of ``dc`` from the same-named fields of ``source`` (lists back to tuples),
    plus ``extra`` for fields the config does not hold."""
    hints = typing.get_type_hints(dc)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(dc):
        if f.name in extra or f.name not in type(source).model_fields:
            continue
        value = getattr(source, f.name)
        values[f.name] = tuple(value) if typing.get_origin(hints[f.name]) is tuple else value
    return dc(**values, **extra)


def with_defaults(cls: type[pydantic.BaseModel], name: str, doc: str, **defaults: Any) -> Any:
    """A subclass of ``cls`` whose class defaults are ``defaults``: a profile's values that a
    partial run config keeps (Dagster falls back to class defaults, not instance values)."""
    fields: dict[str, Any] = {}
    for key, value in defaults.items():
        info = cls.model_fields[key]
        fields[key] = (info.annotation, Field(default=value, description=info.description))
    return pydantic.create_model(name, __base__=cls, __doc__=doc, **fields)
