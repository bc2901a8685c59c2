"""Export a snapshot in the formats trainers read.

- ``trl``: ``DIR/train.jsonl``, ``DIR/test.jsonl`` with ``prompt``, ``chosen``, ``rejected``,
  ``score`` (P(chosen ≻ rejected)) and provenance columns (``chosen_role`` / ``rejected_role``:
  initial | critique | revision, so SFT on revisions works from an export folder; ``group``:
  the ranked item of examples expanded from a ranking of K responses, else null); loads with
  ``datasets.load_dataset("json", data_files=...)`` and feeds trl's DPOTrainer/RewardTrainer.
- ``hf``: a ``datasets.DatasetDict`` saved with ``save_to_disk`` (``load_from_disk(DIR)``).
- ``parquet``: ``DIR/train.parquet``, ``DIR/test.parquet``.
- ``messages``: TRL's conversational SFT format, for demonstrations snapshots only.

A demonstrations snapshot (``--kind demonstrations``) exports as SFT data instead: ``trl`` as
``prompt`` / ``completion``, ``messages`` as ``messages`` (``accord.snapshots.
demonstration_export``); it gets no dataset card.

The formats are one registry, ``accord.snapshots.export_formats.FORMATS``; the CLI help, the
API and the recipe ``export`` step read it.

``hf`` and ``trl`` exports also write ``DIR/README.md``, a Hugging Face dataset card with the
snapshot's provenance and cost (``accord.snapshots.card``; ``price_table`` for dollars).

Every export writes ``DIR/manifest.json``: the snapshot manifest plus the sha256 and row count
of each file, which ``accord snapshot verify --export DIR`` checks.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from contextlib import ExitStack
from itertools import compress, repeat
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from .build import SnapshotError, get_snapshot
from .examples import EXAMPLE_COLUMNS, ROW_COLUMNS, iter_example_chunks, iter_examples
from .export_formats import FORMATS

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


def _json_numbers(values: tuple) -> Iterable[str]:
    """``json.dumps`` of each value; a column of finite floats or of ints is one C-level map."""
    kinds = set(map(type, values))
    if kinds == {float} and all(map(math.isfinite, values)):
        return map(float.__repr__, values)
    if kinds == {int}:
        return map(int.__repr__, values)
    return map(_json_number, values)


def _json_labels(values: tuple) -> Iterable[str]:
    """``json.dumps`` of a column of a few distinct strings (label source, role): each
    distinct value encoded once."""
    encoded = {v: _dumps(v) for v in set(values)}
    return map(encoded.__getitem__, values)


# SQLite gives 0/1, PostgreSQL False/True (equal keys); the old dict rows made None false.
_JSON_BOOL = {0: "false", 1: "true", None: "false"}
# The constant text around the values of a line: '{"prompt": ', ', "chosen": ', …, '}\n'.
_PIECES = ['{"prompt": ', *(f', "{k}": ' for k in EXAMPLE_COLUMNS[1:])]
_COLUMN = [itemgetter(k) for k in range(len(ROW_COLUMNS))]
_SPLIT_OF = _COLUMN[ROW_COLUMNS.index("split")]


def _jsonl_lines(rows: list[tuple], conversational: bool) -> list[str]:
    """Rows of ``iter_example_chunks`` as ``json.dumps(row, ensure_ascii=False)`` would write
    them (same keys, order and separators), a column at a time: no dict and no Python-level
    call per row; each line is one join of its pieces (no format string parsed per row)."""
    if not rows:
        return []

    def column(k: int) -> tuple:
        return tuple(map(_COLUMN[k], rows))

    text = _dumps if conversational else _encode_str
    values = [
        map(text, column(0)),
        map(text, column(1)),
        map(text, column(2)),
        _json_numbers(column(3)),
        map(_JSON_BOOL.__getitem__, column(4)),
        _json_labels(column(5)),
        _json_numbers(column(6)),
        _json_numbers(column(7)),
        _json_numbers(column(8)),
        map(_encode_str, column(9)),
        _json_labels(column(10)),
        _json_labels(column(11)),
        _json_labels(column(12)),
    ]
    parts: list[Iterable[str]] = []
    for piece, value in zip(_PIECES, values, strict=True):
        parts += (repeat(piece), value)
    parts.append(repeat("}\n"))
    return list(map("".join, zip(*parts)))


def _write_jsonl_splits(
    engine: Engine, snap_id: int, out: Path, conversational: bool
) -> dict[str, dict[str, Any]]:
    """Both split files in one pass over the snapshot; each file's sha256 is taken as it is
    written, so the files are not read again."""
    paths = {split: out / f"{split}.jsonl" for split in SPLITS}
    hashes = {split: hashlib.sha256() for split in SPLITS}
    counts = dict.fromkeys(SPLITS, 0)
    with ExitStack() as stack:
        files = {split: stack.enter_context(open(paths[split], "wb")) for split in SPLITS}
        for rows in iter_example_chunks(engine, snap_id, conversational=conversational):
            lines = _jsonl_lines(rows, conversational)
            splits = list(map(_SPLIT_OF, rows))
            for split in SPLITS:
                mine = list(compress(lines, map(split.__eq__, splits)))
                if mine:
                    data = "".join(mine).encode("utf-8")
                    hashes[split].update(data)
                    files[split].write(data)
                    counts[split] += len(mine)
    return {paths[s].name: {"rows": counts[s], "sha256": hashes[s].hexdigest()} for s in SPLITS}


def _arrow_schema(conversational: bool):
    import pyarrow as pa

    text = (
        pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
        if conversational
        else pa.string()
    )
    return pa.schema(
        [
            ("prompt", text),
            ("chosen", text),
            ("rejected", text),
            ("score", pa.float64()),
            ("tie", pa.bool_()),
            ("label_source", pa.string()),
            ("n_labels", pa.int64()),
            ("weight", pa.float64()),
            ("pair_id", pa.int64()),
            ("example_hash", pa.string()),
            ("chosen_role", pa.string()),
            ("rejected_role", pa.string()),
            ("group", pa.string()),
        ]
    )


def _write_parquet(
    engine: Engine, snap_id: int, split: str, path: Path, conversational: bool
) -> int:
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


def write_hf(engine: Engine, snapshot_id: int, out: Path, conversational: bool) -> dict[str, Any]:
    import tempfile

    import datasets

    files: dict[str, dict[str, Any]] = {}
    # Stream through parquet, then let datasets convert: no split is held in memory.
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        parts = {}
        for split in SPLITS:
            path = Path(tmp) / f"{split}.parquet"
            if _write_parquet(engine, snapshot_id, split, path, conversational):
                parts[split] = datasets.Dataset.from_parquet(
                    str(path), cache_dir=str(Path(tmp) / "cache")
                )
            else:
                parts[split] = datasets.Dataset.from_dict(
                    {c: [] for c in ("prompt", "chosen", "rejected")}
                )
        dd = datasets.DatasetDict(parts)
        # An empty split gets one (empty) shard so load_from_disk can read it back.
        dd.save_to_disk(
            str(out), num_shards={k: 1 for k, v in parts.items() if len(v) == 0} or None
        )
    for split in SPLITS:
        files[split] = {"rows": len(dd[split])}
    for f in sorted(out.rglob("*.arrow")):
        files[str(f.relative_to(out))] = {"sha256": file_sha256(f)}
    return files


def write_trl(engine: Engine, snapshot_id: int, out: Path, conversational: bool) -> dict[str, Any]:
    return _write_jsonl_splits(engine, snapshot_id, out, conversational)


def write_parquet(
    engine: Engine, snapshot_id: int, out: Path, conversational: bool
) -> dict[str, Any]:
    files: dict[str, dict[str, Any]] = {}
    for split in SPLITS:
        path = out / f"{split}.parquet"
        n = _write_parquet(engine, snapshot_id, split, path, conversational)
        files[path.name] = {"rows": n, "sha256": file_sha256(path)}
    return files


def write_messages(
    engine: Engine, snapshot_id: int, out: Path, conversational: bool
) -> dict[str, Any]:
    """The ``messages`` format of a preference snapshot: refused (it is an SFT format)."""
    raise SnapshotError(
        "--format messages is TRL's SFT format, for demonstrations snapshots "
        "(`accord snapshot create NAME --kind demonstrations`); export preference snapshots "
        "as trl, hf or parquet"
    )


CARD_FORMATS = ("hf", "trl")  # exports that get a Hugging Face dataset card (README.md)


def export_snapshot(
    engine: Engine,
    *,
    name: str,
    fmt: str = "trl",
    out_dir: str | Path,
    conversational: bool = False,
    price_table: str | Path | None = None,
    card: bool = True,
) -> dict[str, Any]:
    """Write the snapshot ``name`` to ``out_dir``; returns the export manifest. ``hf`` and
    ``trl`` exports also get ``README.md``, a dataset card (``accord.snapshots.card``);
    ``price_table`` (YAML/JSON) adds a dollar figure to its cost section; ``card=False``
    skips the card (its agreement figures cost an audit of the snapshot)."""
    if fmt not in FORMATS:
        raise SnapshotError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    prices = None
    if price_table is not None:
        from .card import load_price_table

        prices = load_price_table(price_table)  # a bad table fails before anything is written
    snap = get_snapshot(engine, name)
    from .demonstrations import is_demonstrations

    if fmt == "messages" and not is_demonstrations(snap):
        write_messages(engine, snap.id, Path(out_dir), conversational)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if is_demonstrations(snap):
        from .demonstration_export import write_demonstrations

        files = write_demonstrations(engine, snap.id, out, fmt=fmt, conversational=conversational)
        manifest = {**snap.manifest, "format": fmt, "conversational": conversational}
        manifest["files"] = files
        (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
        return manifest
    files = FORMATS[fmt].write_function()(engine, snap.id, out, conversational)
    manifest = {**snap.manifest, "format": fmt, "conversational": conversational, "files": files}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    if card and fmt in CARD_FORMATS:
        from .card import write_card

        write_card(engine, snap, out, fmt=fmt, prices=prices)
    return manifest
