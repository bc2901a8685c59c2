"""Property-based requests generated from the OpenAPI schema: whatever the input, no 500.

Bounded (a few examples per operation) so it stays a smoke test of robustness, signed in as
an admin so every route is reachable, on a store with a little data in it.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from accord.service.app import create_app
from accord.service.config import ServiceSettings

from .conftest import create_role_users, memory_engine, seed_store

pytestmark = pytest.mark.slow


def _app():
    engine = memory_engine()
    seed_store(engine)
    service_settings = ServiceSettings(
        database_url="sqlite://",
        sse_max_seconds=1.0,
        max_body_bytes=100_000,
        max_text_chars=5_000,
        webhook_secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    )
    app = create_app(service_settings, engine=engine)
    app.state.admin_token = create_role_users(engine)["admin"]
    return app


APP = _app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)
def test_no_server_error_on_generated_input(case):
    response = case.call(headers={"Authorization": f"Bearer {APP.state.admin_token}"})
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
    )


# Invalid input on purpose (schemathesis' negative mode: wrong types, out-of-range numbers,
# missing fields, NUL characters in strings), every operation: a 4xx, never a 500.
negative = schemathesis.openapi.from_asgi("/openapi.json", APP)
negative.config.generation.update(modes=[schemathesis.GenerationMode.NEGATIVE], allow_x00=True)


@negative.parametrize()
@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)
def test_no_server_error_on_invalid_input(case):
    response = case.call(headers={"Authorization": f"Bearer {APP.state.admin_token}"})
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
    )
