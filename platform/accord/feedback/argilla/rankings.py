"""Rankings of K responses through Argilla: ``accord argilla push --mode ranking --k 4`` and
``accord argilla pull --mode ranking``.

Each record shows one prompt and K of its responses as ``response_1`` … ``response_K`` with an
Argilla ``RankingQuestion`` (``ranking``: drag the responses into order; equal ranks are
ties). Which K responses, and in which order they are shown, is decided per prompt by a seeded
hash, so the shown order is randomised (position bias cancels out over records) and kept: the
record's metadata holds the response ids in the order shown (``accord_response_ids``), and the
record id comes from the ranked item (``accord-ranking-<group key>``), so pushing again
updates the same record and never duplicates it.

Pulling reads every submitted response and stores it as a ranking
(``accord.store.crud.rankings``: the annotator as judge, the shown order kept, source
``argilla:<dataset>``), expanded into (K choose 2) pairwise judgments; pulling twice adds
nothing, a changed answer updates the ranking (its judgments keep their history), a
discarded answer marks an existing ranking discarded.

>>> response_field(2)
'response_2'
>>> shown_responses([5, 9, 2, 7, 3], k=4, prompt_hash="p" * 64, seed=0) == shown_responses(
...     [7, 3, 2, 9, 5], k=4, prompt_hash="p" * 64, seed=0)
True
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ...hashing import content_hash
from ...store.crud.annotators import get_or_create_annotator
from ...store.crud.rankings import upsert_ranking
from ...store.db import session_scope
from ...store.keys import ranking_group_key
from ...store.models import Prompt, Ranking, Response
from ...store.models.ranking import MAX_K, MIN_K
from .client import ArgillaConnection, connect
from .pull import PAGE_SIZE, _Usernames, find_dataset, iter_record_pages
from .push import MAX_BATCH, _upsert, ensure_dataset
from .users import resolve_workspace_name
from .webhooks import RANKING_RECORD_PREFIX

RANKING = "ranking"
RECORD_PREFIX = RANKING_RECORD_PREFIX  # "accord-ranking-" + the ranked item's group key
METADATA_PROMPT_ID = "accord_prompt_id"
METADATA_RESPONSE_IDS = "accord_response_ids"

RANKING_GUIDELINES = """\
# Rank the responses

Each record shows a **prompt** and {k} responses. Read the prompt and every response, then
order them in **ranking** from best (1) to worst. Give two responses the same rank only when
you truly cannot prefer one. The responses are shown in a shuffled order.

