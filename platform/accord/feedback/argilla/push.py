"""Push pairs from the store to an Argilla dataset for humans to label.

Each pair becomes one record whose id comes from the pair id, so pushing again updates the
same record and never duplicates it. The state of every pushed pair (record id, the A/B order
shown, a hash of what was sent) is kept in the store table ``argilla_record``: a pair is
marked *pending* before its batch is sent and *pushed* once Argilla accepted it, so a push
that was interrupted resumes where it stopped, and pairs whose record is already up to date
are skipped.

``priority`` (``uncertainty``, ``disagreement``, ``position-inconsistent``, ``random``; see
``accord.feedback.argilla.priority``) sends the records most informative first and writes each
one's score into the ``accord_priority`` metadata: sorted by it (descending) in Argilla,
annotators see those pairs first. ``gold_rate`` mixes gold pairs (known answers, see
``accord.gold``) into the push so that they make about that share of its records; nothing
tells them apart: they get a priority drawn from the other records' scores, and the records of
a push with gold pairs carry no source or job metadata.

    accord argilla push --dataset prefs-v1 --workspace labels --min-submitted 2
    accord argilla push --dataset prefs-v1 --priority uncertainty --gold-rate 0.1

>>> from accord.store.db import open_store
>>> import inspect
>>> "min_submitted" in inspect.signature(push_pairs).parameters
True
"""

from __future__ import annotations

import random
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from ...hashing import content_hash
from ...store.crud.gold import gold_answers
from ...store.db import session_scope
from ...store.models import ArgillaRecord, Judgment, Pair, Prompt, Response
from ...store.models._base import utcnow
from . import schema
from .client import ArgillaConnection, connect
from .priority import METADATA_PRIORITY, check_priority, priority_scores
from .selection import PairSelection, select_pair_ids
from .users import resolve_workspace_name

MAX_BATCH = 500  # Argilla's limit per bulk upsert
_AGENT_UNSAFE = re.compile(r"[^a-zA-Z0-9\-_:./ ]+")


@dataclass
class PushResult:
    dataset: str
    workspace: str
    dataset_id: str
    url: str
    selected: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    resumed: int = 0
    notes: list[str] = field(default_factory=list)
    priority: str | None = None
    gold: int = 0  # gold pairs mixed into this push

    def to_dict(self) -> dict:
        return asdict(self)


def pair_layout_error(dataset) -> str | None:
    """Why an existing Argilla dataset cannot take accord's pairs, or None when it can."""
    missing = {schema.PREFERENCE, *schema.FIELDS} - {
        *(q.name for q in dataset.settings.questions),
        *(f.name for f in dataset.settings.fields),
    }
    if missing:
        return f"is not an accord pair dataset (it lacks {', '.join(sorted(missing))})"
    return None


def ensure_dataset(
    connection: ArgillaConnection,
    *,
    name: str,
    workspace: str,
    settings_factory: Callable[[], Any],
    layout_error: Callable[[Any], str | None] = pair_layout_error,
):
    """The Argilla dataset ``name`` in ``workspace``, created from ``settings_factory`` if
    missing; an existing one must pass ``layout_error`` (the pair layout unless another mode's
    check is given), or a ValueError names what it is not."""
    import argilla as rg
    from argilla._exceptions import ConflictError

    client = connection.client

    def lookup():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return client.datasets(name=name, workspace=workspace)

    dataset = connection.call(lookup, what="dataset lookup")
    if dataset is not None:
        problem = layout_error(dataset)
        if problem:
            raise ValueError(f"Argilla dataset {name!r} exists but {problem}; choose another name")
        return dataset
    dataset = rg.Dataset(name=name, workspace=workspace, settings=settings_factory(), client=client)
    try:
        connection.call(dataset.create, what="dataset creation")
    except ConflictError:  # created by an attempt whose answer was lost
        dataset = connection.call(lookup, what="dataset lookup")
    return dataset


def _agent_name(judge: str) -> str:
    return _AGENT_UNSAFE.sub("-", judge).strip(" -") or "accord-judge"


def _ai_suggestions(session: Session, pair_ids: Sequence[int]) -> dict[int, Judgment]:
    """One AI judgment per pair to show as a suggestion: an aggregate first, else the newest."""
    rows = session.exec(
        select(Judgment).where(
            Judgment.pair_id.in_(pair_ids),
            Judgment.kind == "ai",
            Judgment.preferred.is_not(None),
            Judgment.status == "submitted",
        )
    ).all()
    best: dict[int, Judgment] = {}
    for row in rows:
        current = best.get(row.pair_id)
        if current is None or (row.is_aggregate, row.updated_at) > (
            current.is_aggregate,
            current.updated_at,
        ):
            best[row.pair_id] = row
    return best


