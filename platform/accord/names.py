"""Names that become paths: one safe pattern, and paths built from names kept under their root.

Snapshot, job, run, report and Argilla dataset names end up as folder or file names (export
folders, report folders, run artifacts). Each must match ``NAME_PATTERN``: a letter or digit,
then letters, digits, ``.``, ``_`` or ``-``, at most 128 characters, and no ``..``. The CLI, the
API and the store all call ``check_name``; ``path_under`` builds a path from names and refuses
one that would leave its root (through ``..``, an absolute part or a symbolic link).

>>> check_name("prefs-v1.2", what="snapshot")
'prefs-v1.2'
>>> check_name("..", what="snapshot")
Traceback (most recent call last):
...
accord.names.InvalidNameError: snapshot name '..' is not allowed: use 1 to 128 letters, digits, ...
>>> import tempfile
>>> root = tempfile.mkdtemp()
>>> path_under(root, "reports", "x").relative_to(root).as_posix()
'reports/x'
>>> path_under(root, "../outside")
Traceback (most recent call last):
...
accord.names.UnsafePathError: '../outside' leaves its folder
"""

from __future__ import annotations

import re
from pathlib import Path

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
_NAME = re.compile(NAME_PATTERN)
NAME_RULE = (
    "use 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit, without '..'"
)


class InvalidNameError(ValueError):
    """A name that cannot become a path."""


class UnsafePathError(ValueError):
    """A path that would leave the folder it must stay in."""


def is_safe_name(value: object) -> bool:
    return isinstance(value, str) and _NAME.fullmatch(value) is not None and ".." not in value


def check_name(value: object, *, what: str) -> str:
    """``value`` when it is a safe name; ``InvalidNameError`` naming ``what`` otherwise."""
    if not is_safe_name(value):
        shown = (
            repr(value)
            if not isinstance(value, str) or len(value) <= 60
            else repr(value[:60] + "…")
        )
        raise InvalidNameError(f"{what} name {shown} is not allowed: {NAME_RULE}")
    return value


def path_under(root: str | Path, *parts: str) -> Path:
    """``root/parts…`` resolved, or ``UnsafePathError`` when it is not inside ``root``."""
    base = Path(root).resolve()
    target = base.joinpath(*parts).resolve()
    if target != base and base not in target.parents:
        raise UnsafePathError(f"{'/'.join(parts)!r} leaves its folder")
    return target


def name_field(what: str, *, optional: bool = False):
    """A pydantic type for a safe name (``optional``: the empty string is allowed too)."""
    from typing import Annotated

    from pydantic import AfterValidator, Field

    def check(value: str) -> str:
        return value if optional and value == "" else check_name(value, what=what)

    return Annotated[
        str,
        Field(max_length=128, description=f"{what.capitalize()} name: {NAME_RULE}."),
        AfterValidator(check),
    ]
