"""import_prompts: prompts from a JSONL, TXT or CSV file, the bundled sample, or the store.

Files are read and checked whole before anything is written (a bad line is reported as
``file:line: message`` and nothing is stored); prompts are then inserted in one transaction,
keyed by content, so importing twice adds nothing.

>>> rows = read_prompt_file(bundled_prompts_path())
>>> len(rows) >= 20 and all(r["text"] for r in rows)
True
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator
from sqlmodel import Session, select

from ..constitutions import DocumentError
from ..jobs.context import StepContext, StepOutput
from ..jobs.registry import StepConfig
from ..store.bulk import ids_by_key, insert_ignore
from ..store.crud.prompts import prompt_row
from ..store.db import session_scope
from ..store.models import Prompt

TEXT_FIELDS = ("prompt", "text", "instruction", "question")
BUNDLED = {"quickstart": "quickstart_prompts.jsonl"}


class ImportPromptsConfig(StepConfig):
    """Load prompts into the store (exactly one of file, bundled, store_source)."""

    file: str | None = Field(
        default=None,
        description="Path (relative to the recipe) of a "
        ".jsonl, .txt (one prompt per line) or .csv file.",
    )
    bundled: str | None = Field(default=None, description="A bundled prompt set: quickstart.")
    store_source: str | None = Field(
        default=None, description="Use prompts already in the store with this source label."
    )
    field: str | None = Field(
        default=None,
        description="JSONL/CSV field holding the text "
        "(default: the first of prompt, text, instruction, question).",
    )
    source: str | None = Field(
        default=None, description="Source label stored on new prompts (default: the file name)."
    )
    limit: int | None = Field(default=None, ge=1, description="Use only the first N prompts.")

    @model_validator(mode="after")
    def _one_origin(self) -> ImportPromptsConfig:
        given = [k for k in ("file", "bundled", "store_source") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of file, bundled, store_source (got {given or 'none'})"
            )
        if self.bundled and self.bundled not in BUNDLED:
            raise ValueError(
                f"unknown bundled prompt set {self.bundled!r}; known: {sorted(BUNDLED)}"
            )
        return self


def bundled_prompts_path(name: str = "quickstart") -> Path:
    here = Path(__file__).resolve().parent.parent
    for base in (here.parent.parent / "pipelines" / "data", here / "_data" / "pipelines" / "data"):
        if (base / BUNDLED[name]).is_file():
            return base / BUNDLED[name]
    return here.parent.parent / "pipelines" / "data" / BUNDLED[name]


def _text_of(record: dict[str, Any], field: str | None) -> Any:
    if field is not None:
        return record.get(field)
    for name in TEXT_FIELDS:
        if record.get(name):
            return record[name]
    return None


def read_prompt_file(path: str | Path, *, field: str | None = None) -> list[dict[str, Any]]:
    """Parse every prompt of a file; raise ``DocumentError`` (file:line) on the first bad ones."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DocumentError(
            str(path), [("", None, f"cannot read file: {exc.strerror or exc}")]
        ) from exc
    out: list[dict[str, Any]] = []
    problems: list[tuple[str, int | None, str]] = []
    suffix = path.suffix.lower()
    if suffix == ".txt":
        for n, line in enumerate(raw.splitlines(), 1):
            if line.strip():
                out.append({"text": line.strip(), "meta": {"line": n}})
    elif suffix in (".jsonl", ".ndjson"):
        for n, line in enumerate(raw.splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(("", n, f"invalid JSON: {exc.msg}"))
                continue
            if not isinstance(record, dict):
                problems.append(("", n, "expected a JSON object"))
                continue
            messages = record.get("messages")
            text = _text_of(record, field)
            if not (isinstance(text, str) and text.strip()) and not messages:
                want = field or " / ".join(TEXT_FIELDS)
                problems.append(
                    (field or "prompt", n, f"no prompt text (field {want}) or messages")
                )
                continue
            meta = {k: v for k, v in record.items() if k not in (*TEXT_FIELDS, "messages")}
            out.append(
                {
                    "text": text.strip() if isinstance(text, str) else "",
                    "messages": messages,
                    "meta": meta,
                }
            )
    elif suffix == ".csv":
        reader = csv.DictReader(raw.splitlines())
        for n, record in enumerate(reader, 2):
            text = _text_of(record, field)
            if not (isinstance(text, str) and text.strip()):
                problems.append(
                    (field or "prompt", n, f"no prompt text (columns {reader.fieldnames})")
                )
                continue
            out.append(
                {
                    "text": text.strip(),
                    "meta": {k: v for k, v in record.items() if k not in TEXT_FIELDS},
                }
            )
    else:
        problems.append(
            ("", None, f"unsupported prompt file type {suffix!r} (use .jsonl, .txt or .csv)")
        )
    if problems:
        raise DocumentError(str(path), problems[:20])
    if not out:
        raise DocumentError(str(path), [("", None, "the file holds no prompts")])
    return out


def run_import_prompts(ctx: StepContext, config: ImportPromptsConfig) -> StepOutput:
    task = ctx.progress.add_step(f"{ctx.step_name}: prompts", total=1)
    if config.store_source is not None:
        with Session(ctx.engine) as session:
            q = select(Prompt.id).where(Prompt.source == config.store_source).order_by(Prompt.id)
            ids = list(session.exec(q.limit(config.limit) if config.limit else q).all())
        ctx.progress.advance(task)
        return StepOutput(prompts=ids, counts={"prompts_from_store": len(ids)})
    path = bundled_prompts_path(config.bundled) if config.bundled else Path(config.file)
    if config.file and not path.is_absolute():
        path = ctx.base_dir / path
    records = read_prompt_file(path, field=config.field)[: config.limit]
    source = config.source or (f"bundled:{config.bundled}" if config.bundled else path.name)
    rows = [
        prompt_row(text=r["text"], source=source, messages=r.get("messages"), meta=r.get("meta"))
        for r in records
    ]
    from ..store.models._base import utcnow

    now = utcnow()
    for row in rows:
        row["created_at"] = now
    with session_scope(ctx.engine) as session:
        created = insert_ignore(session, Prompt.__table__, rows)
        by_key = ids_by_key(session, Prompt.__table__, [r["content_hash"] for r in rows])
    ids = list(dict.fromkeys(by_key[r["content_hash"]] for r in rows))
    ctx.progress.advance(task)
    return StepOutput(prompts=ids, counts={"prompts_created": created})