def _record_payloads(
    session: Session,
    pair_ids: Sequence[int],
    *,
    orders: dict[int, str],
    preference_question_id: str | None,
    priorities: dict[int, float] | None = None,
    with_sources: bool = True,
) -> dict[int, dict]:
    """The bulk-upsert item of each pair, with its fields in the order shown."""
    resp_a, resp_b = aliased(Response), aliased(Response)
    rows = session.exec(
        select(Pair, Prompt.text, Prompt.source, resp_a.text, resp_b.text)
        .join(Prompt, Prompt.id == Pair.prompt_id)
        .join(resp_a, resp_a.id == Pair.response_a_id)
        .join(resp_b, resp_b.id == Pair.response_b_id)
        .where(Pair.id.in_(pair_ids))
    ).all()
    suggestions = _ai_suggestions(session, pair_ids) if preference_question_id else {}
    payloads = {}
    for pair, prompt_text, prompt_source, text_a, text_b in rows:
        order = orders[pair.id]
        first, second = (text_a, text_b) if order == "ab" else (text_b, text_a)
        metadata = {schema.METADATA_PAIR_ID: pair.id, schema.METADATA_ORDER: order}
        if prompt_source and with_sources:
            metadata[schema.METADATA_PROMPT_SOURCE] = prompt_source
        if pair.source and with_sources:
            metadata[schema.METADATA_PAIR_SOURCE] = pair.source
        if pair.job_id is not None and with_sources:
            metadata[schema.METADATA_JOB_ID] = pair.job_id
        if priorities is not None and pair.id in priorities:
            metadata[METADATA_PRIORITY] = priorities[pair.id]
        item: dict[str, Any] = {
            "external_id": schema.record_external_id(pair.id),
            "fields": {"prompt": prompt_text, "response_a": first, "response_b": second},
            "metadata": metadata,
        }
        ai = suggestions.get(pair.id)
        if ai is not None:
            label = schema.to_shown(ai.preferred, order)
            score = None
            if ai.prob_a is not None and label != "tie":
                score = round(ai.prob_a if ai.preferred == "a" else 1.0 - ai.prob_a, 6)
            item["suggestions"] = [
                {
                    "question_id": preference_question_id,
                    "value": label,
                    "agent": _agent_name(ai.judge),
                    "score": score,
                }
            ]
        payloads[pair.id] = item
    return payloads


def _question_ids(connection: ArgillaConnection, dataset_id: str) -> dict[str, str]:
    items = connection.get_json(f"/api/v1/datasets/{dataset_id}/questions")["items"]
    return {q["name"]: q["id"] for q in items}


def _upsert(connection: ArgillaConnection, dataset_id: str, items: list[dict]) -> None:
    def request() -> None:
        response = connection.http.put(
            f"/api/v1/datasets/{dataset_id}/records/bulk", json={"items": items}
        )
        if response.status_code == 422:
            raise ValueError(f"Argilla rejected a batch of records: {response.text[:500]}")
        response.raise_for_status()

    connection.call(request, what=f"upsert of {len(items)} records")


