"""The security suite: what an attacker or a careless user sends, against the real app on
SQLite and PostgreSQL.

- path traversal in every name and path parameter (plain and encoded): never a 5xx, never a
  file from outside its folder in an answer, never a file written outside its folder;
- secrets in job configs: refused from the API, redacted in the store and in every answer;
- paths and trust_remote_code in API recipes: only under the configured roots / when allowed;
- values that used to answer 500 (ids ≥ 2⁶³, lone surrogates, NUL, deep nesting, webhook
  bodies of the wrong shape) swept over every route: a 4xx with a clear message;
- the commit of a request happens before its answer.

The counts printed by ``test_traversal_probes`` go into docs/service.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select, text
from sqlalchemy.exc import OperationalError

from accord.service.app import create_app
from accord.store.crud.jobs import create_job
from accord.store.db import session_scope
from accord.store.models import Job, Snapshot

from .conftest import bearer, create_role_users, seed_store, service_settings

MARKER = "TOP-SECRET-MARKER-7f3a"
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

# Names and paths as an attacker writes them: plain, URL-encoded, double-encoded, NUL,
# backslashes, absolute, home-relative, full-width dots.
TRAVERSALS = [
    "..",
    "../..",
    "../outside",
    "../../outside/x",
    "a/../../outside",
    "....//....//outside",
    "%2e%2e",
    "%2e%2e%2foutside",
    "..%2f..%2foutside",
    "%252e%252e%252foutside",
    "..%5c..%5coutside",
    "..\\..\\outside",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "~root",
    "x%00y",
    "..%00",
    "．．",
    "..;",
    ".hidden",
    "-rf",
]


@pytest.fixture
def world(tmp_path, store_engine):
    """The app on a store with data, a snapshot, a report, and a secret file next to the
    service's home (what a traversal would reach)."""
    settings = service_settings(tmp_path)
    settings.webhook_secret = WEBHOOK_SECRET
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "x").write_text(MARKER)
    (tmp_path / "outside-secret.txt").write_text(MARKER)
    report = settings.reports_dir / "audit1"
    report.mkdir(parents=True)
    (report / "summary.json").write_text(json.dumps({"ok": True}))
    seed_store(store_engine)
    from accord.snapshots import create_snapshot

    create_snapshot(store_engine, name="snap-ok", policy="majority", test_fraction=0.0)
    app = create_app(settings, engine=store_engine)
    tokens = create_role_users(store_engine)
    client = TestClient(app, raise_server_exceptions=False)
    client.cookies.set(settings.cookie_name, tokens["admin"])
    return {
        "client": client,
        "h": bearer(tokens["admin"]),
        "tmp": tmp_path,
        "engine": store_engine,
        "settings": settings,
    }


def _files_outside(tmp_path, settings) -> set[str]:
    home = settings.home.resolve()
    return {
        str(p)
        for p in tmp_path.rglob("*")
        if home not in p.resolve().parents and p.resolve() != home
    }


def _escapes(value: str) -> bool:
    """Whether ``value``, used as a path as it is (JSON bodies are not URL-decoded), could
    leave its folder: absolute, home-relative, or with a '..' part."""
    from pathlib import PurePosixPath

    return value.startswith(("/", "~")) or ".." in PurePosixPath(value.replace("\\", "/")).parts