Use **Discard** for records you cannot judge (broken text, a language you do not read).
"""


def response_field(n: int) -> str:
    return f"response_{n}"


def ranking_settings(*, k: int, min_submitted: int = 1, guidelines: str | None = None):
    """Argilla settings of a ranking dataset: the prompt, K responses, one RankingQuestion."""
    import argilla as rg

    if not MIN_K <= k <= MAX_K:
        raise ValueError(f"k must be between {MIN_K} and {MAX_K}, got {k}")
    if min_submitted < 1:
        raise ValueError(f"min_submitted must be at least 1, got {min_submitted}")
    names = [response_field(n) for n in range(1, k + 1)]
    return rg.Settings(
        guidelines=guidelines or RANKING_GUIDELINES.format(k=k),
        fields=[rg.TextField(name="prompt", title="Prompt", use_markdown=True)]
        + [
            rg.TextField(name=name, title=f"Response {n}", use_markdown=True)
            for n, name in enumerate(names, start=1)
        ],
        questions=[
            rg.RankingQuestion(
                name=RANKING,
                title="Rank the responses from best (1) to worst",
                values={name: f"Response {n}" for n, name in enumerate(names, start=1)},
                required=True,
            )
        ],
        metadata=[rg.IntegerMetadataProperty(name=METADATA_PROMPT_ID, title="accord prompt id")],
        distribution=rg.TaskDistribution(min_submitted=min_submitted),
        allow_extra_metadata=True,
    )


def shown_responses(response_ids: list[int], *, k: int, prompt_hash: str, seed: int) -> list[int]:
    """The K responses of a prompt to rank, in the order shown: a seeded draw that depends on
    the prompt and the set of candidates, not on the order they are listed in."""
    rng = random.Random(int(content_hash("argilla-ranking", seed, prompt_hash)[:16], 16))
    return rng.sample(sorted(response_ids), k)


@dataclass
class RankingPushResult:
    dataset: str
    workspace: str
    dataset_id: str
    url: str
    k: int
    selected: int = 0
    sent: int = 0
    skipped_prompts: int = 0  # prompts with fewer than K responses
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def push_rankings(
    engine: Engine,
    *,
    dataset: str,
    k: int,
    workspace: str | None = None,
    prompt_source: str | None = None,
    job_id: int | None = None,
    prompt_ids: list[int] | None = None,
    limit: int | None = None,
    min_submitted: int = 1,
    guidelines: str | None = None,
    seed: int = 0,
    connection: ArgillaConnection | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RankingPushResult:
    """One record per prompt with at least ``k`` initial responses; idempotent by record id."""
    settings = ranking_settings(k=k, min_submitted=min_submitted, guidelines=guidelines)
    if not dataset or len(dataset) > 200:
        raise ValueError("dataset must be a name of 1 to 200 characters")
    with Session(engine) as session:
        q = select(Response.id, Response.prompt_id).where(Response.role == "initial")
        if job_id is not None:
            q = q.where(Response.job_id == job_id)
        if prompt_ids is not None:
            q = q.where(Response.prompt_id.in_(prompt_ids))
        by_prompt: dict[int, list[int]] = {}
        for rid, pid in session.exec(q).all():
            by_prompt.setdefault(pid, []).append(rid)
        pq = select(Prompt).where(Prompt.id.in_(list(by_prompt)))
        if prompt_source is not None:
            pq = pq.where(Prompt.source == prompt_source)
        prompts = {p.id: p for p in session.exec(pq.order_by(Prompt.id)).all()}
    chosen = [pid for pid in sorted(prompts) if len(by_prompt[pid]) >= k]
    skipped = sum(len(by_prompt[pid]) < k for pid in prompts)
    if limit is not None:
        chosen = chosen[:limit]
    connection = connection or connect()
    workspace = resolve_workspace_name(connection, workspace)
    remote = ensure_ranking_dataset(
        connection, name=dataset, workspace=workspace, k=k, settings=settings
    )
    dataset_id = str(remote.id)
    result = RankingPushResult(
        dataset=dataset,
        workspace=workspace,
        dataset_id=dataset_id,
        url=f"{connection.config.api_url}/dataset/{dataset_id}/annotation-mode",
        k=k,
        selected=len(chosen),
        skipped_prompts=skipped,
    )
    items = []
    with Session(engine) as session:
        for pid in chosen:
            prompt = prompts[pid]
            shown = shown_responses(by_prompt[pid], k=k, prompt_hash=prompt.content_hash, seed=seed)
            rows = {r.id: r for r in session.exec(select(Response).where(Response.id.in_(shown)))}
            group = ranking_group_key(prompt.content_hash, [rows[i].content_hash for i in shown])
            items.append(
                {
                    "external_id": f"{RECORD_PREFIX}{group}",
                    "fields": {
                        "prompt": prompt.text,
                        **{response_field(n): rows[i].text for n, i in enumerate(shown, start=1)},
                    },
                    "metadata": {METADATA_PROMPT_ID: pid, METADATA_RESPONSE_IDS: json.dumps(shown)},
                }
            )
    for start in range(0, len(items), MAX_BATCH):
        _upsert(connection, dataset_id, items[start : start + MAX_BATCH])
        result.sent += len(items[start : start + MAX_BATCH])
        if progress is not None:
            progress(result.sent, len(items))
    return result


def ensure_ranking_dataset(connection, *, name: str, workspace: str, k: int, settings):
    """The ranking dataset ``name``, created if missing; an existing one must rank K."""

    def layout_error(dataset) -> str | None:
        fields = {f.name for f in dataset.settings.fields}
        questions = {q.name for q in dataset.settings.questions}
        wanted = {"prompt", *(response_field(n) for n in range(1, k + 1))}
        if RANKING not in questions or fields != wanted:
            return f"is not an accord ranking dataset of k={k} responses"
        return None

    return ensure_dataset(
        connection,
        name=name,
        workspace=workspace,
        settings_factory=lambda: settings,
        layout_error=layout_error,
    )


@dataclass
class RankingPullResult:
    dataset: str = ""
    dataset_id: str = ""
    records: int = 0
    responses: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    discarded: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def ranks_from_value(value: Any, shown: list[int]) -> list[int]:
    """Ranks per shown response from a RankingQuestion answer (``[{"value": "response_2",
    "rank": 1}, …]``, or a list of field names best first); ValueError when it does not rank
    every shown response once."""
    names = [response_field(n) for n in range(1, len(shown) + 1)]
    if not isinstance(value, list) or len(value) != len(names):
        raise ValueError(f"a ranking of {len(names)} responses expected, got {value!r}")
    ranks: dict[str, int] = {}
    for position, entry in enumerate(value, start=1):
        if isinstance(entry, dict):
            name, rank = entry.get("value"), entry.get("rank") or position
        else:
            name, rank = entry, position
        if name not in names or name in ranks or not isinstance(rank, int) or rank < 1:
            raise ValueError(f"not a ranking of {', '.join(names)}: {value!r}")
        ranks[name] = rank
    return [ranks[name] for name in names]


def pull_rankings(
    engine: Engine,
    *,
    dataset: str,
    workspace: str | None = None,
    connection: ArgillaConnection | None = None,
    page_size: int = PAGE_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> RankingPullResult:
    """Store every submitted response of a ranking dataset as a human ranking."""
    connection = connection or connect()
    remote = find_dataset(connection, name=dataset, workspace=workspace)
    result = RankingPullResult(dataset=dataset, dataset_id=remote["id"])
    usernames = _Usernames(connection)
    source = f"argilla:{dataset}"
    for records, total in iter_record_pages(connection, remote["id"], page_size=page_size):
        with session_scope(engine) as session:
            for record in records:
                result.records += 1
                _ingest_record(session, record, usernames, source, result)
        if progress is not None:
            progress(result.records, total)
    return result


def _record_item(session, record: dict):
    """The prompt and the shown responses of a ranking record (KeyError/ValueError when it is
    not one accord pushed)."""
    meta = record.get("metadata") or {}
    shown_ids = json.loads(meta[METADATA_RESPONSE_IDS])
    prompt = session.get(Prompt, int(meta[METADATA_PROMPT_ID]))
    shown = [session.get(Response, int(i)) for i in shown_ids]
    if prompt is None or any(r is None for r in shown):
        raise KeyError("prompt or response not in the store")
    return prompt, shown


def _ingest_record(session, record: dict, usernames, source: str, result) -> None:
    try:
        prompt, shown = _record_item(session, record)
    except (KeyError, TypeError, ValueError) as exc:
        result.skipped += len(record.get("responses") or [])
        result.problems.append(f"record {record.get('external_id')}: not an accord ranking ({exc})")
        return
    for resp in record.get("responses") or []:
        result.responses += 1
        user_id = str(resp.get("user_id"))
        ingest_ranking_response(
            session,
            record=record,
            prompt=prompt,
            shown=shown,
            source=source,
            user_id=user_id,
            username=usernames(user_id),
            status=str(resp.get("status")),
            values=resp.get("values"),
            response_id=resp.get("id"),
            result=result,
        )


def ingest_ranking_response(
    session,
    *,
    record: dict,
    prompt: Prompt,
    shown: list[Response],
    source: str,
    user_id: str,
    username: str | None,
    status: str,
    values: dict | None,
    response_id: Any,
    result,
    deleted: bool = False,
) -> str:
    """One annotator's answer to a ranking record: created | updated | unchanged |
    discarded | withdrawn | skipped (counted on ``result``)."""
    if not username or (status not in ("submitted", "discarded") and not deleted):
        result.skipped += 1
        return "skipped"
    annotator = get_or_create_annotator(
        session, username=username, source="argilla", external_id=user_id or None
    )
    common = dict(
        prompt=prompt,
        responses=shown,
        kind="human",
        judge=username,
        shown_order=shown,
        annotator_id=annotator.id,
        source=source,
        external_id=str(response_id) if response_id is not None else None,
        meta={
            "record_external_id": record.get("external_id"),
            "argilla_record_id": record.get("id"),
        },
    )
    if status == "discarded" or deleted:
        group = ranking_group_key(prompt.content_hash, [r.content_hash for r in shown])
        existing = session.exec(
            select(Ranking).where(
                Ranking.group_key == group, Ranking.judge == username, Ranking.kind == "human"
            )
        ).first()
        if existing is None:
            result.discarded += 1
            return "discarded"
        by_id = dict(zip(existing.response_ids, existing.ranks))
        ranks = [by_id[r.id] for r in shown]
        _, outcome = upsert_ranking(session, ranks=ranks, status="discarded", **common)
        if outcome == "unchanged":
            result.unchanged += 1
            return "unchanged"
        result.discarded += 1
        return "withdrawn" if deleted else "discarded"
    try:
        ranks = ranks_from_value(((values or {}).get(RANKING) or {}).get("value"), shown)
    except ValueError as exc:
        result.skipped += 1
        result.problems.append(f"record {record.get('external_id')}, {username}: {exc}")
        return "skipped"
    _, outcome = upsert_ranking(session, ranks=ranks, **common)
    setattr(result, outcome, getattr(result, outcome) + 1)
    return outcome


def ingest_ranking_event(session, event, record: dict) -> tuple[str, list[str]]:
    """A webhook's response event on a ranking record (``accord.feedback.argilla.webhooks``):
    the action taken and the problems found."""
    result = RankingPullResult(dataset=event.dataset)
    try:
        prompt, shown = _record_item(session, record)
    except (KeyError, TypeError, ValueError) as exc:
        return "skipped", [f"record {record.get('external_id')}: not an accord ranking ({exc})"]
    action = ingest_ranking_response(
        session,
        record=record,
        prompt=prompt,
        shown=shown,
        source=f"argilla:{event.dataset}",
        user_id=event.user_id,
        username=event.username,
        status=event.status,
        values=event.values,
        response_id=event.response_id,
        result=result,
        deleted=event.deleted,
    )
    return action, result.problems