def push_pairs(
    engine: Engine,
    *,
    dataset: str,
    workspace: str | None = None,
    pair_ids: Sequence[int] | None = None,
    job_id: int | None = None,
    prompt_source: str | None = None,
    pair_source: str | None = None,
    snapshot: str | None = None,
    disagreements: bool = False,
    unlabelled_only: bool | None = None,
    limit: int | None = None,
    min_submitted: int = 1,
    guidelines: str | Path | None = None,
    with_suggestions: bool = False,
    with_strength: bool = True,
    with_rationale: bool = True,
    seed: int = 0,
    batch_size: int = MAX_BATCH,
    force: bool = False,
    connection: ArgillaConnection | None = None,
    progress: Callable[[int, int], None] | None = None,
    priority: str | None = None,
    gold_rate: float = 0.0,
) -> PushResult:
    """Push the selected pairs (all unlabelled ones by default) to ``dataset``; idempotent.

    ``with_suggestions`` shows the AI judge's label as a pre-filled suggestion: off by
    default, because it anchors annotators and spoils the human–AI agreement audit.
    ``force`` re-sends records even when the store says they are up to date.
    ``guidelines`` is Markdown text, or a Path: a constitution YAML or a text file.
    ``priority`` orders the records (see the module); ``gold_rate`` in [0, 1) is the share of
    the push's records that are gold pairs. Gold pairs are only pushed this way (or by
    explicit ``pair_ids``), never as ordinary unlabelled pairs.
    """
    if isinstance(guidelines, Path):
        guidelines = (
            schema.guidelines_from_constitution(guidelines)
            if guidelines.suffix in (".yaml", ".yml")
            else schema.guidelines_from_file(guidelines)
        )
    if not dataset or len(dataset) > 200:
        raise ValueError("dataset must be a name of 1 to 200 characters")
    if not 1 <= batch_size <= MAX_BATCH:
        raise ValueError(f"batch_size must be between 1 and {MAX_BATCH}")
    selection = PairSelection(
        job_id=job_id,
        prompt_source=prompt_source,
        pair_source=pair_source,
        snapshot=snapshot,
        pair_ids=pair_ids,
        disagreements=disagreements,
        unlabelled_only=unlabelled_only,
        limit=limit,
    )
    if priority is not None:
        check_priority(priority)
    if not 0.0 <= gold_rate < 1.0:
        raise ValueError(f"gold_rate must be in [0, 1), got {gold_rate}")
    selected = select_pair_ids(engine, selection)  # bad selections fail before any remote change
    with Session(engine) as session:
        gold = gold_answers(session)
    if pair_ids is None:
        selected = [pid for pid in selected if pid not in gold]
    connection = connection or connect()
    workspace = resolve_workspace_name(connection, workspace)
    remote = ensure_dataset(
        connection,
        name=dataset,
        workspace=workspace,
        settings_factory=lambda: schema.dataset_settings(
            min_submitted=min_submitted,
            guidelines=guidelines,
            with_strength=with_strength,
            with_rationale=with_rationale,
        ),
    )
    dataset_id = str(remote.id)
    notes = []
    existing_overlap = getattr(remote.settings.distribution, "min_submitted", min_submitted)
    if existing_overlap != min_submitted:
        notes.append(
            f"dataset {dataset!r} already exists with min_submitted={existing_overlap}; "
            f"kept (settings of an existing dataset are not changed)"
        )
    question_id = (
        _question_ids(connection, dataset_id).get(schema.PREFERENCE) if with_suggestions else None
    )
    if priority is not None:
        _ensure_priority_property(connection, remote)

    with Session(engine) as session:
        pending = session.exec(
            select(ArgillaRecord.pair_id).where(
                ArgillaRecord.dataset == dataset, ArgillaRecord.status == "pending"
            )
        ).all()
        pushed_before = set(
            session.exec(
                select(ArgillaRecord.pair_id).where(ArgillaRecord.dataset == dataset)
            ).all()
        )
    gold_ids = _choose_gold(
        gold,
        exclude=pushed_before | set(selected),
        n_regular=len(selected),
        rate=gold_rate,
        seed=seed,
        notes=notes,
    )
    resumed = sorted(set(pending) - set(selected))
    todo = sorted(set(selected) | set(pending) | set(gold_ids))
    scores = None
    if priority is not None:
        scores = _mixed_scores(engine, todo, gold=set(gold), priority=priority, seed=seed)
        todo.sort(key=lambda pid: (-scores[pid], pid))
    result = PushResult(
        dataset=dataset,
        workspace=workspace,
        dataset_id=dataset_id,
        url=f"{connection.config.api_url}/dataset/{dataset_id}/annotation-mode",
        selected=len(selected),
        resumed=len(resumed),
        notes=notes,
        priority=priority,
        gold=len(gold_ids),
    )
    for start in range(0, len(todo), batch_size):
        _push_batch(
            engine,
            connection,
            todo[start : start + batch_size],
            dataset=dataset,
            workspace=workspace,
            dataset_id=dataset_id,
            question_id=question_id,
            seed=seed,
            force=force,
            result=result,
            priorities=scores,
            with_sources=not (gold_rate or set(todo) & set(gold)),
        )
        if progress is not None:
            progress(min(start + batch_size, len(todo)), len(todo))
    return result


