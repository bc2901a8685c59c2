"""Training data comes from a snapshot, never from the live store.

``load_snapshot(source)`` takes either a folder written by ``accord export NAME --format trl``
(``train.jsonl``, ``test.jsonl``, ``manifest.json``) or the NAME of a snapshot in the store,
which is exported once into ``<cache>/exports/<content hash>`` and read from there. Every row
is checked; a bad one fails with the file, line and field.

Rows are plain text or *conversational*: a prompt given as chat messages
(``[{"role": "user", "content": "..."}]``), with answers as strings or assistant messages. A
snapshot is one or the other; ``preference_columns`` and ``training_prompts`` hand trainers the
columns in the shape trl expects (answers of conversational rows as assistant messages), and
every trainer renders conversational rows with the model's own chat template
(``accord.train.chat``).

>>> from accord.train.data import load_snapshot          # doctest: +SKIP
>>> snap = load_snapshot("helpful-v1", db_url="sqlite:///accord.db")  # doctest: +SKIP
>>> snap.content_hash[:12], len(snap.train), snap.has_soft_labels  # doctest: +SKIP
('3f2a9c0d11e2', 900, True)
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accord.settings import get_settings

from .chat import (
    completion_messages,
    completion_text,
    is_conversational,
    message_errors,
    prompt_text,
)

TEXT_COLUMNS = ("prompt", "chosen", "rejected")
DEMONSTRATIONS = "demonstrations"  # manifest["kind"] of a demonstrations snapshot


class SnapshotDataError(ValueError):
    """A snapshot export that cannot be trained on (missing files, bad rows)."""


@dataclass
class SnapshotData:
    """One snapshot's examples, split, with its identity (name, content hash, store id)."""

    name: str
    content_hash: str
    folder: Path
    manifest: dict[str, Any]
    train_rows: list[dict[str, Any]]
    test_rows: list[dict[str, Any]]
    snapshot_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_conversational(self) -> bool:
        """Whether the prompts are chat messages (rendered with the model's chat template)."""
        return bool(self.train_rows) and is_conversational(self.train_rows[0]["prompt"])

    @property
    def is_demonstrations(self) -> bool:
        """Whether the rows are (prompt, completion) demonstrations for SFT rather than
        preferences (``accord snapshot create NAME --kind demonstrations``)."""
        return self.manifest.get("kind") == DEMONSTRATIONS

    @property
    def has_soft_labels(self) -> bool:
        return any(r.get("score") is not None for r in self.train_rows)

    def dataset(self, split: str = "train", *, columns: tuple[str, ...] | None = None):
        """The split as a ``datasets.Dataset`` (text columns plus ``score`` etc. when present)."""
        import datasets

        rows = self.train_rows if split == "train" else self.test_rows
        if columns is None:
            columns = tuple(rows[0].keys()) if rows else TEXT_COLUMNS
        return datasets.Dataset.from_dict({c: [r.get(c) for r in rows] for c in columns})


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise SnapshotDataError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
            if not isinstance(row, dict):
                raise SnapshotDataError(f"{path}:{lineno}: expected a JSON object per line")
            for column in TEXT_COLUMNS:
                value = row.get(column)
                if not isinstance(value, str | list):
                    raise SnapshotDataError(
                        f"{path}:{lineno}: field {column!r} is missing or not text"
                    )
                if isinstance(value, list) and (problem := message_errors(value)):
                    raise SnapshotDataError(f"{path}:{lineno}: field {column!r}: {problem}")
            if not isinstance(row["prompt"], list) and (
                isinstance(row["chosen"], list) or isinstance(row["rejected"], list)
            ):
                raise SnapshotDataError(
                    f"{path}:{lineno}: field 'prompt' is text but the answers are messages; "
                    "give the prompt as messages too"
                )
            if rows and isinstance(rows[0]["prompt"], list) != isinstance(row["prompt"], list):
                raise SnapshotDataError(
                    f"{path}:{lineno}: field 'prompt' mixes plain-text and conversational rows "
                    "in one file"
                )
            score = row.get("score")
            if score is not None and (
                not isinstance(score, int | float) or math.isnan(score) or not 0.0 <= score <= 1.0
            ):
                raise SnapshotDataError(
                    f"{path}:{lineno}: field 'score' must be a probability in [0, 1], got {score!r}"
                )
            rows.append(row)
    return rows


