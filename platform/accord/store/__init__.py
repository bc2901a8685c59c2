"""The preference store: tables, engine and keyword-only CRUD per concept."""

from .db import open_store, session_scope

__all__ = ["open_store", "session_scope"]
