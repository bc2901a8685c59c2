"""Human demonstrations through Argilla (InstructGPT's human data): ``accord argilla push --mode
demonstration`` and ``accord argilla pull --mode demonstration``.

Each record shows one prompt (``prompt``) and asks the annotator to write the response the
model should give (``demonstration``, a ``TextQuestion``). With ``draft=True`` a model's
answer to the prompt is shown beside it (field ``draft``, titled as a reference to improve on,
never pre-filled into the answer): off by default, since a draft anchors what annotators write.
The record id comes from the prompt (``accord-demo-<prompt hash>``), so pushing again updates
the same record and never duplicates it.

Pulling stores each submitted answer as a human demonstration
(``accord.store.crud.demonstrations``): a ``Response`` with role ``demonstration`` whose
author is the annotator (``annotator_id``, ``model_id`` ``human:<username>``), source
``argilla:<dataset>`` and ``external_id`` the Argilla response id. Pulling twice adds nothing;
an edited answer becomes a new revision whose parent is the answer it replaces; a discarded
answer, or one deleted from Argilla, withdraws the demonstration in force; an empty or
white-space answer is refused, counted (``empty``) and named in ``problems``. Webhook
deliveries on these records take the same path (``accord.feedback.argilla.webhooks``).

>>> demonstration_record_id("ab" * 32)[:16]
'accord-demo-abab'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ...store.crud.annotators import get_or_create_annotator
from ...store.crud.demonstrations import (
    DEMONSTRATION,
    EmptyDemonstrationError,
    upsert_demonstration,
    withdraw_demonstration,
)
from ...store.db import session_scope
from ...store.models import Annotator, Prompt, Response
from .client import ArgillaConnection, connect
from .pull import PAGE_SIZE, _Usernames, find_dataset, iter_record_pages
from .push import MAX_BATCH, _upsert, ensure_dataset
from .users import resolve_workspace_name
from .webhooks import DEMONSTRATION_RECORD_PREFIX

RECORD_PREFIX = DEMONSTRATION_RECORD_PREFIX  # "accord-demo-" + the prompt's content hash
QUESTION = DEMONSTRATION  # the TextQuestion's name
DRAFT = "draft"
METADATA_PROMPT_ID = "accord_prompt_id"
METADATA_DRAFT_ID = "accord_draft_response_id"

DEMONSTRATION_GUIDELINES = """\
# Write the response

Each record shows a **prompt**. Write, in **demonstration**, the response you would want an
excellent assistant to give: correct, helpful, honest and harmless, complete but no longer than
it needs to be. Write it yourself; do not paste text you did not check.
{draft}
Use **Discard** for records you cannot answer (broken text, a language you do not write).
"""
_DRAFT_NOTE = """
Some records also show a **draft**: a model's answer, for reference only. Improve on it or
ignore it; your response is what counts.
"""


def demonstration_record_id(prompt_hash: str) -> str:
    """The Argilla record id of a prompt's demonstration record (stable across pushes)."""
    return f"{RECORD_PREFIX}{prompt_hash}"


def default_guidelines(*, draft: bool) -> str:
    return DEMONSTRATION_GUIDELINES.format(draft=_DRAFT_NOTE if draft else "")


def guidelines_from_constitution(name_or_path: str) -> str:
    """The default instructions plus what the constitution asks of a good response (each
    principle's revision request)."""
    from ...constitutions import load_constitution

    constitution = load_constitution(name_or_path)
    lines = [
        default_guidelines(draft=False),
        f"## Principles ({constitution.name} {constitution.version})",
        "",
        "Your response should already satisfy what each principle asks a revision to fix:",
        "",
    ]
    if constitution.description:
        lines[3:3] = [constitution.description.strip(), ""]
    for principle in constitution.principles:
        lines.append(f"- **{principle.id}**: {principle.revision_request.strip()}")
    return "\n".join(lines) + "\n"


