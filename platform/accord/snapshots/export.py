"""Export a snapshot in the formats trainers read.

- ``trl``: ``DIR/train.jsonl``, ``DIR/test.jsonl`` with ``prompt``, ``chosen``, ``rejected``,
  ``score`` (P(chosen ≻ rejected)) and provenance columns; loads with
  ``datasets.load_dataset("json", data_files=...)`` and feeds trl's DPOTrainer/RewardTrainer.
- ``hf``: a ``datasets.DatasetDict`` saved with ``save_to_disk`` (``load_from_disk(DIR)``).
- ``parquet``: ``DIR/train.parquet``, ``DIR/test.parquet``.

Every export writes ``DIR/manifest.json``: the snapshot manifest plus the sha256 and row count
of each file, which ``accord snapshot verify --export DIR`` checks.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from .build import SnapshotError, get_snapshot
from .examples import iter_examples

FORMATS = ("trl", "hf", "parquet")
SPLITS = ("train", "test")


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _row(ex: dict[str, Any]) -> dict[str, Any]:
    ex = dict(ex)
    ex.pop("split")
    return ex


def _hf_rows(engine: Engine, snap_id: int, split: str, conversational: bool):
    for ex in iter_examples(engine, snap_id, split=split, conversational=conversational):
        yield _row(ex)


def _write_jsonl(engine: Engine, snap_id: int, split: str, path: Path, conversational: bool) -> int:
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for ex in iter_examples(engine, snap_id, split=split, conversational=conversational):
            f.write(json.dumps(_row(ex), ensure_ascii=False))
            f.write("\n")
            n += 1
    return n


def _write_parquet(engine: Engine, snap_id: int, split: str, path: Path, conversational: bool) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer, n, batch = None, 0, []

    def flush() -> None:
        nonlocal writer
        table = pa.Table.from_pylist(batch)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table)

    for ex in iter_examples(engine, snap_id, split=split, conversational=conversational):
        batch.append(_row(ex))
        n += 1
        if len(batch) >= 50_000:
            flush()
            batch = []
    if batch or writer is None:
        if batch:
            flush()
        else:
            schema = pa.schema([(c, pa.string()) for c in ("prompt", "chosen", "rejected")])
            writer = pq.ParquetWriter(path, schema)
    writer.close()
    return n


def export_snapshot(engine: Engine, *, name: str, fmt: str = "trl", out_dir: str | Path,
                    conversational: bool = False) -> dict[str, Any]:
    """Write the snapshot ``name`` to ``out_dir``; returns the export manifest."""
    if fmt not in FORMATS:
        raise SnapshotError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    snap = get_snapshot(engine, name)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, dict[str, Any]] = {}
    if fmt == "hf":
        import datasets

        counts = {"train": snap.n_train, "test": snap.n_test}

        def split_dataset(split: str) -> "datasets.Dataset":
            if counts[split] == 0:
                return datasets.Dataset.from_dict({c: [] for c in ("prompt", "chosen", "rejected")})
            return datasets.Dataset.from_generator(
                _hf_rows, gen_kwargs={"engine": engine, "snap_id": snap.id, "split": split,
                                      "conversational": conversational})

        dd = datasets.DatasetDict({split: split_dataset(split) for split in SPLITS})
        dd.save_to_disk(str(out))
        for split in SPLITS:
            files[split] = {"rows": len(dd[split])}
        for f in sorted(out.rglob("*.arrow")):
            files[str(f.relative_to(out))] = {"sha256": file_sha256(f)}
    else:
        writer = _write_jsonl if fmt == "trl" else _write_parquet
        ext = "jsonl" if fmt == "trl" else "parquet"
        for split in SPLITS:
            path = out / f"{split}.{ext}"
            n = writer(engine, snap.id, split, path, conversational)
            files[path.name] = {"rows": n, "sha256": file_sha256(path)}
    manifest = {**snap.manifest, "format": fmt, "conversational": conversational, "files": files}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    return manifest