def _choose_gold(
    gold: dict[int, str],
    *,
    exclude: set[int],
    n_regular: int,
    rate: float,
    seed: int,
    notes: list[str],
) -> list[int]:
    """Gold pairs not yet in the dataset, enough to make ``rate`` of the push (seeded)."""
    if not rate or not n_regular:
        return []
    wanted = round(rate * n_regular / (1.0 - rate))
    candidates = sorted(set(gold) - exclude)
    if len(candidates) < wanted:
        notes.append(
            f"--gold-rate {rate} asks for {wanted} gold pairs but only {len(candidates)} "
            "not yet in this dataset exist (add more with `accord gold add`)"
        )
    return sorted(random.Random(f"gold:{seed}").sample(candidates, min(wanted, len(candidates))))


def _mixed_scores(
    engine: Engine, todo: list[int], *, gold: set[int], priority: str, seed: int
) -> dict[int, float]:
    """Priority scores; each gold pair gets the score of a random other record, so that its
    place in the order and its metadata look like any other record's."""
    regular = [pid for pid in todo if pid not in gold]
    scores = priority_scores(engine, regular, priority=priority, seed=seed)
    rng = random.Random(f"gold-priority:{seed}")
    pool = sorted(scores.values())
    for pid in todo:
        if pid in gold:
            scores[pid] = rng.choice(pool) if pool else round(rng.random(), 6)
    return scores


def _ensure_priority_property(connection: ArgillaConnection, remote) -> None:
    """Declare ``accord_priority`` on a dataset created before it existed."""
    if any(m.name == METADATA_PRIORITY for m in remote.settings.metadata):
        return
    body = {
        "name": METADATA_PRIORITY,
        "title": schema.PRIORITY_TITLE,
        "settings": {"type": "float"},
        "visible_for_annotators": True,
    }

    def request() -> None:
        response = connection.http.post(
            f"/api/v1/datasets/{remote.id}/metadata-properties", json=body
        )
        if response.status_code != 409:  # 409: declared by a concurrent push
            response.raise_for_status()

    connection.call(request, what="priority metadata declaration")


def _push_batch(
    engine: Engine,
    connection: ArgillaConnection,
    batch: list[int],
    *,
    dataset: str,
    workspace: str,
    dataset_id: str,
    question_id: str | None,
    seed: int,
    force: bool,
    result: PushResult,
    priorities: dict[int, float] | None = None,
    with_sources: bool = True,
) -> None:
    # 1. mark the batch pending (committed before anything is sent)
    with session_scope(engine) as session:
        states = {
            row.pair_id: row
            for row in session.exec(
                select(ArgillaRecord).where(
                    ArgillaRecord.dataset == dataset, ArgillaRecord.pair_id.in_(batch)
                )
            ).all()
        }
        hashes = dict(
            session.exec(select(Pair.id, Pair.content_hash).where(Pair.id.in_(batch))).all()
        )
        # An existing record keeps the order it was first shown in, whatever the seed now.
        orders = {
            pid: states[pid].shown_order if pid in states else schema.shown_order(h, seed=seed)
            for pid, h in hashes.items()
        }
        payloads = _record_payloads(
            session,
            list(hashes),
            orders=orders,
            preference_question_id=question_id,
            priorities=priorities,
            with_sources=with_sources,
        )
        to_send: dict[int, tuple[dict, str]] = {}
        for pid, item in payloads.items():
            digest = content_hash(workspace, item)
            state = states.get(pid)
            if (
                state is not None
                and state.status == "pushed"
                and state.pushed_hash == digest
                and state.workspace == workspace
                and not force
            ):
                result.unchanged += 1
                continue
            if state is None:
                state = ArgillaRecord(
                    dataset=dataset,
                    workspace=workspace,
                    pair_id=pid,
                    record_id=item["external_id"],
                    shown_order=orders[pid],
                )
                result.created += 1
            elif state.status == "pushed":
                result.updated += 1
            else:
                result.created += 1  # pending: never confirmed, so counted as new
            state.workspace, state.status = workspace, "pending"
            session.add(state)
            to_send[pid] = (item, digest)
    if not to_send:
        return
    # 2. send (an upsert by external id: resending after a crash updates, never duplicates)
    _upsert(connection, dataset_id, [item for item, _ in to_send.values()])
    # 3. confirm
    now = utcnow()
    with session_scope(engine) as session:
        for row in session.exec(
            select(ArgillaRecord).where(
                ArgillaRecord.dataset == dataset, ArgillaRecord.pair_id.in_(list(to_send))
            )
        ).all():
            row.status, row.pushed_hash, row.pushed_at = "pushed", to_send[row.pair_id][1], now
            session.add(row)
