"""The role matrix, for EVERY route of the API: no token → 401, a role outside the route's
permission → 403, a role inside it → neither (404/422 are fine: the ids are made up).

The expected matrix is written out here by hand; a route added to the app without an entry
here fails ``test_every_route_has_an_expected_permission``.
"""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute

from accord.service.auth import ADMIN, ANNOTATE, OPERATE, READ_DATA, READ_OPS
from accord.service.deps import allow
from accord.store.models.user import ROLES

from .conftest import bearer, create_role_users, make_client, memory_engine, service_settings

PUBLIC = None  # no bearer token (health; the webhook authenticates by signature)

EXPECTED = {
    ("GET", "/api/health"): PUBLIC,
    ("GET", "/api/stats"): READ_DATA,
    ("GET", "/api/me"): READ_DATA,
    ("GET", "/api/prompts"): READ_DATA,
    ("GET", "/api/prompts/{prompt_id}"): READ_DATA,
    ("POST", "/api/prompts"): OPERATE,
    ("GET", "/api/responses"): READ_DATA,
    ("GET", "/api/responses/{response_id}"): READ_DATA,
    ("GET", "/api/responses/{response_id}/lineage"): READ_DATA,
    ("GET", "/api/pairs"): READ_DATA,
    ("GET", "/api/pairs/{pair_id}"): READ_DATA,
    ("GET", "/api/judgments"): READ_DATA,
    ("GET", "/api/judgments/{judgment_id}"): READ_DATA,
    ("GET", "/api/judgments/{judgment_id}/history"): READ_DATA,
    ("POST", "/api/judgments"): ANNOTATE,
    ("GET", "/api/constitutions"): READ_DATA,
    ("GET", "/api/constitutions/{constitution_id}"): READ_DATA,
    ("GET", "/api/jobs"): READ_OPS,
    ("GET", "/api/jobs/kinds"): READ_OPS,
    ("POST", "/api/jobs"): OPERATE,
    ("GET", "/api/jobs/{job_id}"): READ_OPS,
    ("GET", "/api/jobs/{job_id}/progress"): READ_OPS,
    ("GET", "/api/jobs/{job_id}/errors"): READ_OPS,
    ("GET", "/api/jobs/{job_id}/events"): READ_OPS,
    ("POST", "/api/jobs/{job_id}/cancel"): OPERATE,
    ("POST", "/api/jobs/{job_id}/retry"): OPERATE,
    ("GET", "/api/snapshots"): READ_OPS,
    ("POST", "/api/snapshots"): OPERATE,
    ("GET", "/api/snapshots/{name}"): READ_OPS,
    ("GET", "/api/snapshots/{name}/examples"): READ_OPS,
    ("GET", "/api/snapshots/{name}/verify"): READ_OPS,
    ("GET", "/api/snapshots/{name}/diff/{other}"): READ_OPS,
    ("GET", "/api/snapshots/{name}/export"): READ_OPS,
    ("GET", "/api/runs"): READ_OPS,
    ("GET", "/api/runs/{run_id}"): READ_OPS,
    ("GET", "/api/runs/{run_id}/metrics"): READ_OPS,
    ("GET", "/api/audit/summary"): READ_DATA,
    ("GET", "/api/audit/reports"): READ_DATA,
    ("GET", "/api/audit/reports/{name}"): READ_DATA,
    ("GET", "/api/audit/reports/{name}/files/{path:path}"): READ_DATA,
    ("POST", "/api/argilla/webhook"): PUBLIC,
    ("GET", "/api/gold"): READ_OPS,
    ("POST", "/api/gold"): OPERATE,
    ("GET", "/api/users"): ADMIN,
    ("POST", "/api/users"): ADMIN,
    ("GET", "/api/users/{user_id}"): ADMIN,
    ("PATCH", "/api/users/{user_id}"): ADMIN,
    ("POST", "/api/users/{user_id}/token"): ADMIN,
}


def _app():
    from accord.service.app import create_app
    from accord.service.config import ServiceSettings

    return create_app(ServiceSettings(database_url="sqlite://"), engine=memory_engine())


APP = _app()
ROUTES = [
    (method, route)
    for route in APP.routes
    if isinstance(route, APIRoute)
    for method in sorted(route.methods)
]


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    """One store with a user per role for the whole matrix (its requests change nothing)."""
    engine = memory_engine()
    settings = service_settings(tmp_path_factory.mktemp("matrix"))
    settings.webhook_secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    with make_client(APP, engine, settings) as c:
        yield c, create_role_users(engine)


