"""Export a snapshot in the formats trainers read.

- ``trl``: ``DIR/train.jsonl``, ``DIR/test.jsonl`` with ``prompt``, ``chosen``, ``rejected``,
  ``score`` (P(chosen ≻ rejected)) and provenance columns (``chosen_role`` / ``rejected_role``:
  initial | critique | revision, so SFT on revisions works from an export folder); loads with
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
from .examples import iter_example_rows, iter_examples

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


_encode_str = json.encoder.encode_basestring  # what json.dumps(..., ensure_ascii=False) uses
_dumps = json.JSONEncoder(ensure_ascii=False).encode


def _json_number(v: Any) -> str:
    """``json.dumps(v)`` for a number column (None, NaN and infinities included)."""
    if type(v) is float and v - v == 0.0:  # finite (v - v is NaN for NaN and ±inf)
        return float.__repr__(v)
    if type(v) is int:
        return int.__repr__(v)
    return _dumps(v)


def _jsonl_line(r: tuple, conversational: bool) -> str:
    """One row of ``iter_example_rows`` as ``json.dumps(row, ensure_ascii=False)`` would write it
    (same keys, order and separators), without building a dict per row."""
    text = _dumps if conversational else _encode_str
    return (f'{{"prompt": {text(r[0])}, "chosen": {text(r[1])}, "rejected": {text(r[2])}, '
            f'"score": {_json_number(r[3])}, "tie": {"true" if r[4] else "false"}, '
            f'"label_source": {_encode_str(r[5])}, "n_labels": {_json_number(r[6])}, '
            f'"weight": {_json_number(r[7])}, "pair_id": {_json_number(r[8])}, '
            f'"example_hash": {_encode_str(r[9])}, "chosen_role": {_encode_str(r[10])}, '
            f'"rejected_role": {_encode_str(r[11])}}}\n')


def _write_jsonl_splits(engine: Engine, snap_id: int, out: Path, conversational: bool
                        ) -> dict[str, dict[str, Any]]:
    """Both split files in one pass over the snapshot; each file's sha256 is taken as it is
    written, so the files are not read again."""
    paths = {split: out / f"{split}.jsonl" for split in SPLITS}
    hashes = {split: hashlib.sha256() for split in SPLITS}
    counts = dict.fromkeys(SPLITS, 0)
    pending: dict[str, list[str]] = {split: [] for split in SPLITS}
    files = {}
    try:
        for split in SPLITS:
            files[split] = open(paths[split], "wb")

        def flush(split: str) -> None:
            data = "".join(pending[split]).encode("utf-8")
            hashes[split].update(data)
            files[split].write(data)
            counts[split] += len(pending[split])
            pending[split].clear()

        for r in iter_example_rows(engine, snap_id, conversational=conversational):
            lines = pending[r[12]]
            lines.append(_jsonl_line(r, conversational))
            if len(lines) >= 5_000:
                flush(r[12])
        for split in SPLITS:
            flush(split)
    finally:
        for f in files.values():
            f.close()
    return {paths[s].name: {"rows": counts[s], "sha256": hashes[s].hexdigest()} for s in SPLITS}


def _arrow_schema(conversational: bool):
    import pyarrow as pa

    text = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())])) if conversational \
        else pa.string()
    return pa.schema([("prompt", text), ("chosen", text), ("rejected", text), ("score", pa.float64()),
                      ("tie", pa.bool_()), ("label_source", pa.string()), ("n_labels", pa.int64()),
                      ("weight", pa.float64()), ("pair_id", pa.int64()), ("example_hash", pa.string()),
                      ("chosen_role", pa.string()), ("rejected_role", pa.string())])


def _write_parquet(engine: Engine, snap_id: int, split: str, path: Path, conversational: bool) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _arrow_schema(conversational)
    n, batch = 0, []
    with pq.ParquetWriter(path, schema) as writer:
        for ex in iter_examples(engine, snap_id, split=split, conversational=conversational):
            batch.append(_row(ex))
            n += 1
            if len(batch) >= 50_000:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                batch = []
        if batch:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
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
        import tempfile

        import datasets

        # Stream through parquet, then let datasets convert: no split is held in memory.
        with tempfile.TemporaryDirectory(dir=out) as tmp:
            parts = {}
            for split in SPLITS:
                path = Path(tmp) / f"{split}.parquet"
                if _write_parquet(engine, snap.id, split, path, conversational):
                    parts[split] = datasets.Dataset.from_parquet(str(path),
                                                                 cache_dir=str(Path(tmp) / "cache"))
                else:
                    parts[split] = datasets.Dataset.from_dict({c: [] for c in ("prompt", "chosen", "rejected")})
            dd = datasets.DatasetDict(parts)
            # An empty split gets one (empty) shard so load_from_disk can read it back.
            dd.save_to_disk(str(out), num_shards={k: 1 for k, v in parts.items() if len(v) == 0} or None)
        for split in SPLITS:
            files[split] = {"rows": len(dd[split])}
        for f in sorted(out.rglob("*.arrow")):
            files[str(f.relative_to(out))] = {"sha256": file_sha256(f)}
    elif fmt == "trl":
        files.update(_write_jsonl_splits(engine, snap.id, out, conversational))
    else:
        for split in SPLITS:
            path = out / f"{split}.parquet"
            n = _write_parquet(engine, snap.id, split, path, conversational)
            files[path.name] = {"rows": n, "sha256": file_sha256(path)}
    manifest = {**snap.manifest, "format": fmt, "conversational": conversational, "files": files}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    return manifest
