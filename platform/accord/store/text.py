"""Texts the store can hold on every database: no NUL character, no lone surrogate.

SQLite stores a NUL character and PostgreSQL refuses it (``text`` and ``jsonb`` alike); a lone
surrogate (``"\\ud800"``, which JSON allows) cannot be encoded as UTF-8 by either driver. Both
are refused before anything is written, with the same message on both databases.

>>> check_store_text("fine", field="prompt.text")
'fine'
>>> check_store_text("a\\x00b", field="prompt.text")
Traceback (most recent call last):
...
accord.store.text.StoreTextError: prompt.text holds a NUL character (\\x00), ...
"""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")


class StoreTextError(ValueError):
    """A text the store cannot keep; the message names the field."""


def text_problem(value: str) -> str | None:
    if "\x00" in value:
        return "holds a NUL character (\\x00), which the store cannot keep (PostgreSQL refuses it)"
    if not value.isascii() and _SURROGATE.search(value):
        return "holds a lone surrogate (such as \\ud800), which is not valid Unicode"
    return None


def check_store_text(value: str | None, *, field: str) -> str | None:
    """``value`` unchanged, or ``StoreTextError`` naming ``field``."""
    if value is not None:
        problem = text_problem(value)
        if problem is not None:
            raise StoreTextError(f"{field} {problem}: remove it")
    return value


def check_store_json(value, *, field: str):
    """Every string (keys too) in a JSON-like value, checked as ``check_store_text``."""
    if isinstance(value, str):
        check_store_text(value, field=field)
    elif isinstance(value, dict):
        for k, v in value.items():
            check_store_text(str(k), field=field)
            check_store_json(v, field=f"{field}.{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            check_store_json(v, field=f"{field}[{i}]")
    return value