def test_traversal_probes(world, capsys):
    """Every name and path parameter with every traversal: N probes, 0 leaks."""
    c, h, tmp, settings = world["client"], world["h"], world["tmp"], world["settings"]
    before = _files_outside(tmp, settings)
    gets = [
        "/api/snapshots/{v}",
        "/api/snapshots/{v}/examples",
        "/api/snapshots/{v}/verify",
        "/api/snapshots/{v}/diff/snap-ok",
        "/api/snapshots/snap-ok/diff/{v}",
        "/api/snapshots/{v}/export",
        "/api/audit/reports/{v}",
        "/api/audit/reports/audit1/files/{v}",
        "/api/audit/reports/{v}/files/summary.json",
        "/snapshots/{v}",
        "/snapshots/snap-ok?diff={v}",
        "/api/audit/summary?snapshot={v}",
    ]
    posts = [
        ("/api/snapshots", lambda v: {"name": v, "policy": "majority"}),
        (
            "/api/jobs",
            lambda v: {
                "kind": "snapshot",
                "name": v,
                "config": {"name": "s-ok", "policy": "majority"},
            },
        ),
        ("/api/jobs", lambda v: {"kind": "snapshot", "config": {"name": v, "policy": "majority"}}),
        ("/api/jobs", lambda v: {"kind": "argilla_pull", "config": {"dataset": v}}),
        (
            "/api/jobs",
            lambda v: {"kind": "argilla_pull", "config": {"dataset": "d", "workspace": v}},
        ),
        ("/api/jobs", lambda v: {"kind": "recipe", "config": {"recipe": v}}),
        (
            "/api/jobs",
            lambda v: {
                "kind": "recipe",
                "config": {
                    "recipe": {"name": "r", "steps": [{"kind": "import_prompts", "file": v}]}
                },
            },
        ),
        (
            "/api/jobs",
            lambda v: {
                "kind": "recipe",
                "config": {
                    "recipe": {
                        "name": "r",
                        "base_dir": v,
                        "steps": [{"kind": "import_prompts", "file": "p.txt"}],
                    }
                },
            },
        ),
    ]
    probes, leaks = 0, []
    for v in TRAVERSALS:
        for template in gets:
            r = c.get(template.format(v=v), headers=h)
            probes += 1
            if (
                r.status_code >= 500
                or MARKER in r.text
                or (r.status_code == 200 and "export" in template)
            ):
                leaks.append((template, v, r.status_code))
        for url, body in posts:
            r = c.post(url, json=body(v), headers=h)
            probes += 1
            dangerous = _escapes(v)
            if r.status_code >= 500 or MARKER in r.text or (dangerous and r.status_code < 400):
                leaks.append((url, json.dumps(body(v)), r.status_code))
    assert _files_outside(tmp, settings) == before
    with capsys.disabled():
        print(f"\ntraversal: {probes} probes, {len(leaks)} leaks")
    assert probes >= 400 and leaks == []


def test_a_legacy_snapshot_named_dotdot_exports_only_itself(world):
    """A snapshot stored before names were checked, named '..', exports its own files."""
    c, h, engine = world["client"], world["h"], world["engine"]
    with session_scope(engine) as s:
        s.execute(text("UPDATE snapshot SET name = '..' WHERE name = 'snap-ok'"))
    r = c.get("/api/snapshots/../export", headers=h)  # the client normalises: not our route
    r = c.get("/api/snapshots/%2E%2E/export", headers=h)
    assert r.status_code == 200, r.text
    import io
    import zipfile

    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    # the dataset card (README.md) travels with the data it describes
    assert sorted(n.split("/", 1)[1] for n in names) == [
        "README.md",
        "manifest.json",
        "test.jsonl",
        "train.jsonl",
    ]
    assert all(n.startswith("snapshot/") for n in names)


def test_names_are_checked_in_the_store_too(store_engine):
    from accord.names import InvalidNameError
    from accord.snapshots import SnapshotError, create_snapshot

    seed_store(store_engine)
    with pytest.raises(SnapshotError, match="not allowed"):
        create_snapshot(store_engine, name="../x", policy="majority")
    with pytest.raises(InvalidNameError), session_scope(store_engine) as s:
        create_job(s, kind="recipe", name="../../outside/x")