def declared_permission(route: APIRoute):
    """The ``allow(...)`` guarding a route, found in its dependency tree."""
    found = []

    def walk(dependant):
        if isinstance(dependant.call, allow):
            found.append(dependant.call.permission)
        for sub in dependant.dependencies:
            walk(sub)

    walk(route.dependant)
    assert len(set(found)) <= 1, f"{route.path} has several role checks: {found}"
    return found[0] if found else None


def test_every_route_has_an_expected_permission():
    actual = {(m, r.path) for m, r in ROUTES if r.path.startswith("/api")}
    assert actual == set(EXPECTED), (
        f"routes without an entry: {sorted(actual - set(EXPECTED))}; "
        f"entries without a route: {sorted(set(EXPECTED) - actual)}"
    )


@pytest.mark.parametrize(
    "method,route",
    [(m, r) for m, r in ROUTES if r.path.startswith("/api")],
    ids=lambda v: v if isinstance(v, str) else v.path,
)
def test_route_declares_the_expected_permission(method, route):
    assert declared_permission(route) == EXPECTED[(method, route.path)]


def concrete_path(template: str) -> str:
    values = {"name": "no-such-snapshot", "other": "no-such-other", "path": "summary.json"}
    return re.sub(r"\{(\w+)(:path)?\}", lambda m: values.get(m.group(1), "999999"), template)


CASES = [
    (m, r.path, role)
    for m, r in ROUTES
    if r.path.startswith("/api") and EXPECTED.get((m, r.path)) is not PUBLIC
    for role in (None, *ROLES)
]


@pytest.mark.parametrize(
    "method,path,role", CASES, ids=[f"{m} {p} as {r or 'nobody'}" for m, p, r in CASES]
)
def test_role_matrix(matrix, method, path, role):
    client, tokens = matrix
    headers = bearer(tokens[role]) if role else {}
    response = client.request(
        method,
        concrete_path(path),
        headers=headers,
        json={} if method in ("POST", "PATCH") else None,
    )
    allowed = EXPECTED[(method, path)].roles
    if role is None:
        assert response.status_code == 401, response.text
        assert response.headers.get("www-authenticate") == "Bearer"
    elif role in allowed:
        assert response.status_code not in (401, 403), response.text
        assert response.status_code < 500, response.text
    else:
        assert response.status_code == 403, response.text
        assert role in response.json()["detail"]


@pytest.mark.parametrize("path", [p for (m, p), perm in EXPECTED.items() if perm is PUBLIC])
def test_public_routes_need_no_token(matrix, path):
    client, _ = matrix
    method = next(m for (m, p) in EXPECTED if p == path)
    response = client.request(method, path, content=b"{}")
    # health answers; an unsigned webhook delivery is refused by its signature check
    assert response.status_code == (200 if path == "/api/health" else 401), response.text


def test_an_annotator_cannot_create_a_snapshot(client, as_role):
    body = {"name": "s1", "policy": "majority"}
    assert client.post("/api/snapshots", json=body, headers=as_role("annotator")).status_code == 403
    assert client.post("/api/snapshots", json=body).status_code == 401
    assert client.post("/api/snapshots", json=body, headers=as_role("engineer")).status_code == 202


def test_bad_authorization_headers_are_401(client):
    for header in ("Basic abc", "Bearer", "Bearer ", "token", "Bearer acc_not-a-real-token"):
        response = client.get("/api/stats", headers={"Authorization": header})
        assert response.status_code == 401, header


def test_deactivated_user_token_stops_working(client, tokens, as_role):
    me = client.get("/api/me", headers=as_role("viewer")).json()
    assert (
        client.patch(
            f"/api/users/{me['id']}", json={"active": False}, headers=as_role("admin")
        ).status_code
        == 200
    )
    assert client.get("/api/me", headers=as_role("viewer")).status_code == 401


def test_cookie_signs_in_reads_but_never_writes(client, tokens):
    client.cookies.set("accord_token", tokens["admin"])
    try:
        assert client.get("/api/me").json()["role"] == "admin"
        assert client.post("/api/users", json={"name": "x", "role": "viewer"}).status_code == 401
    finally:
        client.cookies.clear()
