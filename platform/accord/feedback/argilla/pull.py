"""Pull the answers of an Argilla dataset into the store as ``human`` judgments.

Reads every record with its responses, page by page, and writes each submitted or discarded
response through :class:`~accord.feedback.argilla.ingest.ResponseIngestor` (the same path
webhooks use). Pulling twice adds nothing; a changed answer updates its judgment and keeps
the old value in history; a response that disappeared from Argilla (deleted, or turned back
into a draft) is withdrawn. Pull is the recovery path for everything webhooks miss (Argilla
sends no ``response.*`` event for responses logged in bulk through the SDK).

    accord argilla pull --dataset prefs-v1

>>> PullResult(dataset="d", dataset_id="x").to_dict()["created"]
0
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ...store.db import session_scope
from ...store.models import ArgillaRecord, Judgment
from ...store.models._base import utcnow
from .client import ArgillaConnection, connect
from .ingest import IngestCache, IngestTally, ResponseEvent, ResponseIngestor, parse_time

PAGE_SIZE = 1000  # Argilla's largest page


@dataclass
class PullResult(IngestTally):
    dataset: str = ""
    dataset_id: str = ""
    records: int = 0
    responses: int = 0
    problems: list[str] = field(default_factory=list)


def find_dataset(connection: ArgillaConnection, *, name: str, workspace: str | None = None) -> dict:
    """The dataset's JSON (``id``, ``name``, ``workspace_id`` …); a clear error when absent."""
    datasets = [d for d in connection.get_json("/api/v1/me/datasets")["items"] if d["name"] == name]
    if workspace is not None:
        spaces = {w["id"]: w["name"] for w in connection.get_json("/api/v1/me/workspaces")["items"]}
        datasets = [d for d in datasets if spaces.get(d["workspace_id"]) == workspace]
    if not datasets:
        where = f" in workspace {workspace!r}" if workspace else ""
        raise ValueError(f"no Argilla dataset named {name!r}{where} visible to this API key")
    if len(datasets) > 1:
        raise ValueError(f"several Argilla datasets are named {name!r}: pass --workspace")
    return datasets[0]


class _Usernames:
    """Argilla user id → username, fetched once and refreshed for users created since."""

    def __init__(self, connection: ArgillaConnection):
        self.connection = connection
        self.names = {u["id"]: u["username"] for u in connection.get_json("/api/v1/users")["items"]}

    def __call__(self, user_id: str) -> str | None:
        if user_id not in self.names:
            try:
                self.names[user_id] = self.connection.get_json(f"/api/v1/users/{user_id}")[
                    "username"
                ]
            except Exception:  # noqa: BLE001 - an unknown user is reported by the ingestor
                self.names[user_id] = None
        return self.names[user_id]


def iter_record_pages(
    connection: ArgillaConnection, dataset_id: str, *, page_size: int = PAGE_SIZE
) -> Iterator[tuple[list[dict], int]]:
    """Pages of records with their responses, and the dataset's total."""
    offset = 0
    while True:
        page = connection.get_json(
            f"/api/v1/datasets/{dataset_id}/records",
            include="responses",
            offset=offset,
            limit=page_size,
        )
        items = page["items"]
        if not items:
            return
        yield items, page["total"]
        offset += len(items)
        if offset >= page["total"]:
            return


def response_events(
    dataset: str, record: dict, usernames: Callable[[str], str | None]
) -> list[ResponseEvent]:
    return [
        ResponseEvent(
            dataset=dataset,
            record_external_id=record.get("external_id"),
            record_id=record.get("id"),
            user_id=str(resp.get("user_id")),
            username=usernames(str(resp.get("user_id"))),
            status=str(resp.get("status")),
            values=resp.get("values"),
            response_id=resp.get("id"),
            inserted_at=parse_time(resp.get("inserted_at")),
            updated_at=parse_time(resp.get("updated_at")),
        )
        for resp in record.get("responses") or []
    ]


def pull_judgments(
    engine: Engine,
    *,
    dataset: str,
    workspace: str | None = None,
    connection: ArgillaConnection | None = None,
    page_size: int = PAGE_SIZE,
    withdraw_missing: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> PullResult:
    """Store every submitted/discarded response of ``dataset`` as a human judgment."""
    if not 1 <= page_size <= PAGE_SIZE:
        raise ValueError(f"page_size must be between 1 and {PAGE_SIZE}")
    connection = connection or connect()
    remote = find_dataset(connection, name=dataset, workspace=workspace)
    result = PullResult(dataset=dataset, dataset_id=remote["id"])
    usernames = _Usernames(connection)
    seen: set[tuple[str, str]] = set()
    cache = IngestCache()
    for records, total in iter_record_pages(connection, remote["id"], page_size=page_size):
        with session_scope(engine) as session:  # one transaction per page: progress survives
            ingestor = ResponseIngestor(session, result, cache)
            ingestor.preload_dataset(dataset)
            for record in records:
                result.records += 1
                for event in response_events(dataset, record, usernames):
                    result.responses += 1
                    if event.status in ("submitted", "discarded") and event.username:
                        seen.add((event.record_external_id or "", event.username))
                    ingestor.ingest(event)
        if progress is not None:
            progress(result.records, total)
    if withdraw_missing:
        _withdraw_missing(engine, dataset, seen, result)
    with session_scope(engine) as session:
        session.exec(
            update(ArgillaRecord)
            .where(ArgillaRecord.dataset == dataset)
            .values(last_pulled_at=utcnow())
        )
    return result


def _withdraw_missing(
    engine: Engine, dataset: str, seen: set[tuple[str, str]], result: PullResult
) -> None:
    """Judgments from this dataset whose response is gone from Argilla become discarded."""
    with Session(engine) as session:
        live = session.exec(
            select(Judgment).where(
                Judgment.source == f"argilla:{dataset}",
                Judgment.kind == "human",
                Judgment.status == "submitted",
            )
        ).all()
    gone = [j for j in live if (j.meta.get("record_external_id") or "", j.judge) not in seen]
    if not gone:
        return
    with session_scope(engine) as session:
        ingestor = ResponseIngestor(session, result)
        for judgment in gone:
            ingestor.ingest(
                ResponseEvent(
                    dataset=dataset,
                    record_external_id=judgment.meta.get("record_external_id"),
                    record_id=judgment.meta.get("argilla_record_id"),
                    user_id=judgment.meta.get("argilla_user_id") or "",
                    username=judgment.judge,
                    status="submitted",
                    response_id=judgment.external_id,
                    deleted=True,
                )
            )
