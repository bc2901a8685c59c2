"""Curated snapshots: immutable, content-hashed, leak-free preference datasets."""

from .build import SnapshotError, create_snapshot, get_snapshot, list_snapshots
from .diff import diff_snapshots
from .export import FORMATS, export_snapshot
from .policies import POLICIES, PolicyParams
from .verify import VerifyReport, verify_export, verify_snapshot

__all__ = ["FORMATS", "POLICIES", "PolicyParams", "SnapshotError", "VerifyReport", "create_snapshot",
           "diff_snapshots", "export_snapshot", "get_snapshot", "list_snapshots", "verify_export",
           "verify_snapshot"]
