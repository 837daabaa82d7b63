"""Settings declared once: each config field carries its default, help text and flag shape.

A config dataclass (`arcnb.config.RunConfig`, `arcnb.dataset.DatasetConfig`) declares every
field with `setting(...)`; the CLI then builds its argparse flags from the class (`add_flags`)
and reads them back (`settings_from_args`). Names, defaults, help and choices therefore live in
one place, and the notebooks' parameter cells are checked against the same fields by the tests.

How a field becomes a flag:

- name: ``--kebab-case``, also accepted as ``--snake_case`` (as users of the older tool type
  it); ``flag="name"`` gives another name (``ray_address`` is ``--ray``); ``flag=False``: none.
- type from the annotation, ``X | None`` unwrapped: ``int`` and ``float`` convert, ``str`` is
  kept, ``list[str]`` is a repeatable flag collected into a list (``--base-url A --base-url B``).
- ``bool``: a switch. Off by default: ``--name`` turns it on. On by default: ``--no-name``
  turns it off, and its ``help`` says what ``--no-name`` does.
- help: the field's ``help``, plus ``(default: ...)`` when the default is a value (not None, not
  a switch); a setting whose None means something says so in its own help.

Standard library only: the CLI builds every flag without importing the heavy modules.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Collection, Sequence
from typing import Any

_KEY = "arcnb"  # our entry in dataclasses.Field.metadata


@dataclasses.dataclass(frozen=True)
class Setting:
    """What a config field says about itself beyond its type and default.

    Attributes:
        help: One line for ``--help`` (a literal ``%`` is fine; it is escaped for argparse).
        choices: The allowed values, or None for any value of the type.
        metavar: The value's placeholder in ``--help`` (``N``, ``URL``); default: the name.
        flag: True: ``--kebab-name``; a string: that flag name instead (without ``--``);
            False: no flag (a positional argument, or a setting only the Python API takes).
    """

    help: str = ""
    choices: tuple[Any, ...] | None = None
    metavar: str | None = None
    flag: bool | str = True


def setting(
    default: Any,
    *,
    help: str = "",
    choices: Sequence[Any] | None = None,
    metavar: str | None = None,
    flag: bool | str = True,
) -> Any:
    """Declare a config field with its default and how it appears on the command line.

    Use as ``max_attempts: int = setting(8, help="attempts per task", metavar="N")``.

    Args:
        default: The field's default (immutable: None, a number, a string, a bool, a tuple).
        help: One line for ``--help``; for a bool that defaults to True, what ``--no-NAME`` does.
        choices: The allowed values, if only some are.
        metavar: The value's placeholder in ``--help``.
        flag: True for ``--kebab-name``, a string for another flag name, False for no flag.

    Returns:
        A `dataclasses.field` carrying a `Setting` in its metadata.
    """
    meta = Setting(help, tuple(choices) if choices is not None else None, metavar, flag)
    return dataclasses.field(default=default, metadata={_KEY: meta})


def setting_of(field: dataclasses.Field) -> Setting:
    """The `Setting` of a field (an empty one for a field declared without `setting`)."""
    return field.metadata.get(_KEY, Setting())


def help_of(cls: type, name: str) -> str:
    """The help text of the field ``name`` of ``cls`` (for a positional argument, say)."""
    return next(setting_of(f).help for f in dataclasses.fields(cls) if f.name == name)


def flag_names(field: dataclasses.Field, kind: type | None = None) -> list[str]:
    """The flags of a field, main name first: ``["--max-attempts", "--max_attempts"]``.

    Args:
        field: A field of a config dataclass.
        kind: The field's resolved base type, when known (a bool on by default is ``--no-X``).

    Returns:
        The flag and its underscore alias (when the name has a dash); empty for ``flag=False``.
    """
    meta = setting_of(field)
    if meta.flag is False:
        return []
    if isinstance(meta.flag, str):
        name = meta.flag
    else:
        name = field.name.replace("_", "-")
        if kind is bool and field.default is True:
            name = f"no-{name}"
    flags = [f"--{name}"]
    if "-" in name:
        flags.append(f"--{name.replace('-', '_')}")
    return flags


def add_flags(
    parser: argparse.ArgumentParser,
    cls: type,
    skip: Collection[str] = (),
    only: Collection[str] | None = None,
) -> None:
    """Add one argparse flag per field of the config dataclass ``cls``.

    The flag's ``dest`` is the field name, so `settings_from_args` can read it back.

    Args:
        parser: The (sub)command's parser.
        cls: A dataclass whose fields are declared with `setting`.
        skip: Field names to leave out (the command adds them its own way, or not at all).
        only: If given, only these fields (a command that shares a few of a config's settings).

    Raises:
        TypeError: A field's annotation has no flag form (e.g. ``bool | None``); declare it
            with ``flag=False``.
    """
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        if field.name in skip or (only is not None and field.name not in only):
            continue
        meta = setting_of(field)
        if meta.flag is False:
            continue
        kind, repeat = _flag_type(cls, field.name, hints[field.name])
        flags = flag_names(field, kind)
        kwargs: dict[str, Any] = {"dest": field.name, "default": field.default}
        help_text = meta.help.replace("%", "%%")
        if kind is bool:
            kwargs["action"] = "store_false" if field.default is True else "store_true"
        else:
            kwargs["action"] = "append" if repeat else "store"
            if kind is not str:
                kwargs["type"] = kind
            if meta.metavar:
                kwargs["metavar"] = meta.metavar
            if meta.choices is not None:
                kwargs["choices"] = meta.choices
            if field.default is not None:
                help_text = f"{help_text} (default: %(default)s)".lstrip()
        parser.add_argument(*flags, help=help_text or None, **kwargs)


def settings_from_args(cls: type, args: argparse.Namespace) -> dict[str, Any]:
    """The values of ``cls``'s fields found in parsed ``args``, as keyword arguments.

    Args:
        cls: The config dataclass whose flags (and positionals of the same names) were parsed.
        args: What ``parser.parse_args`` returned.

    Returns:
        ``{field name: value}`` for every field of ``cls`` that ``args`` holds.
    """
    names = [f.name for f in dataclasses.fields(cls)]
    return {name: getattr(args, name) for name in names if hasattr(args, name)}


def _flag_type(cls: type, name: str, hint: Any) -> tuple[type, bool]:
    """``(base type, repeatable?)`` of an annotation: ``int | None`` -> int, ``list[str]``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        rest = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(rest) != 1 or rest[0] is bool:  # a switch cannot say "None"
            raise TypeError(f"{cls.__name__}.{name}: {hint} has no flag form; use flag=False")
        hint = rest[0]
    if typing.get_origin(hint) is list:
        (item,) = typing.get_args(hint)
        return item, True
    if hint in (bool, int, float, str):
        return hint, False
    raise TypeError(f"{cls.__name__}.{name}: {hint} has no flag form; use flag=False")
