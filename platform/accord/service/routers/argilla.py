"""``POST /api/argilla/webhook``: Argilla's signed deliveries, verified and ingested.

No bearer token here: the Standard Webhooks signature made with the shared secret
(``ACCORD_WEBHOOK_SECRET``) is the authentication. A bad signature answers 401, so Argilla
shows the delivery as failed; ingestion is idempotent, so its retries change nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from ..deps import EngineDep, SettingsDep

router = APIRouter(prefix="/argilla", tags=["argilla"])


@router.post("/webhook", summary="Receive an Argilla webhook delivery (signature-checked)")
async def argilla_webhook(
    request: Request, engine: EngineDep, settings: SettingsDep
) -> dict[str, Any]:
    from anyio import to_thread

    from ...feedback.argilla.webhooks import (
        WebhookPayloadError,
        WebhookVerificationError,
        verify_and_ingest,
    )

    if not settings.webhook_secret:
        raise HTTPException(503, "webhooks are not configured: set ACCORD_WEBHOOK_SECRET")
    body = await request.body()
    headers = dict(request.headers)
    try:
        outcome = await to_thread.run_sync(
            lambda: verify_and_ingest(engine, body, headers, settings.webhook_secret)
        )
    except WebhookPayloadError as exc:
        raise HTTPException(422, str(exc)) from None
    except WebhookVerificationError as exc:
        raise HTTPException(401, str(exc)) from None
    return outcome.to_dict()
