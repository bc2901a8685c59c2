"""Fixtures of the service tests: a migrated store (in-memory SQLite with a StaticPool, or a
fresh PostgreSQL database), the app on it, one signed-in user per role, and a little data."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from accord.store.models.user import ROLES

_TEMPLATE = {}


def memory_engine():
    """A private, migrated in-memory SQLite store (one connection shared by every session).

    The migrations run once per test session into a template database; each store is a
    copy of it made with SQLite's backup API (milliseconds instead of a migration run).
    """
    from accord.store.db import make_engine, upgrade

    if "engine" not in _TEMPLATE:
        template = make_engine("sqlite://")
        upgrade(template)
        _TEMPLATE["engine"] = template
    engine = make_engine("sqlite://")
    source = _TEMPLATE["engine"].raw_connection()
    target = engine.raw_connection()
    try:
        source.driver_connection.backup(target.driver_connection)
    finally:
        source.close()
        target.close()
    return engine


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_engine(request):
    """The API suite runs on in-memory SQLite and on a real PostgreSQL."""
    if request.param == "sqlite":
        engine = memory_engine()
        yield engine
        engine.dispose()
        return
    from accord.store.db import open_store

    yield open_store(request.getfixturevalue("pg_url"))


@pytest.fixture
def sqlite_engine():
    engine = memory_engine()
    yield engine
    engine.dispose()


def service_settings(tmp_path):
    from accord.service.config import ServiceSettings

    return ServiceSettings(
        database_url="sqlite://",
        home=tmp_path / "home",
        webhook_secret=None,
        max_body_bytes=200_000,
        max_text_chars=5_000,
        max_page_size=50,
    )


@pytest.fixture
def settings(tmp_path):
    return service_settings(tmp_path)


@pytest.fixture(scope="module")
def service_app():
    """One app per test module (building the routes is the slow part); each test points it
    at its own store and settings."""
    from accord.service.app import create_app
    from accord.service.config import ServiceSettings

    return create_app(ServiceSettings(database_url="sqlite://"), engine=memory_engine())


def make_client(app, engine, settings) -> TestClient:
    app.state.engine = engine
    app.state.settings = settings
    return TestClient(app)


@pytest.fixture
def client(service_app, store_engine, settings) -> TestClient:
    with make_client(service_app, store_engine, settings) as c:
        yield c


def create_role_users(engine) -> dict[str, str]:
    from accord.service.users import create_user
    from accord.store.db import session_scope

    out = {}
    with session_scope(engine) as session:
        for role in ROLES:
            _, out[role] = create_user(session, name=f"{role}-user", role=role)
    return out


@pytest.fixture
def tokens(client) -> dict[str, str]:
    """A bearer token per role (users created with the service's own user functions)."""
    return create_role_users(client.app.state.engine)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def as_role(tokens):
    """``as_role("engineer")`` → headers signing a request in as that role."""
    return lambda role: bearer(tokens[role])


def seed_store(engine, *, prompts: int = 3) -> dict[str, list[int]]:
    """Prompts with two responses each (one revised), their pairs, and some judgments."""
    from accord.store.crud.judgments import upsert_judgment
    from accord.store.crud.pairs import upsert_pair
    from accord.store.crud.prompts import upsert_prompt
    from accord.store.crud.responses import upsert_response
    from accord.store.db import session_scope

    ids = {"prompts": [], "responses": [], "pairs": [], "judgments": []}
    with session_scope(engine) as s:
        for i in range(prompts):
            p = upsert_prompt(s, text=f"Question {i}?", source="seed" if i % 2 == 0 else "other")
            x = upsert_response(s, prompt=p, text=f"answer {i} x", model_id="m1")
            y = upsert_response(s, prompt=p, text=f"answer {i} y", model_id="m2")
            r = upsert_response(
                s, prompt=p, text=f"answer {i} x, revised", role="revision", parent=x, model_id="m1"
            )
            pair = upsert_pair(s, response_x=x, response_y=y, source="seed")
            j_ai, _ = upsert_judgment(
                s,
                pair=pair,
                kind="ai",
                judge="judge-model",
                preferred="a",
                prob_a=0.8,
                presentation_order="ab",
                principle="helpful",
            )
            j_h, _ = upsert_judgment(
                s, pair=pair, kind="human", judge="alice", preferred="a" if i % 2 == 0 else "b"
            )
            ids["prompts"].append(p.id)
            ids["responses"] += [x.id, y.id, r.id]
            ids["pairs"].append(pair.id)
            ids["judgments"] += [j_ai.id, j_h.id]
    return ids


@pytest.fixture
def seeded(client) -> dict[str, list[int]]:
    return seed_store(client.app.state.engine)
