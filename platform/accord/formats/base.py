"""What every import format shares: row results, the invalid-record error, field checks and
a streaming line reader.

A reader yields one :class:`ReadItem` per source row, in order: either a record or the
:class:`InvalidRecordError` that row raised, so the importer decides whether to stop or to
write the row to a rejects file and go on. Readers never hold more than one row (or one
small batch of rows) in memory.

>>> import json, tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "x.jsonl"
>>> _ = path.write_bytes(b'{"a": 1}\\n\\nnot json\\n')
>>> [(i.line, i.error.field if i.error else i.value) for i in iter_json_lines(path)]
[(1, {'a': 1}), (3, '<json>')]
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..store.ingest import JudgmentSpec, PreferenceRecord
from ..store.models.judgment import KINDS

# Column limits of the store (PostgreSQL enforces them; checking here names the line).
MAX_JUDGE_CHARS = 300
MAX_MODEL_CHARS = 300
MAX_ANNOTATOR_CHARS = 200
MAX_PRINCIPLE_CHARS = 100
MAX_SOURCE_CHARS = 200


class InvalidRecordError(ValueError):
    """A source row that cannot be imported: names the file, the line (or row) and the field."""

    def __init__(self, file: str | Path, line: int, field: str, reason: str):
        self.file, self.line, self.field, self.reason = str(file), line, field, reason
        super().__init__(f"{self.file}:{line}: field {field!r}: {reason}")

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "field": self.field, "reason": self.reason}


class FieldError(ValueError):
    """Raised by row converters; the reader adds file and line to make an InvalidRecordError."""

    def __init__(self, field: str, reason: str):
        self.field, self.reason = field, reason
        super().__init__(f"{field}: {reason}")


@dataclass
class ReadItem:
    """One source row: its line (row number for tables), how far the reader got (bytes for
    text files, rows for tables), and either the parsed value or the error."""

    line: int
    position: int
    value: Any = None
    error: InvalidRecordError | None = None
    raw: Any = None  # the row as read (a line, or a table row's dict), for the rejects file


@dataclass
class ReadOptions:
    """How imported rows become judgments.

    ``label_kind``: ``human`` (default) or ``ai`` (labels that came from a model, such as
    UltraFeedback's GPT-4 scores). ``source``: recorded on prompts, pairs and judgments; the
    judge identity of rows without an annotator is ``import:<source>``. ``soft_labels``:
    derive a soft probability from per-response scores (Bradley–Terry) where a format has them.
    """

    label_kind: str = "human"
    source: str = ""
    soft_labels: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.label_kind not in KINDS:
            raise ValueError(f"label_kind must be one of {KINDS}, got {self.label_kind!r}")
        self.source = self.source[:MAX_SOURCE_CHARS]

    @property
    def judge(self) -> str:
        return f"import:{self.source}"[:MAX_JUDGE_CHARS]


def source_size(path: Path) -> int:
    """The total the reader's ``position`` runs up to for a text file (its size in bytes)."""
    return path.stat().st_size


def open_binary(path: Path):
    """The file as bytes; ``.gz`` files are decompressed on the fly."""
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _raw_position(handle) -> int:
    raw = getattr(handle, "fileobj", None) or handle  # gzip: the compressed bytes read so far
    return raw.tell()


def iter_text_lines(path: Path) -> Iterator[tuple[int, int, str | None, bytes]]:
    """(line number, bytes read, text or None when not UTF-8, raw bytes) for each line."""
    with open_binary(path) as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = None
            yield number, _raw_position(handle), text, raw


def iter_json_lines(path: Path) -> Iterator[ReadItem]:
    """Each non-blank line of a JSONL file as a JSON object, or the error that line raised."""
    for number, position, text, raw in iter_text_lines(path):
        if text is None:
            yield ReadItem(
                number,
                position,
                raw=raw.decode("utf-8", "replace").rstrip("\n"),
                error=InvalidRecordError(path, number, "<line>", "not valid UTF-8"),
            )
            continue
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            yield ReadItem(
                number,
                position,
                raw=text.rstrip("\n"),
                error=InvalidRecordError(path, number, "<json>", f"bad JSON: {exc.msg}"),
            )
            continue
        if not isinstance(obj, dict):
            yield ReadItem(
                number,
                position,
                raw=text.rstrip("\n"),
                error=InvalidRecordError(
                    path,
                    number,
                    "<json>",
                    f"a line must be a JSON object, got {type(obj).__name__}",
                ),
            )
            continue
        yield ReadItem(number, position, value=obj, raw=text.rstrip("\n"))


def convert_rows(path: Path, rows: Iterator[ReadItem], convert) -> Iterator[ReadItem]:
    """Apply ``convert(row) -> record`` to parsed rows, turning FieldErrors into line errors."""
    for item in rows:
        if item.error is None:
            try:
                item.value = convert(item.value)
            except FieldError as exc:
                item.value, item.error = (
                    None,
                    InvalidRecordError(path, item.line, exc.field, exc.reason),
                )
        yield item


# --- field checks shared by the row converters ---------------------------------------------


def check_text(value: Any, name: str) -> str:
    """A non-empty string the store can hold (PostgreSQL text cannot contain NUL)."""
    if value is None:
        raise FieldError(name, "missing")
    if not isinstance(value, str):
        raise FieldError(name, f"must be a string, got {type(value).__name__}")
    if not value.strip():
        raise FieldError(name, "empty text")
    if "\x00" in value:
        raise FieldError(name, "contains a NUL character")
    return value


def require(row: dict[str, Any], name: str) -> Any:
    if name not in row or row[name] is None:
        raise FieldError(name, "missing")
    return row[name]


def optional_str(row: dict[str, Any], name: str, *, max_chars: int) -> str:
    value = row.get(name)
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise FieldError(name, f"must be a string, got {type(value).__name__}")
    if len(value) > max_chars:
        raise FieldError(name, f"longer than {max_chars} characters")
    if "\x00" in value:
        raise FieldError(name, "contains a NUL character")
    return value


def optional_number(row: dict[str, Any], name: str) -> float | None:
    value = row.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FieldError(name, f"must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise FieldError(name, "must be a finite number")
    return value


def probability(value: float | None, name: str) -> float | None:
    if value is not None and not 0.0 <= value <= 1.0:
        raise FieldError(name, f"must be a probability within [0, 1], got {value}")
    return value


def check_messages(value: Any, name: str) -> list[dict[str, str]]:
    """A conversation: a non-empty list of {"role": str, "content": non-empty str}."""
    if not isinstance(value, list) or not value:
        raise FieldError(name, "must be a non-empty list of messages")
    out = []
    for i, msg in enumerate(value):
        where = f"{name}[{i}]"
        if not isinstance(msg, dict):
            raise FieldError(where, f"a message must be an object, got {type(msg).__name__}")
        role = msg.get("role")
        if not isinstance(role, str) or not role:
            raise FieldError(f"{where}.role", "missing or not a string")
        out.append({"role": role, "content": check_text(msg.get("content"), f"{where}.content")})
    return out


def distinct_sides(
    chosen: str, rejected: str, chosen_model: str = "", rejected_model: str = ""
) -> None:
    """A pair needs two different responses (the store keys a response by text and model)."""
    if chosen == rejected and chosen_model == rejected_model:
        raise FieldError("rejected", "identical to chosen (a pair needs two different responses)")


def preference_record(
    opts: ReadOptions,
    *,
    prompt: str,
    chosen: str,
    rejected: str,
    prompt_messages: list[dict[str, Any]] | None = None,
    chosen_messages: list[dict[str, Any]] | None = None,
    rejected_messages: list[dict[str, Any]] | None = None,
    prob_chosen: float | None = None,
    tie: bool = False,
    annotator: str = "",
    chosen_model: str = "",
    rejected_model: str = "",
    prompt_meta: dict[str, Any] | None = None,
    judgment_meta: dict[str, Any] | None = None,
) -> PreferenceRecord:
    """The record of one imported preference: one judgment of ``opts.label_kind`` by the
    row's annotator when it names one, else by ``import:<source>``."""
    distinct_sides(chosen, rejected, chosen_model, rejected_model)
    human = opts.label_kind == "human"
    spec = JudgmentSpec(
        kind=opts.label_kind,
        judge=annotator or opts.judge,
        prob_chosen=prob_chosen,
        tie=tie,
        annotator=annotator if (annotator and human) else None,
        meta=judgment_meta or {},
    )
    return PreferenceRecord(
        prompt=prompt,
        chosen=chosen,
        rejected=rejected,
        prompt_messages=prompt_messages,
        chosen_messages=chosen_messages,
        rejected_messages=rejected_messages,
        chosen_model=chosen_model,
        rejected_model=rejected_model,
        source=opts.source,
        prompt_meta=prompt_meta or {},
        judgments=[spec],
    )
