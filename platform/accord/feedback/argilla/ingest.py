"""One Argilla response → one ``human`` judgment: the code path shared by pull and webhooks.

A response names a record (whose pair and shown A/B order the store knows from the push), a
user and values. The label is mapped back to the pair's canonical sides and written with
``upsert_judgment`` under the key (pair, annotator username, shown order, "", ""), so the same
response ingested twice changes nothing and a changed answer updates the judgment with its old
value kept in ``judgmentrevision``. Discarded responses are stored with status "discarded"; a
deleted (or withdrawn) response turns the judgment into a discarded one, its last label kept
in the history. Bad data (unknown record, missing answer) is reported and skipped.

>>> ev = ResponseEvent(dataset="d", record_external_id="accord-pair-1", user_id="u",
...                    username="ann", status="submitted", values={"preference": {"value": "a"}})
>>> ev.label
'a'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, select

from ...store.crud.annotators import get_or_create_annotator
from ...store.crud.judgments import upsert_judgment
from ...store.models import Annotator, ArgillaRecord, Judgment, Pair
from . import schema

PROB_A = {"a": 1.0, "b": 0.0, "tie": 0.5}


def parse_time(value: Any) -> datetime | None:
    """Argilla's timestamps (ISO, UTC without an offset) as aware UTC datetimes."""
    if value is None or isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            return None
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@dataclass
class ResponseEvent:
    """What accord needs from one Argilla response, however it arrived."""

    dataset: str
    record_external_id: str | None
    user_id: str
    username: str | None
    status: str
    values: dict[str, Any] | None = None
    response_id: str | None = None
    record_id: str | None = None
    inserted_at: datetime | None = None
    updated_at: datetime | None = None
    deleted: bool = False

    def _value(self, question: str) -> Any:
        entry = (self.values or {}).get(question)
        return entry.get("value") if isinstance(entry, dict) else None

    @property
    def label(self) -> Any:
        return self._value(schema.PREFERENCE)

    @property
    def strength(self) -> Any:
        return self._value(schema.STRENGTH)

    @property
    def rationale(self) -> Any:
        return self._value(schema.RATIONALE)


@dataclass
class IngestTally:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    discarded: int = 0
    withdrawn: int = 0
    stale: int = 0
    drafts: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)

    def problem(self, message: str) -> None:
        self.skipped += 1
        if len(self.problems) < 1000:  # a report, not a second copy of a broken dataset
            self.problems.append(message)

    def to_dict(self) -> dict:
        return asdict(self)


def _human_judgments():
    return select(
        Judgment.pair_id,
        Judgment.judge,
        Judgment.presentation_order,
        Judgment.meta,
        Judgment.status,
    ).where(Judgment.kind == "human", Judgment.principle == "", Judgment.constitution_hash == "")


@dataclass
class IngestCache:
    """Lookups shared by the sessions of one pull (rows are read, never written, through it)."""

    records: dict[tuple[str, str], ArgillaRecord | None] = field(default_factory=dict)
    pairs: dict[int, Pair | None] = field(default_factory=dict)
    annotators: dict[str, Annotator] = field(default_factory=dict)
    # (pair id, annotator, shown order) -> (Argilla updated_at it reflects, status) of every
    # human judgment on the preloaded datasets' pairs: one query instead of one per response.
    judgments: dict[tuple[int, str, str], tuple[str | None, str]] = field(default_factory=dict)
    preloaded: set[str] = field(default_factory=set)


