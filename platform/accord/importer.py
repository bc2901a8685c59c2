"""Import one file of preference data into the store: all of it, or nothing.

The file is read lazily and written in batches inside ONE transaction. The first invalid
row stops the import and rolls everything back (``InvalidRecordError`` names file, line and
field), unless ``skip_invalid`` is set: then each invalid row goes to a rejects file
(``<file>.rejects.jsonl`` by default, one JSON object per row with the reason) and the rest
is imported. Importing the same file again adds nothing: every row is keyed by content hash.

The rejects file is never the input file (also through a link) and an existing file is not
overwritten unless ``force``. Two rows of one file that give the same judgment different
answers are a conflict, whatever the batch size: the later row is invalid (an error naming
both lines, or a reject with ``skip_invalid``); repeating a row unchanged is fine.

>>> import tempfile, pathlib
>>> from accord.store.db import open_store
>>> from accord.data import sample_path
>>> engine = open_store(f"sqlite:///{tempfile.mkdtemp()}/store.db")
>>> report = import_file(engine, sample_path("sample_preferences.jsonl"), fmt="trl")
>>> report.new["pairs"] > 0, import_file(engine, sample_path("sample_preferences.jsonl"),
...                                      fmt="trl").already_present
(True, True)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from .formats.accord_rankings import RankingLine, store_rankings
from .formats.base import InvalidRecordError, ReadItem
from .formats.registry import RANKING_FORMATS, format_name, read_records
from .store.bundles import StoreBundle, bundle_from_preference, check_bundle_texts
from .store.db import session_scope
from .store.ingest import StoreIngestor
from .store.models._base import utcnow

PROGRESS_EVERY = 500  # rows between progress callbacks


@dataclass
class ImportReport:
    """What one import did: rows read, new rows per table, invalid rows skipped."""

    file: str
    format: str
    label_kind: str
    records: int = 0
    invalid: int = 0
    conflicts: int = 0
    rejects_path: str | None = None
    new: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("prompts", "responses", "pairs", "judgments", "annotators"), 0
        )
    )
    updated_judgments: int = 0  # for rankings: rankings whose ranks changed (history kept)
    unchanged_judgments: int = 0
    seconds: float = 0.0
    gold: int = 0  # pairs stored as gold (import with ``gold=True``)
    rankings: int = 0  # new rankings (``ranking``, ``accord``); their judgments are in ``new``

    @property
    def already_present(self) -> bool:
        """True when the file's rows were all in the store already (nothing new, nothing
        changed)."""
        return self.records > 0 and not any(self.new.values()) and not self.updated_judgments

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "already_present": self.already_present}


class _Rejects:
    """The rejects file, created on the first invalid row."""

    def __init__(self, path: Path):
        self.path = path
        self.count = 0
        self._handle = None

    def write(self, item: ReadItem, error: InvalidRecordError) -> None:
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 (closed in close())
        self._handle.write(
            json.dumps({**error.as_dict(), "row": item.raw}, ensure_ascii=False, default=str) + "\n"
        )
        self.count += 1

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


def default_rejects_path(path: Path) -> Path:
    return path.with_name(path.name + ".rejects.jsonl")


def check_rejects_path(input_path: Path, rejects_path: Path, *, force: bool = False) -> None:
    """``ValueError`` when writing rejects to ``rejects_path`` would destroy data: it is the
    input (same file, also through a link) or inside the input folder, or it exists already
    and ``force`` is not set."""
    same = rejects_path.resolve() == input_path.resolve()
    if not same and rejects_path.exists() and input_path.exists():
        try:
            same = rejects_path.samefile(input_path)
        except OSError:
            same = False
    if same:
        raise ValueError(
            f"{rejects_path}: the rejects file is the input file; choose another --rejects path"
        )
    if input_path.is_dir() and input_path.resolve() in rejects_path.resolve().parents:
        raise ValueError(
            f"{rejects_path}: the rejects file would be written inside the input "
            f"folder {input_path}"
        )
    if rejects_path.exists() and not force:
        raise ValueError(
            f"{rejects_path}: the rejects file exists already; remove it, choose "
            "another --rejects path, or pass --force to overwrite it"
        )


def _store_gold(session, answers: dict[str, str], *, source: str) -> int:
    from sqlmodel import select

    from .store.crud.gold import set_gold
    from .store.models import Pair

    keys = list(answers)
    for start in range(0, len(keys), 500):
        pairs = session.exec(select(Pair).where(Pair.content_hash.in_(keys[start : start + 500])))
        for pair in pairs.all():
            set_gold(session, pair=pair, answer=answers[pair.content_hash], source=source)
    return len(answers)


_ANSWER = ("preferred", "prob_a", "strength", "rationale", "status")
_MASK = (1 << 64) - 1


def import_file(
    engine: Engine,
    path: str | Path,
    *,
    fmt: str,
    label_kind: str = "human",
    skip_invalid: bool = False,
    rejects_path: str | Path | None = None,
    batch_size: int = 1000,
    progress: Callable[[int], None] | None = None,
    source: str | None = None,
    soft_labels: bool = False,
    force: bool = False,
    gold: bool = False,
) -> ImportReport:
    """Import ``path`` read as ``fmt``; ``progress(position)`` is called as the reader
    advances (bytes for text files, rows for tables: see ``formats.registry.progress_total``).

    Raises ``InvalidRecordError`` (nothing stored) on the first invalid row unless
    ``skip_invalid``; ``ValueError`` for an unknown format or label kind, or a rejects path
    that is the input or an existing file (without ``force``).

    A ranking format (``--format ranking``) stores each row as a ranking and its (K choose 2)
    judgments (``accord.store.crud.rankings``); ``report.rankings`` counts the new ones.

    ``gold``: the file's labels are known answers: each row's pair becomes a gold pair
    (``accord.gold``) with its label as the answer, and no judgment is stored for it. A row
    without a decisive label (a tie, or none) is then invalid.
    """
    path = Path(path)
    fmt = format_name(fmt)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    started = time.perf_counter()
    report = ImportReport(file=str(path), format=fmt, label_kind=label_kind)
    items = read_records(
        path, fmt, label_kind=label_kind, source=source or "", soft_labels=soft_labels
    )
    rejects = _Rejects(Path(rejects_path) if rejects_path else default_rejects_path(path))
    if skip_invalid:
        check_rejects_path(path, rejects.path, force=force)
    if fmt in RANKING_FORMATS:
        if gold:
            raise ValueError("gold answers are pairs: import rankings without --gold")
        try:
            _import_rankings(engine, path, items, report, rejects, skip_invalid, progress)
        finally:
            rejects.close()
        report.invalid = rejects.count
        report.rejects_path = str(rejects.path) if rejects.count else None
        report.seconds = round(time.perf_counter() - started, 3)
        return report
    # Judgment key (its first 64 bits) -> line << 64 | hash of the answer: plain ints, about
    # 100 bytes a judgment, so a million-row import keeps this in about 100 MB.
    answers: dict[int, int] = {}
    gold_answers: dict[str, str] = {}  # pair content hash -> canonical side (gold imports)
    # accord format: ranking lines (stored after the pairs) and ranking key -> judgment keys
    ranking_lines: list[tuple[int, RankingLine]] = []
    ranking_links: dict[str, list[str]] = {}

    def take_gold(bundle: StoreBundle, line: int | None) -> InvalidRecordError | None:
        sides = {j.get("preferred") for j in bundle.judgments} - {None}
        if len(sides) != 1 or not sides <= {"a", "b"}:
            return InvalidRecordError(
                path,
                line or 0,
                "<record>",
                "a gold pair needs one decisive "
                f"label (chosen better than rejected), got {sorted(sides)}",
            )
        gold_answers[bundle.pair["content_hash"]] = sides.pop()
        bundle.judgments = []
        return None

    def conflict(bundle: StoreBundle, line: int | None) -> InvalidRecordError | None:
        """The error for a judgment this file already gave another answer (else None)."""
        for j in bundle.judgments:
            answer = hash(tuple(j.get(k) for k in _ANSWER)) & _MASK
            first = answers.setdefault(int(j["key_hash"][:16], 16), ((line or 0) << 64) | answer)
            if first & _MASK != answer:
                return InvalidRecordError(
                    path,
                    line,
                    "<record>",
                    f"conflicts with line {first >> 64}: the same "
                    f"judgment ({j.get('kind')} {j.get('judge')!r}) with another answer; keep one",
                )
        return None

    def bundles() -> Iterator[StoreBundle]:
        now = utcnow()
        for n, item in enumerate(items, start=1):
            if n % PROGRESS_EVERY == 0:
                now = utcnow()
                if progress is not None:
                    progress(item.position)
            error, bundle = item.error, None
            if error is None and isinstance(item.value, RankingLine):
                if gold:
                    error = InvalidRecordError(
                        path, item.line, "ranking", "gold answers are pairs: import without --gold"
                    )
                else:
                    ranking_lines.append((item.line, item.value))
                    report.records += 1
                    continue
            if error is None:
                try:
                    # Preference records are checked as they become bundles; full bundles here.
                    bundle = (
                        check_bundle_texts(item.value)
                        if isinstance(item.value, StoreBundle)
                        else bundle_from_preference(item.value, now=now)
                    )
                except ValueError as exc:
                    error = InvalidRecordError(path, item.line, "<record>", str(exc))
            if error is None:
                error = conflict(bundle, item.line)
                report.conflicts += error is not None
            if error is None and gold:
                error = take_gold(bundle, item.line)
            if error is not None:
                if not skip_invalid:
                    raise error
                rejects.write(item, error)
                continue
            report.records += 1
            for j in bundle.judgments:
                if j.get("ranking"):
                    ranking_links.setdefault(j["ranking"], []).append(j["key_hash"])
            yield bundle
        if progress is not None and report.records + rejects.count:
            progress(item.position)

    try:
        with session_scope(engine) as session:
            ingestor = StoreIngestor(session, batch_size=batch_size)
            counts = ingestor.ingest(bundles())
            if ranking_lines or ranking_links:
                report.rankings = store_rankings(session, ranking_lines, ranking_links, path)
            if gold:
                report.gold = _store_gold(session, gold_answers, source=f"import:{path.name}")
    finally:
        rejects.close()
    report.new.update(
        prompts=counts.prompts,
        responses=counts.responses,
        pairs=counts.pairs,
        judgments=counts.judgments,
        annotators=counts.annotators,
    )
    report.updated_judgments, report.unchanged_judgments = counts.updated, counts.unchanged
    report.invalid = rejects.count
    report.rejects_path = str(rejects.path) if rejects.count else None
    report.seconds = round(time.perf_counter() - started, 3)
    return report


_COUNTED = {"prompts": "prompt", "responses": "response", "pairs": "pair", "judgments": "judgment"}


def _import_rankings(
    engine: Engine,
    path: Path,
    items: Iterator[ReadItem],
    report: ImportReport,
    rejects: _Rejects,
    skip_invalid: bool,
    progress: Callable[[int], None] | None,
) -> None:
    """Store each ``RankingRecord`` as a ranking and its pairwise judgments, in one
    transaction (``accord.store.crud.rankings``). Two rows giving one ranking (same judge,
    same responses) different ranks are a conflict, as for pairwise judgments."""
    from sqlalchemy import text as sql

    from .store.crud.annotators import get_or_create_annotator
    from .store.crud.prompts import upsert_prompt
    from .store.crud.rankings import dense_ranks, upsert_ranking
    from .store.crud.responses import upsert_response
    from .store.keys import prompt_key, ranking_group_key, ranking_key, response_key

    def counts(session) -> dict[str, int]:
        tables = {**_COUNTED, "annotators": "annotator", "rankings": "ranking"}
        return {
            name: session.execute(sql(f"SELECT COUNT(*) FROM {table}")).scalar_one()
            for name, table in tables.items()
        }

    seen: dict[str, tuple[int, list[int]]] = {}  # ranking key -> (line, dense ranks)

    def conflict(rec) -> InvalidRecordError | None:
        """The error for a ranking this file already gave other ranks (before any write)."""
        prompt_hash = prompt_key(rec.prompt, rec.prompt_messages)
        models = rec.models or [""] * len(rec.responses)
        hashes = [response_key(prompt_hash, t, model_id=m) for t, m in zip(rec.responses, models)]
        key = ranking_key(ranking_group_key(prompt_hash, hashes), rec.judge, kind=rec.kind)
        dense = dense_ranks(rec.ranks, field="ranking")
        canon = [dense[i] for i in sorted(range(len(hashes)), key=hashes.__getitem__)]
        line, first = seen.setdefault(key, (item.line, canon))
        if first == canon:
            return None
        report.conflicts += 1
        return InvalidRecordError(
            path,
            item.line,
            "ranking",
            f"conflicts with line {line}: the same ranking ({rec.kind} {rec.judge!r}) with "
            "other ranks; keep one",
        )

    with session_scope(engine) as session:
        before = counts(session)
        for n, item in enumerate(items, start=1):
            if progress is not None and n % PROGRESS_EVERY == 0:
                progress(item.position)
            error = item.error if item.error is not None else conflict(item.value)
            if error is not None:
                if not skip_invalid:
                    raise error
                rejects.write(item, error)
                continue
            # The reader checked every field and ``conflict`` the file's consistency: an error
            # from here on stops the import, and the transaction stores nothing.
            rec = item.value
            prompt = upsert_prompt(
                session, text=rec.prompt, messages=rec.prompt_messages, source=rec.source
            )
            models = rec.models or [""] * len(rec.responses)
            responses = [
                upsert_response(session, prompt=prompt, text=t, model_id=m, backend="import")
                for t, m in zip(rec.responses, models)
            ]
            annotator_id = None
            if rec.annotator:
                annotator_id = get_or_create_annotator(
                    session, username=rec.annotator, source="import"
                ).id
            try:
                _, outcome = upsert_ranking(
                    session,
                    prompt=prompt,
                    responses=responses,
                    ranks=rec.ranks,
                    kind=rec.kind,
                    judge=rec.judge,
                    annotator_id=annotator_id,
                    shown_order=[responses[i] for i in rec.shown_order]
                    if rec.shown_order
                    else None,
                    source=rec.source,
                )
            except ValueError as exc:
                raise InvalidRecordError(path, item.line, "<record>", str(exc)) from None
            report.updated_judgments += outcome == "updated"
            report.records += 1
        after = counts(session)
    report.rankings = after.pop("rankings") - before.pop("rankings")
    report.new.update({name: after[name] - before[name] for name in report.new})
