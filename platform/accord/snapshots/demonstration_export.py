"""Exports of a demonstrations snapshot in TRL's SFT formats (``accord export NAME``).

- ``--format messages``: ``train.jsonl`` / ``test.jsonl`` with ``messages``: the prompt's
  user turn(s) and the demonstration as the assistant's turn (TRL's conversational
  language-modelling format).
- ``--format trl``: the same files with ``prompt`` / ``completion`` (TRL's prompt-completion
  format): text, or with ``--conversational`` the prompt as messages and the completion as one
  assistant message.
- ``--format hf`` and ``--format parquet``: the prompt-completion columns as a
  ``datasets.DatasetDict`` (``load_from_disk``) or ``train.parquet`` / ``test.parquet``.

Every row also carries ``author`` (the annotator), ``source``, ``response_id`` and
``example_hash``; ``manifest.json`` holds the snapshot manifest, the format and each file's
rows and sha256 (``accord snapshot verify --export DIR`` checks them and, with the store, every
row). A preference snapshot exported as ``messages`` is refused.

>>> sft_row({"prompt": "Hi", "prompt_messages": None, "completion": "Hello!", "author": "a",
...          "source": "s", "response_id": 1, "example_hash": "h", "split": "train"},
...         fmt="messages", conversational=False)["messages"][1]
{'role': 'assistant', 'content': 'Hello!'}
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from .demonstrations import iter_demonstrations

SPLITS = ("train", "test")
PROVENANCE = ("author", "source", "response_id", "example_hash")
SFT_FORMATS = ("messages", "trl", "hf", "parquet")


def _user_turns(row: dict[str, Any]) -> list[dict[str, str]]:
    messages = row.get("prompt_messages")
    if isinstance(messages, str):  # the JSON column as text (SQLite through the core API)
        messages = json.loads(messages)
    return list(messages) if messages else [{"role": "user", "content": row["prompt"]}]


def sft_row(row: dict[str, Any], *, fmt: str, conversational: bool) -> dict[str, Any]:
    """One exported row: ``messages`` for the messages format, else ``prompt`` /
    ``completion`` (message lists when ``conversational``), then the provenance columns."""
    if fmt == "messages":
        out: dict[str, Any] = {
            "messages": [*_user_turns(row), {"role": "assistant", "content": row["completion"]}]
        }
    elif conversational:
        out = {
            "prompt": _user_turns(row),
            "completion": [{"role": "assistant", "content": row["completion"]}],
        }
    else:
        out = {"prompt": row["prompt"], "completion": row["completion"]}
    out.update({k: row[k] for k in PROVENANCE})
    return out


def exported_rows(
    engine: Engine, snapshot_id: int, split: str, *, fmt: str, conversational: bool
) -> list[dict[str, Any]]:
    """The rows of one split as the export writes them (what verification compares)."""
    return [
        sft_row(r, fmt=fmt, conversational=conversational)
        for r in iter_demonstrations(engine, snapshot_id, split=split)
    ]


def _write_jsonl(
    engine: Engine, snapshot_id: int, out: Path, *, fmt: str, conversational: bool
) -> dict[str, Any]:
    files = {}
    for split in SPLITS:
        path = out / f"{split}.jsonl"
        data = "".join(
            json.dumps(row, ensure_ascii=False) + "\n"
            for row in exported_rows(
                engine, snapshot_id, split, fmt=fmt, conversational=conversational
            )
        ).encode("utf-8")
        path.write_bytes(data)
        files[path.name] = {"rows": data.count(b"\n"), "sha256": hashlib.sha256(data).hexdigest()}
    return files


def _arrow_table(rows: list[dict[str, Any]], conversational: bool):
    import pyarrow as pa

    message = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
    text = message if conversational else pa.string()
    schema = pa.schema(
        [
            ("prompt", text),
            ("completion", text),
            ("author", pa.string()),
            ("source", pa.string()),
            ("response_id", pa.int64()),
            ("example_hash", pa.string()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def write_demonstrations(
    engine: Engine, snapshot_id: int, out: Path, *, fmt: str, conversational: bool
) -> dict[str, Any]:
    """Write a demonstrations snapshot in ``fmt``; returns the manifest's ``files``."""
    from .export import file_sha256

    if fmt in ("messages", "trl"):
        return _write_jsonl(engine, snapshot_id, out, fmt=fmt, conversational=conversational)
    tables = {
        split: _arrow_table(
            exported_rows(engine, snapshot_id, split, fmt="trl", conversational=conversational),
            conversational,
        )
        for split in SPLITS
    }
    files: dict[str, Any] = {}
    if fmt == "parquet":
        import pyarrow.parquet as pq

        for split, table in tables.items():
            path = out / f"{split}.parquet"
            pq.write_table(table, path)
            files[path.name] = {"rows": table.num_rows, "sha256": file_sha256(path)}
        return files
    import datasets

    dd = datasets.DatasetDict({s: datasets.Dataset(t) for s, t in tables.items()})
    dd.save_to_disk(str(out), num_shards={s: 1 for s in SPLITS})
    for split in SPLITS:
        files[split] = {"rows": len(dd[split])}
    for f in sorted(out.rglob("*.arrow")):
        files[str(f.relative_to(out))] = {"sha256": file_sha256(f)}
    return files


def read_exported(out: Path, fmt: str, split: str) -> list[dict[str, Any]]:
    """The rows of one split of an export, as written."""
    if fmt in ("messages", "trl"):
        with open(out / f"{split}.jsonl", encoding="utf-8") as f:
            return [json.loads(line) for line in f]
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.read_table(out / f"{split}.parquet").to_pylist()
    import datasets

    return list(datasets.load_from_disk(str(out))[split])


def compare_exported(engine: Engine, snapshot_id: int, out: Path, manifest: dict, report) -> None:
    """Every exported row against the store's row of the same split and position."""
    fmt, conversational = manifest.get("format", "trl"), bool(manifest.get("conversational"))
    for split in SPLITS:
        where = out / {"parquet": f"{split}.parquet", "hf": split}.get(fmt, f"{split}.jsonl")
        stored = exported_rows(
            engine,
            snapshot_id,
            split,
            fmt="trl" if fmt in ("hf", "parquet") else fmt,
            conversational=conversational,
        )
        try:
            mine = read_exported(out, fmt, split)
        except (OSError, ValueError, KeyError) as exc:
            report.fail(f"{where}: cannot be read ({exc})")
            continue
        if len(mine) != len(stored):
            report.fail(
                f"{where}: {len(mine)} rows, the store's snapshot has {len(stored)} in {split}"
            )
        for n, (a, b) in enumerate(zip(mine, stored), start=1):
            changed = [c for c in b if a.get(c) != b[c]]
            if changed:
                report.fail(
                    f"{where}: row {n} differs from the store's snapshot ({', '.join(changed)})"
                )
