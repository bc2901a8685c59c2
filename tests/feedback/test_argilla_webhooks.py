"""Argilla's real webhook deliveries (sent by its RQ worker) verified and ingested."""

from __future__ import annotations

import json
import queue
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlmodel import Session, select

from accord.feedback.argilla import (
    WebhookVerificationError,
    pull_judgments,
    push_pairs,
    verify_and_ingest,
)
from accord.feedback.argilla.schema import to_canonical
from accord.feedback.argilla.webhooks import register_webhook
from accord.store.crud.judgments import judgment_history
from accord.store.models import ArgillaRecord, Judgment

from .conftest import records_by_pair, seed_pairs

pytestmark = [pytest.mark.argilla, pytest.mark.slow]


@pytest.fixture
def receiver():
    """A small HTTP endpoint standing in for the accord service: records every delivery."""
    deliveries: queue.Queue = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            deliveries.put((body, {k: v for k, v in self.headers.items()}))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.deliveries = deliveries
    server.url = f"http://127.0.0.1:{server.server_address[1]}/api/argilla/webhook"
    yield server
    server.shutdown()
    server.server_close()


def _next_delivery(receiver, *, event: str, external_id: str, timeout: float = 90.0):
    """The first delivery of ``event`` about ``external_id`` (others' events are skipped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            body, headers = receiver.deliveries.get(timeout=1.0)
        except queue.Empty:
            continue
        payload = json.loads(body)
        record = (payload.get("data") or {}).get("record") or {}
        if payload.get("type") == event and record.get("external_id") == external_id:
            return body, headers
    raise AssertionError(f"no {event} delivery for {external_id} within {timeout:.0f} s")


def test_webhook_deliveries_verified_and_ingested(
    store, connection, make_annotator, unique_name, receiver
):
    pair_ids = seed_pairs(store, 2, tag="hook")
    pushed = push_pairs(store, dataset=unique_name, workspace=unique_name, connection=connection)
    hook = register_webhook(connection, url=receiver.url)
    try:
        again = register_webhook(connection, url=receiver.url)
        assert (again.id, again.secret, again.created, hook.created) == (
            hook.id,
            hook.secret,
            False,
            True,
        )
        annotator = make_annotator(f"{unique_name}-ann", unique_name)
        record = records_by_pair(connection, pushed.dataset_id)[pair_ids[0]]
        with Session(store) as s:
            order = s.exec(
                select(ArgillaRecord.shown_order).where(ArgillaRecord.pair_id == pair_ids[0])
            ).one()

        response = annotator.submit(record["id"], "a", strength=2)
        body, headers = _next_delivery(
            receiver, event="response.created", external_id=record["external_id"]
        )
        assert headers["webhook-signature"].startswith("v1,")
        outcome = verify_and_ingest(store, body, headers, hook.secret)
        assert (outcome.event, outcome.action, outcome.problems) == (
            "response.created",
            "created",
            [],
        )
        with Session(store) as s:
            judgment = s.exec(select(Judgment).where(Judgment.judge == annotator.username)).one()
        assert (judgment.preferred, judgment.strength, judgment.presentation_order) == (
            to_canonical("a", order),
            2,
            order,
        )
        # Argilla retries deliveries: the same one twice changes nothing.
        assert verify_and_ingest(store, body, headers, hook.secret).action == "unchanged"
        # Forged or tampered deliveries are refused before anything is written.
        with pytest.raises(WebhookVerificationError):
            verify_and_ingest(store, body.replace(b'"a"', b'"b"'), headers, hook.secret)
        with pytest.raises(WebhookVerificationError):
            verify_and_ingest(store, body, headers, "c2VjcmV0LW9mLXNvbWVvbmUtZWxzZQ==")
        with pytest.raises(WebhookVerificationError):
            verify_and_ingest(
                store,
                body,
                {k: v for k, v in headers.items() if k.lower() != "webhook-signature"},
                hook.secret,
            )

        annotator.change(response["id"], "b")
        body, headers = _next_delivery(
            receiver, event="response.updated", external_id=record["external_id"]
        )
        assert verify_and_ingest(store, body, headers, hook.secret).action == "updated"
        with Session(store) as s:
            judgment = s.get(Judgment, judgment.id)
            history = judgment_history(s, judgment_id=judgment.id)
        assert judgment.preferred == to_canonical("b", order)
        assert [h.preferred for h in history] == [to_canonical("a", order)]

        # A pull after the webhooks finds everything already stored.
        pulled = pull_judgments(store, dataset=unique_name, connection=connection)
        assert (pulled.created, pulled.updated, pulled.unchanged) == (0, 0, 1)

        annotator.delete(response["id"])
        body, headers = _next_delivery(
            receiver, event="response.deleted", external_id=record["external_id"]
        )
        assert verify_and_ingest(store, body, headers, hook.secret).action == "withdrawn"
        with Session(store) as s:
            judgment = s.get(Judgment, judgment.id)
        assert (judgment.status, judgment.preferred) == ("discarded", None)
    finally:
        connection.http.delete(f"/api/v1/webhooks/{hook.id}")