def demonstration_settings(
    *, min_submitted: int = 1, guidelines: str | None = None, draft: bool = False
):
    """Argilla settings of a demonstration dataset: the prompt (and a draft), one TextQuestion."""
    import argilla as rg

    if min_submitted < 1:
        raise ValueError(f"min_submitted must be at least 1, got {min_submitted}")
    fields = [rg.TextField(name="prompt", title="Prompt", use_markdown=True)]
    if draft:
        fields.append(
            rg.TextField(name=DRAFT, title="A model's answer (reference only)", use_markdown=True)
        )
    return rg.Settings(
        guidelines=guidelines or default_guidelines(draft=draft),
        fields=fields,
        questions=[
            rg.TextQuestion(
                name=QUESTION,
                title="Write the response the assistant should give",
                required=True,
                use_markdown=False,
            )
        ],
        metadata=[rg.IntegerMetadataProperty(name=METADATA_PROMPT_ID, title="accord prompt id")],
        distribution=rg.TaskDistribution(min_submitted=min_submitted),
        allow_extra_metadata=True,
    )


@dataclass
class DemonstrationPushResult:
    dataset: str
    workspace: str
    dataset_id: str
    url: str
    selected: int = 0
    sent: int = 0
    with_draft: int = 0  # records showing a model's answer
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def select_prompt_ids(
    engine: Engine,
    *,
    prompt_source: str | None = None,
    job_id: int | None = None,
    prompt_ids: list[int] | None = None,
    limit: int | None = None,
) -> list[int]:
    """The prompts to ask demonstrations for, ascending: all, or those of a source, those a
    job answered, or the given ids (filters combine with AND)."""
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    q = select(Prompt.id)
    if prompt_source is not None:
        q = q.where(Prompt.source == prompt_source)
    if job_id is not None:
        q = q.where(Prompt.id.in_(select(Response.prompt_id).where(Response.job_id == job_id)))
    if prompt_ids is not None:
        q = q.where(Prompt.id.in_(list(prompt_ids)))
    with Session(engine) as session:
        found = list(session.exec(q.order_by(Prompt.id)).all())
    if prompt_ids is not None:
        unknown = sorted(set(prompt_ids) - set(found))
        with Session(engine) as session:
            unknown = [i for i in unknown if session.get(Prompt, i) is None]
        if unknown:
            raise ValueError(f"no prompt with id {', '.join(map(str, unknown[:10]))} in the store")
    return found[:limit] if limit is not None else found


def _drafts(session: Session, prompt_ids: list[int]) -> dict[int, Response]:
    """A model's answer per prompt to show as a draft: its newest revision, else its newest
    initial response."""
    rows = session.exec(
        select(Response).where(
            Response.prompt_id.in_(prompt_ids), Response.role.in_(("initial", "revision"))
        )
    ).all()
    best: dict[int, Response] = {}
    for row in rows:
        current = best.get(row.prompt_id)
        if current is None or (row.role == "revision", row.id) > (
            current.role == "revision",
            current.id,
        ):
            best[row.prompt_id] = row
    return best