def test_report_folder_stays_under_reports_even_for_a_stored_bad_job_name(tmp_path, monkeypatch):
    """A job row named before names were checked cannot place reports outside the folder."""
    from accord.jobs.context import StepContext
    from accord.settings import get_settings
    from accord.store.db import open_store
    from accord.workflows.outputs import report_dir

    monkeypatch.setenv("ACCORD_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    try:
        engine = open_store(f"sqlite:///{tmp_path / 'a.db'}")
        with session_scope(engine) as s:
            s.add(Job(kind="recipe", name="../../outside/x", config={}, config_hash="0" * 64))
        with session_scope(engine) as s:
            job_id = s.exec(select(Job.id)).first()
        ctx = StepContext(
            engine=engine,
            job_id=job_id,
            seed=0,
            base_dir=tmp_path,
            retry_errors=False,
            progress=None,
            models={},
        )
        folder = report_dir(ctx)
        assert folder == (tmp_path / "home" / "reports" / "recipe").resolve()
    finally:
        get_settings.cache_clear()


# -- secrets --------------------------------------------------------------------------------
def _recipe_with(options: dict) -> dict:
    return {
        "kind": "recipe",
        "config": {
            "recipe": {
                "name": "gen",
                "models": {"policy": {"backend": "openai", "model": "gpt-x", "options": options}},
                "steps": [{"kind": "import_prompts", "bundled": "quickstart"}],
            }
        },
    }


def test_secrets_are_refused_from_the_api_and_never_shown(world):
    c, h, engine = world["client"], world["h"], world["engine"]
    r = c.post("/api/jobs", json=_recipe_with({"api_key": "sk-live-" + MARKER}), headers=h)
    assert r.status_code == 422 and MARKER not in r.text
    assert r.json()["detail"][0]["field"] == "recipe.models.policy.options.api_key"
    ok = c.post("/api/jobs", json=_recipe_with({"api_key": {"env": "OPENAI_API_KEY"}}), headers=h)
    assert ok.status_code == 201, ok.text
    assert ok.json()["config"]["recipe"]["models"]["policy"]["options"]["api_key"] == {
        "env": "OPENAI_API_KEY"
    }
    # A job made by a local caller (accord run) with a literal key: stored redacted.
    with session_scope(engine) as s:
        job = create_job(
            s,
            kind="recipe",
            name="local",
            config={
                "models": {"m": {"options": {"api_key": MARKER, "pad_token": "<pad>"}}},
                "argilla": {"password": MARKER},
                "hf_token": MARKER,
            },
        )
        job_id = job.id
    with session_scope(engine) as s:
        stored = s.get(Job, job_id).config
    assert (
        MARKER not in json.dumps(stored)
        and stored["models"]["m"]["options"]["pad_token"] == "<pad>"
    )
    # Rows from before redaction on write are redacted in every answer.
    with session_scope(engine) as s:
        s.get(Job, job_id).config = {"options": {"api_key": MARKER}, "token": MARKER}
    for url in (f"/api/jobs/{job_id}", "/api/jobs", "/api/jobs?kind=recipe"):
        r = c.get(url, headers=h)
        assert r.status_code == 200 and MARKER not in r.text and "<redacted>" in r.text


# -- paths and trust_remote_code in API recipes ---------------------------------------------
def test_api_recipes_name_paths_only_under_configured_roots(world):
    c, h, tmp, settings = world["client"], world["h"], world["tmp"], world["settings"]

    def prompts_from(path):
        return {
            "kind": "recipe",
            "config": {
                "recipe": {"name": "r", "steps": [{"kind": "import_prompts", "file": path}]}
            },
        }

    data = tmp / "data"
    data.mkdir()
    (data / "p.txt").write_text("hello\n")
    for bad in (str(tmp / "outside-secret.txt"), "file:" + str(data / "p.txt"), "../x.txt"):
        r = c.post("/api/jobs", json=prompts_from(bad), headers=h)
        assert r.status_code == 422 and "ACCORD_JOB_PATH_ROOTS" in r.text, r.text
    settings.job_path_roots = str(data)
    assert c.post("/api/jobs", json=prompts_from(str(data / "p.txt")), headers=h).status_code == 201
    link = data / "escape.txt"
    link.symlink_to(tmp / "outside-secret.txt")
    assert c.post("/api/jobs", json=prompts_from(str(link)), headers=h).status_code == 422
    train = {
        "kind": "train",
        "config": {"trainer": "sft", "snapshot": "snap-ok", "output_dir": "/tmp/elsewhere"},
    }
    r = c.post("/api/jobs", json=train, headers=h)
    assert r.status_code == 422 and "output_dir" in r.text
    remote = _recipe_with({"trust_remote_code": True})
    r = c.post("/api/jobs", json=remote, headers=h)
    assert r.status_code == 422 and "ACCORD_ALLOW_TRUST_REMOTE_CODE" in r.text
    settings.allow_trust_remote_code = True
    assert c.post("/api/jobs", json=remote, headers=h).status_code == 201


# -- values that used to answer 500 ---------------------------------------------------------
BAD_IDS = ["9223372036854775808", "99999999999999999999", "-1", "0", "1e3", "%00"]
BAD_TEXTS = ["\ud800", "a\udfffb", "nul\x00byte"]


def _raw_json(value) -> bytes:
    # json.dumps keeps a lone surrogate as its \ud800 escape, as an attacker would send it.
    return json.dumps(value).encode()


def test_sweep_every_route_with_bad_ids_and_texts(world, capsys):
    """Every route of the OpenAPI schema and the dashboard, every path parameter a bad id or
    text, every body field a bad text: no 5xx."""
    c, h = world["client"], world["h"]
    schema = c.app.openapi()
    dashboard = ["/jobs/{job_id}", "/runs/{run_id}", "/snapshots/{name}"]
    routes = [(p, m, op) for p, ops in schema["paths"].items() for m, op in ops.items()]
    routes += [(p, "get", {}) for p in dashboard]
    probes, failures = 0, []
    for path, method, op in routes:
        if path.endswith("/events"):
            continue  # a stream: covered by its own test
        params = [seg[1:-1].split(":")[0] for seg in path.split("/") if seg.startswith("{")]
        for value in BAD_IDS + ["%5Cud800", "x%00y"] if params else [None]:
            url = path
            for p in params:
                url = url.replace("{" + p + "}", value).replace("{" + p + ":path}", value)
            body_schema = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            ref = body_schema.get("schema", {}).get("$ref", "")
            fields = (
                schema["components"]["schemas"][ref.split("/")[-1]].get("properties", {})
                if ref
                else {}
            )
            bodies = [{f: t} for f in fields for t in BAD_TEXTS] or [{}]
            for body in bodies if method in ("post", "patch", "put") else [None]:
                r = c.request(
                    method.upper(),
                    url,
                    headers={**h, "content-type": "application/json"},
                    content=_raw_json(body) if body is not None else None,
                )
                probes += 1
                if r.status_code >= 500:
                    failures.append((method, url, body, r.status_code, r.text[:200]))
    with capsys.disabled():
        print(f"\n4xx sweep: {probes} probes, {len(failures)} server errors")
    assert failures == []


def test_judgment_pair_id_beyond_64_bits_and_lone_surrogates_are_422(world):
    c, h, engine = world["client"], world["h"], world["engine"]
    r = c.post("/api/judgments", json={"pair_id": 2**63, "preferred": "a"}, headers=h)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "pair_id"
    with session_scope(engine) as s:
        pair_id = s.exec(select(text("id")).select_from(text("pair"))).first()[0]
    for body, field in [
        ({"pair_id": pair_id, "preferred": "a", "rationale": "\ud800"}, "rationale"),
        ({"text": "x\ud800"}, "prompt text"),
        ({"text": "ok", "meta": {"k": "\udc00"}}, "prompt meta"),
    ]:
        url = "/api/judgments" if "pair_id" in body else "/api/prompts"
        r = c.post(url, content=_raw_json(body), headers={**h, "content-type": "application/json"})
        assert r.status_code == 422 and field in r.json()["detail"], r.text
    r = c.post("/api/prompts", json={"text": "nul\x00text"}, headers=h)
    assert r.status_code == 422 and "NUL" in r.json()["detail"]  # the same on both databases


def test_huge_ids_on_dashboard_pages_and_nul_in_urls_are_4xx(world):
    c, h = world["client"], world["h"]
    for url in ("/jobs/99999999999999999999", "/runs/9223372036854775808"):
        assert c.get(url).status_code == 404
    # A NUL in a path or query: the same 422 on SQLite and PostgreSQL (which cannot compare).
    for url in (
        "/api/audit/reports/audit1/files/summary%00.json",
        "/api/snapshots/x%00y",
        "/api/prompts?source=a%00b",
        "/snapshots/x%00",
    ):
        r = c.get(url, headers=h)
        assert r.status_code == 422 and "NUL" in r.text, (url, r.text)
    assert c.get("/api/audit/reports/audit1/files/summary.json", headers=h).status_code == 200


def _signed(body: bytes, secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mid, ts = "msg_sec", str(int(time.time()))
    sig = base64.b64encode(hmac.new(key, f"{mid}.{ts}.".encode() + body, hashlib.sha256).digest())
    return {
        "webhook-id": mid,
        "webhook-timestamp": ts,
        "webhook-signature": f"v1,{sig.decode()}",
        "content-type": "application/json",
    }


@pytest.mark.parametrize(
    "payload,where",
    [
        ({"type": "response.created", "data": [1]}, "data"),
        ({"type": "response.created", "data": "x"}, "data"),
        ({"type": "response.updated", "data": {"record": "x"}}, "data.record"),
        ({"type": "response.created", "data": {"record": {"dataset": "d"}}}, "data.record.dataset"),
        ({"type": "response.deleted", "data": {"record": {}, "user": 5}}, "data.user"),
        ([1, 2, 3], "not a JSON object"),
        ("text", "not a JSON object"),
    ],
)
def test_signed_webhooks_of_the_wrong_shape_are_422(world, payload, where):
    body = json.dumps(payload).encode()
    r = world["client"].post("/api/argilla/webhook", content=body, headers=_signed(body))
    assert r.status_code == 422 and where in r.json()["detail"], r.text


def test_deeply_nested_bodies_are_4xx(world):
    c, h = world["client"], world["h"]
    deep = b'{"type": "response.created", "data": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    r = c.post("/api/argilla/webhook", content=deep, headers=_signed(deep))
    assert r.status_code == 422 and "nested too deeply" in r.text
    deep = b'{"text": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    r = c.post("/api/prompts", content=deep, headers={**h, "content-type": "application/json"})
    assert 400 <= r.status_code < 500
    body = json.dumps({"type": "response.created", "data": {}}).encode()
    bad = c.post(
        "/api/argilla/webhook",
        content=body,
        headers=_signed(body, "whsec_" + base64.b64encode(b"x" * 24).decode()),
    )
    assert bad.status_code == 401


# -- the commit happens before the answer ----------------------------------------------------
def test_a_failed_commit_never_follows_a_2xx(world):
    c, h, engine = world["client"], world["h"], world["engine"]

    def refuse(conn):
        raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    event.listen(engine, "commit", refuse)
    try:
        r = c.post("/api/prompts", json={"text": "never stored"}, headers=h)
    finally:
        event.remove(engine, "commit", refuse)
    assert r.status_code == 503 and "unavailable" in r.text
    with session_scope(engine) as s:
        assert (
            s.exec(
                select(text("count(*)"))
                .select_from(text("prompt"))
                .where(text("text = 'never stored'"))
            ).one()[0]
            == 0
        )
    assert Snapshot is not None