def _demonstration_row(row: Any, where: str) -> dict[str, Any]:
    """A demonstration row (TRL's SFT formats: ``messages``, or ``prompt`` / ``completion``
    as text or messages) as ``prompt`` / ``completion`` plus its other columns."""
    if not isinstance(row, dict):
        raise SnapshotDataError(f"{where}: expected a JSON object per line")
    if "messages" in row:
        messages = row["messages"]
        if problem := message_errors(messages):
            raise SnapshotDataError(f"{where}: field 'messages': {problem}")
        if len(messages) < 2 or messages[-1]["role"] != "assistant":
            raise SnapshotDataError(
                f"{where}: field 'messages' must end with the assistant's demonstration "
                "after at least one user turn"
            )
        rest = {k: v for k, v in row.items() if k != "messages"}
        return {"prompt": messages[:-1], "completion": messages[-1:], **rest}
    for column in ("prompt", "completion"):
        value = row.get(column)
        if not isinstance(value, str | list):
            raise SnapshotDataError(f"{where}: field {column!r} is missing or not text")
        if isinstance(value, list) and (problem := message_errors(value)):
            raise SnapshotDataError(f"{where}: field {column!r}: {problem}")
        if isinstance(value, str) and not value.strip():
            raise SnapshotDataError(f"{where}: field {column!r} is empty")
    return row


def _read_demonstrations(path: Path) -> list[dict[str, Any]]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise SnapshotDataError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
            rows.append(_demonstration_row(row, f"{path}:{lineno}"))
    return rows