class ResponseIngestor:
    """Writes response events into one session, caching records, pairs and annotators."""

    def __init__(
        self, session: Session, tally: IngestTally | None = None, cache: IngestCache | None = None
    ):
        self.session = session
        self.tally = tally or IngestTally()
        self.cache = cache = cache or IngestCache()
        self._records, self._pairs = cache.records, cache.pairs
        self._annotators, self._preloaded = cache.annotators, cache.preloaded

    def preload_dataset(self, dataset: str) -> None:
        """Load the push state of a whole dataset at once (pulls touch most records)."""
        if dataset in self._preloaded:
            return
        for row in self.session.exec(select(ArgillaRecord).where(ArgillaRecord.dataset == dataset)):
            self._records[(dataset, row.record_id)] = row
        in_dataset = select(ArgillaRecord.pair_id).where(ArgillaRecord.dataset == dataset)
        for pair in self.session.exec(select(Pair).where(Pair.id.in_(in_dataset))):
            self._pairs[pair.id] = pair
        for row in self.session.exec(_human_judgments().where(Judgment.pair_id.in_(in_dataset))):
            self.cache.judgments[row[:3]] = ((row[3] or {}).get("argilla_updated_at"), row[4])
        self._preloaded.add(dataset)

    def _known(self, dataset: str, key: tuple[int, str, str]) -> tuple[str | None, str] | None:
        """(updated_at, status) of the judgment a response maps to, or None when there is none
        (its natural key: pair, annotator, shown order, no principle, no constitution)."""
        if dataset in self._preloaded:
            return self.cache.judgments.get(key)
        row = self.session.exec(
            _human_judgments().where(
                Judgment.pair_id == key[0],
                Judgment.judge == key[1],
                Judgment.presentation_order == key[2],
            )
        ).first()
        return None if row is None else ((row[3] or {}).get("argilla_updated_at"), row[4])

    def _record(self, dataset: str, external_id: str) -> ArgillaRecord | None:
        key = (dataset, external_id)
        if key not in self._records:
            if dataset in self._preloaded:
                return None
            self._records[key] = self.session.exec(
                select(ArgillaRecord).where(
                    ArgillaRecord.dataset == dataset, ArgillaRecord.record_id == external_id
                )
            ).first()
        return self._records[key]

    def _pair(self, pair_id: int) -> Pair | None:
        if pair_id not in self._pairs:
            self._pairs[pair_id] = self.session.get(Pair, pair_id)
        return self._pairs[pair_id]

    def _annotator(self, username: str, user_id: str) -> Annotator:
        annotator = self._annotators.get(username)
        if annotator is None or annotator.external_id != user_id:
            annotator = get_or_create_annotator(
                self.session, username=username, source="argilla", external_id=user_id
            )
            self._annotators[username] = annotator
        return annotator

    def ingest(self, event: ResponseEvent) -> str:
        """Apply one event; returns what happened (a tally field name)."""
        tally = self.tally
        where = f"dataset {event.dataset!r} record {event.record_external_id or event.record_id}"
        if event.status == "draft" and not event.deleted:
            tally.drafts += 1
            return "drafts"
        if not event.record_external_id:
            tally.problem(f"{where}: record has no external id (not pushed by accord); skipped")
            return "skipped"
        state = self._record(event.dataset, event.record_external_id)
        if state is None:
            tally.problem(f"{where}: unknown record (not pushed from this store); skipped")
            return "skipped"
        pair = self._pair(state.pair_id)
        if pair is None:
            tally.problem(f"{where}: pair {state.pair_id} is no longer in the store; skipped")
            return "skipped"
        if not event.username:
            tally.problem(f"{where}: response of unknown user {event.user_id}; skipped")
            return "skipped"
        key = (pair.id, event.username, state.shown_order)
        known = self._known(event.dataset, key)
        seen_at = known[0] if known is not None else None
        if (
            seen_at
            and event.updated_at is not None
            and not event.deleted
            and parse_time(seen_at) > event.updated_at
        ):
            tally.stale += 1  # an older delivery arriving after a newer pull
            return "stale"

        if event.deleted:
            if known is None or known[1] == "discarded":
                tally.unchanged += 1
                return "unchanged"
            return self._write(
                event, pair, state, preferred=None, status="discarded", withdrawn=True
            )
        if event.status == "discarded":
            return self._write(event, pair, state, preferred=None, status="discarded")
        if event.status != "submitted":
            tally.problem(f"{where}: response status {event.status!r} is not understood; skipped")
            return "skipped"
        label = event.label
        if label not in schema.PREFERENCE_LABELS:
            what = "has no preference answer" if label is None else f"has preference {label!r}"
            tally.problem(f"{where}: response of {event.username} {what}; skipped")
            return "skipped"
        return self._write(
            event,
            pair,
            state,
            preferred=schema.to_canonical(label, state.shown_order),
            status="submitted",
            label=label,
        )

    def _write(
        self,
        event: ResponseEvent,
        pair: Pair,
        state: ArgillaRecord,
        *,
        preferred: str | None,
        status: str,
        label: str | None = None,
        withdrawn: bool = False,
    ) -> str:
        strength = event.strength if status == "submitted" else None
        if strength is not None and strength not in schema.STRENGTH_VALUES:
            self.tally.problems.append(
                f"record {event.record_external_id}: strength {strength!r} "
                f"of {event.username} ignored"
            )
            strength = None
        rationale = event.rationale if status == "submitted" else None
        rationale = rationale.strip() or None if isinstance(rationale, str) else None
        annotator = self._annotator(event.username, event.user_id)
        meta = {
            "argilla_dataset": event.dataset,
            "argilla_record_id": event.record_id,
            "record_external_id": event.record_external_id,
            "argilla_user_id": event.user_id,
            "argilla_inserted_at": event.inserted_at.isoformat() if event.inserted_at else None,
            "argilla_updated_at": event.updated_at.isoformat() if event.updated_at else None,
            "shown_label": label,
        }
        if withdrawn:
            meta["withdrawn"] = True
        judgment, action = upsert_judgment(
            self.session,
            pair=pair,
            kind="human",
            judge=event.username,
            preferred=preferred,
            prob_a=PROB_A.get(preferred) if preferred else None,
            presentation_order=state.shown_order,
            annotator_id=annotator.id,
            strength=strength,
            rationale=rationale,
            status=status,
            source=f"argilla:{event.dataset}",
            external_id=event.response_id,
            meta=meta,
            when=event.updated_at,
        )
        self.cache.judgments[(pair.id, event.username, state.shown_order)] = (
            (judgment.meta or {}).get("argilla_updated_at"),
            judgment.status,
        )
        if action == "created" and event.inserted_at is not None:
            judgment.created_at = event.inserted_at
            self.session.add(judgment)
        if action == "unchanged":
            self.tally.unchanged += 1
            return "unchanged"
        if withdrawn:
            self.tally.withdrawn += 1
            return "withdrawn"
        if status == "discarded":
            self.tally.discarded += 1
        setattr(self.tally, action, getattr(self.tally, action) + 1)
        return action
