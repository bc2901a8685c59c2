"""The API's request and response models live beside their tables (``accord.store.models``),
the routers and the dashboard read the store through ``accord.store.crud`` only, and the
shapes are the ones the API answers with."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import accord.service
from accord.store import models

SERVICE = Path(accord.service.__file__).parent
FACES = sorted((SERVICE / "routers").glob("*.py")) + [SERVICE / "dashboard.py"]
QUERY_CALLS = {"select", "exec", "execute", "get", "query"}


def _problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            bases = {ast.unparse(b) for b in node.bases}
            if bases & {"BaseModel", "SQLModel"} or any(b.endswith("Public") for b in bases):
                found.append(
                    f"{path.name}:{node.lineno}: model {node.name} (belongs in store/models)"
                )
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            owner = ast.unparse(func.value) if isinstance(func, ast.Attribute) else ""
            if name == "select" or (name in QUERY_CALLS and owner in ("session", "conn")):
                if owner == "conn":  # the health check's "SELECT 1" is not a store query
                    continue
                found.append(
                    f"{path.name}:{node.lineno}: {ast.unparse(func)}(...) (use store/crud)"
                )
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("routers"):
            found.append(f"{path.name}:{node.lineno}: imports a router helper")
        if isinstance(node, ast.ImportFrom) and node.module == "sqlmodel":
            names = {a.name for a in node.names}
            if names & {"select", "func"}:
                found.append(f"{path.name}:{node.lineno}: imports sqlmodel {sorted(names)}")
    return found


@pytest.mark.parametrize("path", FACES, ids=lambda p: p.name)
def test_routers_and_dashboard_hold_no_models_and_no_queries(path):
    assert _problems(path) == []


def test_unused_create_models_are_gone_and_the_used_ones_are_the_api_bodies(client):
    assert not hasattr(models, "ResponseCreate")
    schema = client.get("/openapi.json").json()

    def body(path, method="post"):
        ref = schema["paths"]["/api" + path][method]["requestBody"]["content"]["application/json"][
            "schema"
        ]["$ref"]
        return ref.rsplit("/", 1)[-1]

    assert (
        body("/prompts") == "PromptCreate"
        and models.PromptCreate.__module__ == "accord.store.models.prompt"
    )
    assert body("/judgments") == "JudgmentCreate"
    assert models.JudgmentCreate.__module__ == "accord.store.models.judgment"
    assert body("/jobs") == "JobCreate" and body("/snapshots") == "SnapshotCreate"
    assert body("/users") == "UserCreate" and body("/users/{user_id}", "patch") == "UserUpdate"
    # the field names the API always had
    props = schema["components"]["schemas"]["JudgmentCreate"]["properties"]
    assert sorted(props) == [
        "pair_id",
        "preferred",
        "presentation_order",
        "principle",
        "rationale",
        "strength",
    ]
    assert sorted(schema["components"]["schemas"]["PromptCreate"]["properties"]) == [
        "messages",
        "meta",
        "source",
        "text",
    ]


def test_models_from_the_store_answer_the_routes(client, seeded, as_role):
    pair_id = seeded["pairs"][0]
    detail = client.get(f"/api/pairs/{pair_id}", headers=as_role("viewer"))
    assert detail.status_code == 200
    assert set(detail.json()) >= {"prompt", "response_a", "response_b", "content_hash"}
    made = client.post(
        "/api/judgments",
        headers=as_role("annotator"),
        json={"pair_id": pair_id, "preferred": "b", "presentation_order": "ba"},
    )
    assert made.status_code == 201 and made.json()["outcome"] == "created"
    changed = client.post(
        "/api/judgments",
        headers=as_role("annotator"),
        json={"pair_id": pair_id, "preferred": "a", "presentation_order": "ba"},
    )
    assert changed.json()["outcome"] == "updated"
    history = client.get(
        f"/api/judgments/{changed.json()['judgment']['id']}/history", headers=as_role("viewer")
    )
    assert [h["preferred"] for h in history.json()] == ["b"]
    stats = client.get("/api/stats", headers=as_role("viewer")).json()
    assert stats["pairs"] == len(seeded["pairs"]) and stats["jobs"] == {"total": 0}
    job = client.post(
        "/api/jobs",
        headers=as_role("engineer"),
        json={"kind": "snapshot", "config": {"name": "s1", "policy": "human-only"}},
    )
    assert job.status_code == 201
    progress = client.get(
        f"/api/jobs/{job.json()['id']}/progress", headers=as_role("engineer")
    ).json()
    assert progress["status"] == "queued" and progress["fraction"] is None
    assert (
        client.get(f"/api/jobs/{job.json()['id']}/errors", headers=as_role("engineer")).json() == []
    )
    assert client.get("/api/stats", headers=as_role("viewer")).json()["jobs"] == {
        "total": 1,
        "queued": 1,
    }
