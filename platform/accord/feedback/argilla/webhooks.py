"""Near-real-time sync: Argilla webhooks, verified and ingested like a pull.

Argilla signs each delivery per Standard Webhooks (``webhook-id``, ``webhook-timestamp``,
``webhook-signature``). The service's ``POST /api/argilla/webhook`` hands the raw body and
headers to :func:`verify_and_ingest`; ``response.created``, ``response.updated`` and
``response.deleted`` become judgments through the same ingestor pull uses, so a delivery
retried by Argilla, or one that arrives after a pull already stored its answer, changes
nothing. Answers on ranking records (``--mode ranking``) become rankings the same way
(``accord.feedback.argilla.rankings``), answers on demonstration records (``--mode
demonstration``) human demonstrations (``accord.feedback.argilla.demonstrations``). Other
event types are acknowledged and ignored.

    accord argilla webhook --url https://accord.example.org/api/argilla/webhook
    # prints the secret: set it as ACCORD_WEBHOOK_SECRET for the service

>>> event_from_payload({"type": "dataset.created", "data": {}}) is None
True
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.engine import Engine

from ...store.db import session_scope
from .client import ArgillaConnection
from .ingest import IngestTally, ResponseEvent, ResponseIngestor, parse_time

RESPONSE_EVENTS = ("response.created", "response.updated", "response.deleted")
RANKING_RECORD_PREFIX = "accord-ranking-"  # records of ranking datasets (accord...rankings)
DEMONSTRATION_RECORD_PREFIX = "accord-demo-"  # demonstration datasets (...demonstrations)


class WebhookVerificationError(ValueError):
    """The delivery's signature, timestamp or body is not valid: answer 400/401 and drop it."""


class WebhookPayloadError(WebhookVerificationError):
    """A correctly signed delivery whose body does not have the shape of an Argilla event."""


@dataclass
class WebhookOutcome:
    event: str
    action: str  # created | updated | unchanged | withdrawn | stale | drafts | skipped | ignored
    problems: list[str]

    def to_dict(self) -> dict:
        return asdict(self)


def verify_signature(body: bytes, headers: Mapping[str, str], secret: str) -> dict[str, Any]:
    """The JSON payload if ``body`` carries a valid Standard Webhooks signature for ``secret``."""
    from standardwebhooks.webhooks import Webhook
    from standardwebhooks.webhooks import WebhookVerificationError as _Invalid

    if not secret:
        raise WebhookVerificationError("no webhook secret configured (ACCORD_WEBHOOK_SECRET)")
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        payload = Webhook(secret).verify(body, lowered)
    except _Invalid as exc:
        raise WebhookVerificationError(f"webhook signature rejected: {exc}") from exc
    except (ValueError, TypeError) as exc:  # a secret that is not base64, a body not JSON
        raise WebhookVerificationError(f"webhook delivery not understood: {exc}") from exc
    except RecursionError:  # signed, but JSON nested deeper than the parser goes
        raise WebhookPayloadError("webhook body is nested too deeply") from None
    if not isinstance(payload, dict):
        raise WebhookPayloadError("webhook body is not a JSON object")
    return payload


def event_from_payload(payload: Mapping[str, Any]) -> ResponseEvent | None:
    """The response event a ``response.*`` payload describes (None for other events)."""
    kind = payload.get("type")
    if kind not in RESPONSE_EVENTS:
        return None
    data = _object(payload.get("data"), "data")
    record = _object(data.get("record"), "data.record")
    user = _object(data.get("user"), "data.user")
    dataset = _object(record.get("dataset"), "data.record.dataset")
    return ResponseEvent(
        dataset=str(dataset.get("name") or ""),
        record_external_id=record.get("external_id"),
        record_id=record.get("id"),
        user_id=str(user.get("id") or ""),
        username=user.get("username"),
        status=str(data.get("status") or ""),
        values=data.get("values"),
        response_id=data.get("id"),
        inserted_at=parse_time(data.get("inserted_at")),
        updated_at=parse_time(data.get("updated_at")),
        deleted=kind == "response.deleted",
    )


