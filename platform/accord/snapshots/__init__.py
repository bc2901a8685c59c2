"""Curated snapshots: immutable, content-hashed, leak-free preference datasets.

The names below are imported on first use, so reading the registries (``POLICIES``,
``FORMATS``) does not load the store or pandas.
"""

import importlib

_WHERE = {
    "SnapshotError": "build",
    "create_snapshot": "build",
    "create_demonstration_snapshot": "demonstrations",
    "get_snapshot": "build",
    "list_snapshots": "build",
    "diff_snapshots": "diff",
    "export_snapshot": "export",
    "FORMATS": "export_formats",
    "POLICIES": "policies",
    "PolicyParams": "policies",
    "VerifyReport": "verify",
    "verify_export": "verify",
    "verify_snapshot": "verify",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
