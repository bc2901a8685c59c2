"""CSV with a header row: ``prompt``, ``chosen``, ``rejected`` and optional ``score`` or
``prob`` (P(chosen ≻ rejected) in [0, 1]), ``annotator`` and ``kind`` (``human`` | ``ai``,
overriding the import's label kind for that row).

Quoted fields may span lines; the line number reported for a bad row is the line where the
row starts. Empty optional cells mean "not given".

>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "prefs.csv"
>>> _ = path.write_text('prompt,chosen,rejected,prob\\n"2+2?",4,5,0.8\\n')
>>> [(i.line, i.value.chosen, i.value.judgments[0].prob_chosen) for i in read(path, ReadOptions())]
[(2, '4', 0.8)]
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Iterator
from pathlib import Path

from ..store.models.judgment import KINDS
from .base import (
    MAX_ANNOTATOR_CHARS,
    FieldError,
    InvalidRecordError,
    ReadItem,
    ReadOptions,
    check_text,
    iter_text_lines,
    optional_str,
    preference_record,
    probability,
)

REQUIRED = ("prompt", "chosen", "rejected")
# Long texts are normal in preference data; the csv module's default cell limit is 128 KiB.
csv.field_size_limit(2**31 - 1)


class _Lines:
    """Feeds decoded lines to ``csv.reader`` and remembers which raw lines were not UTF-8."""

    def __init__(self, path: Path):
        self._lines = iter_text_lines(path)
        self.position = 0
        self.bad_lines: set[int] = set()

    def __iter__(self):
        return self

    def __next__(self) -> str:
        number, self.position, text, raw = next(self._lines)
        if text is None:
            self.bad_lines.add(number)
            text = raw.decode("utf-8", "replace")
        return text


def _number(cell: str, name: str) -> float | None:
    if cell.strip() == "":
        return None
    try:
        return float(cell)
    except ValueError:
        raise FieldError(name, f"must be a number, got {cell!r}") from None


def record_from_cells(row: dict[str, str], opts: ReadOptions):
    for name in REQUIRED:
        check_text(row.get(name), name)
    prob = None
    for name in ("prob", "score"):
        if name in row:
            value = probability(_number(row[name], name), name)
            prob = value if value is not None else prob
    kind = (row.get("kind") or "").strip()
    if kind and kind not in KINDS:
        raise FieldError("kind", f"must be one of {KINDS}, got {kind!r}")
    row_opts = dataclasses.replace(opts, label_kind=kind) if kind else opts
    return preference_record(
        row_opts,
        prompt=row["prompt"],
        chosen=row["chosen"],
        rejected=row["rejected"],
        prob_chosen=prob,
        annotator=optional_str(row, "annotator", max_chars=MAX_ANNOTATOR_CHARS).strip(),
    )


def read(path: Path, opts: ReadOptions) -> Iterator[ReadItem]:
    lines = _Lines(path)
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise InvalidRecordError(path, 1, "<header>", f"bad CSV: {exc}") from None
    header = [h.strip().lstrip("\ufeff") for h in header]
    missing = [c for c in REQUIRED if c not in header]
    if missing or 1 in lines.bad_lines:
        reason = "not valid UTF-8" if not missing else f"missing columns {missing}"
        raise InvalidRecordError(path, 1, "<header>", reason)
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield ReadItem(
                start,
                lines.position,
                error=InvalidRecordError(path, start, "<csv>", f"bad CSV: {exc}"),
            )
            continue
        raw = _raw(cells)
        if not any(c.strip() for c in cells):
            continue
        bad = [n for n in range(start, reader.line_num + 1) if n in lines.bad_lines]
        if bad:
            yield ReadItem(
                start,
                lines.position,
                raw=raw,
                error=InvalidRecordError(path, bad[0], "<line>", "not valid UTF-8"),
            )
            continue
        if len(cells) != len(header):
            yield ReadItem(
                start,
                lines.position,
                raw=raw,
                error=InvalidRecordError(
                    path, start, "<csv>", f"{len(cells)} cells, the header has {len(header)}"
                ),
            )
            continue
        try:
            value = record_from_cells(dict(zip(header, cells)), opts)
        except FieldError as exc:
            yield ReadItem(
                start,
                lines.position,
                raw=raw,
                error=InvalidRecordError(path, start, exc.field, exc.reason),
            )
            continue
        yield ReadItem(start, lines.position, value=value, raw=raw)


def _raw(cells: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(cells)
    return out.getvalue().rstrip("\r\n")