def _object(value: Any, where: str) -> Mapping[str, Any]:
    """``value`` when it is a JSON object (None counts as an empty one), else the error."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise WebhookPayloadError(
            f"webhook {where} must be a JSON object, not {type(value).__name__}"
        )
    return value


def ingest_webhook_event(engine: Engine, payload: Mapping[str, Any]) -> WebhookOutcome:
    """Apply one (already verified) webhook payload to the store, idempotently."""
    kind = str(payload.get("type") or "")
    event = event_from_payload(payload)
    if event is None:
        return WebhookOutcome(event=kind, action="ignored", problems=[])
    tally = IngestTally()
    if not event.dataset:
        tally.problem(f"{kind}: payload names no dataset; skipped")
        return WebhookOutcome(event=kind, action="skipped", problems=tally.problems)
    if (event.record_external_id or "").startswith(RANKING_RECORD_PREFIX):
        from .rankings import ingest_ranking_event

        record = dict((payload.get("data") or {}).get("record") or {})
        with session_scope(engine) as session:
            action, problems = ingest_ranking_event(session, event, record)
        return WebhookOutcome(event=kind, action=action, problems=problems)
    if (event.record_external_id or "").startswith(DEMONSTRATION_RECORD_PREFIX):
        from .demonstrations import ingest_demonstration_event

        record = dict((payload.get("data") or {}).get("record") or {})
        with session_scope(engine) as session:
            action, problems = ingest_demonstration_event(session, event, record)
        return WebhookOutcome(event=kind, action=action, problems=problems)
    with session_scope(engine) as session:
        action = ResponseIngestor(session, tally).ingest(event)
    return WebhookOutcome(event=kind, action=action, problems=tally.problems)


def verify_and_ingest(
    engine: Engine, body: bytes, headers: Mapping[str, str], secret: str
) -> WebhookOutcome:
    """Verify a delivery's signature, then ingest it (raises WebhookVerificationError)."""
    return ingest_webhook_event(engine, verify_signature(body, headers, secret))


@dataclass
class WebhookInfo:
    id: str
    url: str
    events: list[str]
    secret: str
    enabled: bool
    created: bool

    def to_dict(self) -> dict:
        return asdict(self)


def register_webhook(
    connection: ArgillaConnection,
    *,
    url: str,
    events: tuple[str, ...] = RESPONSE_EVENTS,
    description: str = "accord: sync human judgments",
) -> WebhookInfo:
    """A webhook delivering ``events`` to ``url``; an existing one for the URL is reused
    (its events updated), so registering twice keeps one webhook and one secret."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"webhook url must start with http:// or https://, got {url!r}")
    unknown = set(events) - set(RESPONSE_EVENTS)
    if unknown:
        raise ValueError(f"accord ingests only {RESPONSE_EVENTS}; not {sorted(unknown)}")
    http = connection.http

    def existing() -> dict | None:
        items = connection.get_json("/api/v1/webhooks")["items"]
        return next((w for w in items if w["url"] == url), None)

    found = existing()
    if found is not None:
        if sorted(found["events"]) != sorted(events) or not found.get("enabled", True):

            def patch() -> dict:
                r = http.patch(
                    f"/api/v1/webhooks/{found['id']}",
                    json={"events": list(events), "enabled": True},
                )
                r.raise_for_status()
                return r.json()

            found = connection.call(patch, what="webhook update")
        return _info(found, created=False)

    def create() -> dict:
        r = http.post(
            "/api/v1/webhooks",
            json={"url": url, "events": list(events), "description": description},
        )
        if r.status_code == 422:
            raise ValueError(f"Argilla rejected the webhook: {r.text[:300]}")
        r.raise_for_status()
        return r.json()

    return _info(connection.call(create, what="webhook creation"), created=True)


def _info(data: dict, *, created: bool) -> WebhookInfo:
    return WebhookInfo(
        id=data["id"],
        url=data["url"],
        events=list(data["events"]),
        secret=data["secret"],
        enabled=data.get("enabled", True),
        created=created,
    )


def list_webhooks(connection: ArgillaConnection) -> list[WebhookInfo]:
    return [_info(w, created=False) for w in connection.get_json("/api/v1/webhooks")["items"]]


def payload_summary(payload: Mapping[str, Any]) -> str:
    """A short line for logs (never the full body: it carries the record's texts)."""
    data = payload.get("data") or {}
    user = (data.get("user") or {}).get("username")
    record = (data.get("record") or {}).get("external_id")
    return json.dumps({"type": payload.get("type"), "user": user, "record": record})
