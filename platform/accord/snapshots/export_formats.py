"""The formats a snapshot exports to: one registry, read by ``accord export --format``, the API
(``GET /snapshots/{name}/export``) and the recipe ``export`` step.

A format is a name, a help line and a writer ``"module:function"`` (imported only when an export
runs, so the CLI loads fast). The writer is called as ``write(engine, snapshot_id, out_dir,
conversational)`` and returns the manifest's ``files`` entries (rows and sha256 per file).

>>> for fmt in FORMATS.values():
...     print(f"{fmt.name}: {fmt.help}")
trl: train.jsonl / test.jsonl (prompt, chosen, rejected, score, provenance columns)
hf: a datasets.DatasetDict saved with save_to_disk (load_from_disk)
parquet: train.parquet / test.parquet
messages: train.jsonl / test.jsonl with messages (TRL's SFT format; demonstrations snapshots)

A demonstrations snapshot (``accord.snapshots.demonstrations``) is written in TRL's SFT
formats by ``accord.snapshots.demonstration_export`` whatever the format's writer: ``trl`` as
``prompt`` / ``completion``, ``messages`` as ``messages``, ``hf`` and ``parquet`` as
prompt-completion columns.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ExportFormat:
    name: str
    writer: str  # "module:function"
    help: str

    def write_function(self) -> Callable[..., dict[str, Any]]:
        module, _, attr = self.writer.partition(":")
        return getattr(importlib.import_module(module), attr)


FORMATS: dict[str, ExportFormat] = {}


def register_export_format(name: str, writer: str, *, help: str) -> ExportFormat:
    """Make ``name`` an export format everywhere; the same registration twice is fine."""
    fmt = ExportFormat(name, writer, help)
    existing = FORMATS.get(name)
    if existing is not None and existing != fmt:
        raise ValueError(f"export format {name!r} is already registered ({existing.writer})")
    if ":" not in writer:
        raise ValueError(
            f"export format {name!r}: writer {writer!r} is not a 'module:function' path"
        )
    FORMATS[name] = fmt
    return fmt


register_export_format(
    "trl",
    "accord.snapshots.export:write_trl",
    help="train.jsonl / test.jsonl (prompt, chosen, rejected, score, provenance columns)",
)
register_export_format(
    "hf",
    "accord.snapshots.export:write_hf",
    help="a datasets.DatasetDict saved with save_to_disk (load_from_disk)",
)
register_export_format(
    "parquet", "accord.snapshots.export:write_parquet", help="train.parquet / test.parquet"
)
register_export_format(
    "messages",
    "accord.snapshots.export:write_messages",
    help="train.jsonl / test.jsonl with messages (TRL's SFT format; demonstrations snapshots)",
)
