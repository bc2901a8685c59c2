"""End to end: a real Argilla server delivers signed webhooks to the accord service running
under uvicorn, and an annotator's answer becomes (then changes) a human judgment in the store."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from sqlmodel import select

from accord.feedback.argilla import push_pairs
from accord.feedback.argilla.schema import to_canonical
from accord.feedback.argilla.webhooks import register_webhook
from accord.store.db import session_scope
from accord.store.models import ArgillaRecord, Judgment
from tests.feedback.conftest import (  # noqa: F401 - fixtures used by name
    _quiet_sdk_warnings,
    connection,
    make_annotator,
    records_by_pair,
    seed_pairs,
    store,
    unique_name,
)
from tests.fixtures.ports import free_port

pytestmark = [pytest.mark.argilla, pytest.mark.slow]


class RunningService:
    """``create_app`` served by uvicorn on a loopback port, in a thread of this process."""

    def __init__(self, app, port: int):
        import uvicorn

        self.port = port
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, name="accord-service", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> RunningService:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "service did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(15)


def wait_for_judgment(engine, judge: str, *, preferred=None, timeout: float = 90.0) -> Judgment:
    """The human judgment by ``judge`` once the store has it (with ``preferred`` when given)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope(engine) as session:
            found = session.exec(
                select(Judgment).where(Judgment.judge == judge, Judgment.kind == "human")
            ).all()
        if found and (preferred is None or found[0].preferred == preferred):
            assert len(found) == 1, found
            return found[0]
        time.sleep(0.5)
    raise AssertionError(
        f"no human judgment by {judge} (preferred={preferred}) within {timeout:.0f} s"
    )


def test_argilla_webhook_reaches_the_running_service(
    store, connection, make_annotator, unique_name, tmp_path
):
    from accord.service.app import create_app
    from accord.service.config import ServiceSettings

    pair_ids = seed_pairs(store, 2, tag="e2e-hook")
    pushed = push_pairs(store, dataset=unique_name, workspace=unique_name, connection=connection)
    port = free_port()
    hook = register_webhook(
        connection,
        url=f"http://127.0.0.1:{port}/api/argilla/webhook",
        events=("response.created", "response.updated"),
    )
    try:
        assert hook.created and sorted(hook.events) == ["response.created", "response.updated"]
        settings = ServiceSettings(
            database_url=str(store.url), home=tmp_path / "home", webhook_secret=hook.secret
        )
        with RunningService(create_app(settings, engine=store), port) as service:
            # A delivery not signed with the webhook's secret is refused and writes nothing.
            forged = httpx.post(
                f"{service.url}/api/argilla/webhook",
                timeout=30,
                json={"type": "response.created", "data": {}},
                headers={
                    "webhook-id": "msg_x",
                    "webhook-timestamp": str(int(time.time())),
                    "webhook-signature": "v1,Zm9yZ2Vk",
                },
            )
            assert forged.status_code == 401, forged.text

            annotator = make_annotator(f"{unique_name}-ann", unique_name)
            record = records_by_pair(connection, pushed.dataset_id)[pair_ids[0]]
            with session_scope(store) as session:
                order = session.exec(
                    select(ArgillaRecord.shown_order).where(ArgillaRecord.pair_id == pair_ids[0])
                ).one()

            response = annotator.submit(record["id"], "a", strength=2)
            judgment = wait_for_judgment(store, annotator.username)
            assert (judgment.pair_id, judgment.preferred, judgment.strength) == (
                pair_ids[0],
                to_canonical("a", order),
                2,
            )
            assert judgment.presentation_order == order

            annotator.change(response["id"], "b")
            changed = wait_for_judgment(
                store, annotator.username, preferred=to_canonical("b", order)
            )
            assert changed.id == judgment.id
        with session_scope(store) as session:
            assert len(session.exec(select(Judgment).where(Judgment.kind == "human")).all()) == 1
    finally:
        connection.http.delete(f"/api/v1/webhooks/{hook.id}")