def push_demonstrations(
    engine: Engine,
    *,
    dataset: str,
    workspace: str | None = None,
    prompt_source: str | None = None,
    job_id: int | None = None,
    prompt_ids: list[int] | None = None,
    limit: int | None = None,
    min_submitted: int = 1,
    guidelines: str | None = None,
    draft: bool = False,
    connection: ArgillaConnection | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DemonstrationPushResult:
    """One record per selected prompt asking for a written response; idempotent by record id."""
    if not dataset or len(dataset) > 200:
        raise ValueError("dataset must be a name of 1 to 200 characters")
    settings = demonstration_settings(
        min_submitted=min_submitted, guidelines=guidelines, draft=draft
    )
    chosen = select_prompt_ids(
        engine, prompt_source=prompt_source, job_id=job_id, prompt_ids=prompt_ids, limit=limit
    )
    connection = connection or connect()
    workspace = resolve_workspace_name(connection, workspace)
    remote = ensure_demonstration_dataset(
        connection, name=dataset, workspace=workspace, draft=draft, settings=settings
    )
    dataset_id = str(remote.id)
    result = DemonstrationPushResult(
        dataset=dataset,
        workspace=workspace,
        dataset_id=dataset_id,
        url=f"{connection.config.api_url}/dataset/{dataset_id}/annotation-mode",
        selected=len(chosen),
    )
    items = []
    with Session(engine) as session:
        prompts = {p.id: p for p in session.exec(select(Prompt).where(Prompt.id.in_(chosen)))}
        drafts = _drafts(session, chosen) if draft else {}
        for pid in chosen:
            prompt = prompts[pid]
            item: dict[str, Any] = {
                "external_id": demonstration_record_id(prompt.content_hash),
                "fields": {"prompt": prompt.text},
                "metadata": {METADATA_PROMPT_ID: pid},
            }
            if draft:
                shown = drafts.get(pid)
                item["fields"][DRAFT] = shown.text if shown else "(no model answer yet)"
                if shown is not None:
                    item["metadata"][METADATA_DRAFT_ID] = shown.id
                    result.with_draft += 1
            items.append(item)
    if draft and result.with_draft < len(items):
        result.notes.append(
            f"{len(items) - result.with_draft} prompts have no model answer to show as a draft"
        )
    for start in range(0, len(items), MAX_BATCH):
        _upsert(connection, dataset_id, items[start : start + MAX_BATCH])
        result.sent += len(items[start : start + MAX_BATCH])
        if progress is not None:
            progress(result.sent, len(items))
    return result


def ensure_demonstration_dataset(connection, *, name: str, workspace: str, draft: bool, settings):
    """The demonstration dataset ``name``, created if missing; an existing one must have the
    same layout (with or without a draft)."""

    def layout_error(dataset) -> str | None:
        fields = {f.name for f in dataset.settings.fields}
        questions = {q.name for q in dataset.settings.questions}
        wanted = {"prompt", DRAFT} if draft else {"prompt"}
        if QUESTION not in questions or fields != wanted:
            return (
                "is not an accord demonstration dataset "
                f"{'with' if draft else 'without'} a draft field"
            )
        return None

    return ensure_dataset(
        connection,
        name=name,
        workspace=workspace,
        settings_factory=lambda: settings,
        layout_error=layout_error,
    )


@dataclass
class DemonstrationPullResult:
    dataset: str = ""
    dataset_id: str = ""
    records: int = 0
    responses: int = 0
    created: int = 0
    revised: int = 0  # an edited answer: a new revision, its parent the one it replaces
    unchanged: int = 0
    restored: int = 0  # a withdrawn answer submitted again unchanged
    withdrawn: int = 0  # discarded, deleted or turned back into a draft in Argilla
    discarded: int = 0  # discarded with nothing stored to withdraw
    empty: int = 0  # refused: no text, or only white space
    skipped: int = 0
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _record_prompt(session: Session, record: dict) -> Prompt:
    """The prompt a demonstration record asks about (KeyError/ValueError when the record is
    not one accord pushed, or its prompt is not this store's)."""
    external = str(record.get("external_id") or "")
    if not external.startswith(RECORD_PREFIX):
        raise ValueError("not an accord demonstration record")
    prompt = session.get(Prompt, int((record.get("metadata") or {})[METADATA_PROMPT_ID]))
    if prompt is None or demonstration_record_id(prompt.content_hash) != external:
        raise KeyError("its prompt is not in this store")
    return prompt


def ingest_demonstration_answer(
    session: Session,
    *,
    prompt: Prompt,
    record_external_id: str,
    source: str,
    user_id: str,
    username: str | None,
    status: str,
    values: dict | None,
    response_id: Any,
    result: DemonstrationPullResult,
    deleted: bool = False,
) -> str:
    """One annotator's answer to a demonstration record: created | revised | unchanged |
    restored | withdrawn | discarded | empty | skipped (counted on ``result``)."""
    if not username:
        result.skipped += 1
        result.problems.append(f"record {record_external_id}: answer of an unknown user {user_id}")
        return "skipped"
    if deleted or status == "discarded":
        annotator = session.exec(select(Annotator).where(Annotator.username == username)).first()
        outcome = (
            withdraw_demonstration(
                session, prompt_id=prompt.id, annotator_id=annotator.id, source=source
            )
            if annotator is not None
            else "absent"
        )
        if outcome == "withdrawn":
            result.withdrawn += 1
            return "withdrawn"
        if outcome == "unchanged":
            result.unchanged += 1
            return "unchanged"
        result.discarded += 1
        return "discarded"
    if status != "submitted":  # a draft: not an answer yet
        result.skipped += 1
        return "skipped"
    entry = (values or {}).get(QUESTION)
    text = entry.get("value") if isinstance(entry, dict) else None
    annotator = get_or_create_annotator(
        session, username=username, source="argilla", external_id=user_id or None
    )
    try:
        _, outcome = upsert_demonstration(
            session,
            prompt=prompt,
            annotator=annotator,
            text=text,
            source=source,
            external_id=str(response_id) if response_id is not None else None,
        )
    except EmptyDemonstrationError as exc:
        result.empty += 1
        result.problems.append(f"record {record_external_id}, {username}: {exc}")
        return "empty"
    except ValueError as exc:  # text the store refuses (too long, control characters)
        result.skipped += 1
        result.problems.append(f"record {record_external_id}, {username}: {exc}")
        return "skipped"
    setattr(result, outcome, getattr(result, outcome) + 1)
    return outcome


def pull_demonstrations(
    engine: Engine,
    *,
    dataset: str,
    workspace: str | None = None,
    connection: ArgillaConnection | None = None,
    page_size: int = PAGE_SIZE,
    withdraw_missing: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> DemonstrationPullResult:
    """Store every submitted answer of a demonstration dataset as a human demonstration."""
    if not 1 <= page_size <= PAGE_SIZE:
        raise ValueError(f"page_size must be between 1 and {PAGE_SIZE}")
    connection = connection or connect()
    remote = find_dataset(connection, name=dataset, workspace=workspace)
    result = DemonstrationPullResult(dataset=dataset, dataset_id=remote["id"])
    usernames = _Usernames(connection)
    source = f"argilla:{dataset}"
    answered: set[tuple[int, str]] = set()  # (prompt id, username) with an answer in Argilla
    for records, total in iter_record_pages(connection, remote["id"], page_size=page_size):
        with session_scope(engine) as session:
            for record in records:
                result.records += 1
                answers = record.get("responses") or []
                try:
                    prompt = _record_prompt(session, record)
                except (KeyError, TypeError, ValueError) as exc:
                    result.skipped += len(answers)
                    result.problems.append(f"record {record.get('external_id')}: {exc}")
                    continue
                for answer in answers:
                    result.responses += 1
                    user_id = str(answer.get("user_id"))
                    username = usernames(user_id)
                    status = str(answer.get("status"))
                    if username and status in ("submitted", "discarded"):
                        answered.add((prompt.id, username))
                    ingest_demonstration_answer(
                        session,
                        prompt=prompt,
                        record_external_id=record["external_id"],
                        source=source,
                        user_id=user_id,
                        username=username,
                        status=status,
                        values=answer.get("values"),
                        response_id=answer.get("id"),
                        result=result,
                    )
        if progress is not None:
            progress(result.records, total)
    if withdraw_missing:
        _withdraw_missing(engine, source, answered, result)
    return result


def _withdraw_missing(
    engine: Engine, source: str, answered: set[tuple[int, str]], result: DemonstrationPullResult
) -> None:
    """Demonstrations from ``source`` whose answer is gone from Argilla (deleted, or turned
    back into a draft) are withdrawn."""
    from ...store.crud.demonstrations import demonstrations_in_force

    with session_scope(engine) as session:
        names = dict(session.exec(select(Annotator.id, Annotator.username)).all())
        for row in demonstrations_in_force(session, source=source):
            if (row.prompt_id, names.get(row.annotator_id)) in answered:
                continue
            withdraw_demonstration(
                session, prompt_id=row.prompt_id, annotator_id=row.annotator_id, source=source
            )
            result.withdrawn += 1


def ingest_demonstration_event(session: Session, event, record: dict) -> tuple[str, list[str]]:
    """A webhook's response event on a demonstration record: the action taken and the
    problems found."""
    result = DemonstrationPullResult(dataset=event.dataset)
    try:
        prompt = _record_prompt(session, record)
    except (KeyError, TypeError, ValueError) as exc:
        return "skipped", [f"record {record.get('external_id')}: {exc}"]
    action = ingest_demonstration_answer(
        session,
        prompt=prompt,
        record_external_id=str(record.get("external_id")),
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