def read_export(folder: str | Path) -> SnapshotData:
    """Read a ``--format trl`` export folder (of a demonstrations snapshot: ``--format trl``
    or ``--format messages``)."""
    folder = Path(folder)
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        raise SnapshotDataError(
            f"{folder}: no manifest.json (is this an `accord export --format trl` folder?)"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise SnapshotDataError(f"{manifest_path}:{e.lineno}: not valid JSON ({e.msg})") from None
    content_hash = manifest.get("content_hash")
    if not isinstance(content_hash, str) or not content_hash:
        raise SnapshotDataError(f"{manifest_path}: field 'content_hash' is missing")
    train_path = folder / "train.jsonl"
    if not train_path.is_file():
        raise SnapshotDataError(f"{folder}: no train.jsonl")
    read = _read_demonstrations if manifest.get("kind") == DEMONSTRATIONS else _read_jsonl
    train = read(train_path)
    test = read(folder / "test.jsonl") if (folder / "test.jsonl").is_file() else []
    if not train:
        raise SnapshotDataError(f"{train_path}: the train split is empty")
    return SnapshotData(
        name=str(manifest.get("name", folder.name)),
        content_hash=content_hash,
        folder=folder,
        manifest=manifest,
        train_rows=train,
        test_rows=test,
    )


def export_folder_for(content_hash: str) -> Path:
    return get_settings().cache_dir / "exports" / content_hash[:32]


def load_snapshot(source: str | Path, *, engine=None, db_url: str | None = None) -> SnapshotData:
    """A snapshot by export folder path or by name in the store (exported once, then reused)."""
    path = Path(source)
    if path.is_dir():
        return read_export(path)
    from accord.snapshots.build import get_snapshot
    from accord.snapshots.export import export_snapshot
    from accord.store.db import open_store

    engine = engine or open_store(db_url)
    snap = get_snapshot(engine, str(source))
    folder = export_folder_for(snap.content_hash)
    if not (folder / "manifest.json").is_file():
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            # training reads the split files only: no dataset card (it costs an audit);
            # demonstrations as messages, so the trainer renders them with the chat template
            fmt = "messages" if snap.manifest.get("kind") == DEMONSTRATIONS else "trl"
            export_snapshot(engine, name=snap.name, fmt=fmt, out_dir=staging, card=False)
            try:
                staging.rename(folder)
            except OSError:
                if not (folder / "manifest.json").is_file():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    data = read_export(folder)
    if data.content_hash != snap.content_hash:
        raise SnapshotDataError(
            f"{folder}: export hash {data.content_hash[:12]} ≠ snapshot {snap.content_hash[:12]}"
        )
    data.name, data.snapshot_id = snap.name, snap.id
    return data


def preference_columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """``prompt`` / ``chosen`` / ``rejected`` columns as trl takes them: text as is; for
    conversational rows the answers as assistant messages (a string becomes one turn)."""
    columns: dict[str, list[Any]] = {"prompt": [], "chosen": [], "rejected": []}
    for row in rows:
        conversational = is_conversational(row["prompt"])
        columns["prompt"].append(row["prompt"])
        for side in ("chosen", "rejected"):
            columns[side].append(completion_messages(row[side]) if conversational else row[side])
    return columns


def sft_columns(rows: list[dict[str, Any]], *, chat_template: bool) -> dict[str, list[Any]]:
    """``prompt`` / ``completion`` columns of demonstration rows as trl's SFTTrainer takes them:
    conversational (the model's chat template renders them, BOS once) when the tokenizer has a
    chat template, else plain text (the user turns' text and a line break, then the
    demonstration)."""
    columns: dict[str, list[Any]] = {"prompt": [], "completion": []}
    for row in rows:
        prompt, completion = row["prompt"], row["completion"]
        if chat_template:
            if not is_conversational(prompt):
                prompt = [{"role": "user", "content": prompt}]
            completion = completion_messages(completion)
        else:  # the prompt's text, a line break, the demonstration
            prompt = prompt_text(prompt) if is_conversational(prompt) else prompt
            prompt = prompt if prompt.endswith(("\n", " ")) else prompt + "\n"
            completion = completion_text(completion)
        columns["prompt"].append(prompt)
        columns["completion"].append(completion)
    return columns


def training_prompts(rows: list[dict[str, Any]]) -> list[Any]:
    """The distinct prompts of ``rows`` (text or messages), in a fixed order."""
    if all(isinstance(r["prompt"], str) for r in rows):
        return sorted({r["prompt"] for r in rows})
    unique = {
        json.dumps(r["prompt"], sort_keys=True, ensure_ascii=False): r["prompt"] for r in rows
    }
    return [unique[key] for key in sorted(unique)]


def revision_example_hashes(engine, snapshot_id: int) -> set[str]:
    """Example hashes of a snapshot whose chosen response is a critique-revise revision."""
    from sqlalchemy import select

    from accord.store.models import Response, SnapshotExample

    e, r = SnapshotExample.__table__, Response.__table__
    query = (
        select(e.c.example_hash)
        .join(r, r.c.id == e.c.chosen_id)
        .where(e.c.snapshot_id == snapshot_id, r.c.role == "revision")
    )
    with engine.connect() as conn:
        return {row[0] for row in conn.execute(query)}


def write_export(
    folder: str | Path,
    *,
    name: str,
    train: list[dict[str, Any]],
    test: list[dict[str, Any]] | None = None,
    content_hash: str | None = None,
) -> Path:
    """Write rows in the ``--format trl`` layout (fixtures, and exports made outside the store)."""
    from accord.hashing import content_hash as hash_of

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for split, rows in (("train", train), ("test", test or [])):
        with open(folder / f"{split}.jsonl", "w", encoding="utf-8") as f:
            f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    digest = content_hash or hash_of(name, train, test or [])
    manifest = {
        "name": name,
        "policy": "fixture",
        "content_hash": digest,
        "format": "trl",
        "counts": {"train": len(train), "test": len(test or [])},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return folder
