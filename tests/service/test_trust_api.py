"""REST for the trust layer on a simulated store (SQLite and PostgreSQL): ``/api/calibrations``
(fit and list) and ``/api/escalation`` (certify), each by role, with the figures the Python
functions give."""

from __future__ import annotations

from accord.audit.escalate import certify_judge
from tests.snapshots.trust_store import JUDGE, build_trust_store


def test_fit_list_and_show_calibrations_by_role(client, as_role):
    engine = client.app.state.engine
    build_trust_store(engine, n_pairs=80, n_human=60, k=0.5)
    h = as_role("engineer")
    body = {"judge": JUDGE, "method": "temperature", "resamples": 50}
    made = client.post("/api/calibrations", json=body, headers=h)
    assert made.status_code == 201, made.text
    cal = made.json()["calibration"]
    assert made.json()["created"] is True and cal["judge"] == JUDGE and cal["version"] == 1
    assert cal["n"] == 60 and cal["params"]["temperature"] > 1.0
    again = client.post("/api/calibrations", json=body, headers=h)
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.json()["calibration"]["id"] == cal["id"]
    for role in ("viewer", "engineer"):
        listed = client.get("/api/calibrations", headers=as_role(role))
        assert listed.status_code == 200 and [c["id"] for c in listed.json()] == [cal["id"]]
    assert client.get("/api/calibrations", params={"judge": "other"}, headers=h).json() == []
    shown = client.get(f"/api/calibrations/{cal['id']}", headers=h)
    assert shown.status_code == 200 and shown.json()["ece_after"] == cal["ece_after"]
    assert client.get("/api/calibrations/999", headers=h).status_code == 404
    assert client.get("/api/calibrations", headers=as_role("annotator")).status_code == 403
    assert client.post("/api/calibrations", json=body, headers=as_role("viewer")).status_code == 403
    unknown = client.post("/api/calibrations", json={"judge": "nobody"}, headers=h)
    assert unknown.status_code == 422 and "no AI soft labels for judge 'nobody'" in unknown.text
    bad = client.post("/api/calibrations", json={"judge": JUDGE, "method": "magic"}, headers=h)
    assert bad.status_code == 422 and "method" in bad.text


def test_escalation_certifies_like_the_python_function(client, as_role):
    engine = client.app.state.engine
    build_trust_store(engine, n_pairs=200, n_human=120)
    h = as_role("engineer")
    answer = client.post(
        "/api/escalation", json={"judge": JUDGE, "target": 0.8, "delta": 0.1, "limit": 5}, headers=h
    )
    assert answer.status_code == 200, answer.text
    got = answer.json()
    expected = certify_judge(engine, judge=JUDGE, target=0.8, delta=0.1)
    assert got["threshold"] == expected.certificate.threshold is not None
    assert got["kept"] == len(expected.kept_pair_ids) and got["n_ai_only"] == 80
    assert got["coverage"] == round(expected.coverage, 6)
    assert got["escalate_pair_ids"] == expected.escalate_pair_ids[:5]
    assert got["escalate_confidence"] == sorted(got["escalate_confidence"])
    assert got["certificate"]["agreement_lower"] >= 0.8 - 0.2 and got["pushed"] is None
    assert (
        client.post(
            "/api/escalation", json={"judge": JUDGE, "target": 0.8}, headers=as_role("viewer")
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/api/escalation", json={"judge": JUDGE, "target": 0.8}, headers=as_role("annotator")
        ).status_code
        == 403
    )
    out_of_range = client.post("/api/escalation", json={"judge": JUDGE, "target": 1.2}, headers=h)
    assert out_of_range.status_code == 422 and "target" in out_of_range.text
    unknown = client.post(
        "/api/escalation", json={"judge": JUDGE, "target": 0.8, "calibration_id": 77}, headers=h
    )
    assert unknown.status_code == 422 and "no calibration 77" in unknown.text


def test_snapshot_job_takes_calibration_and_escalation_params(client, as_role):
    from accord.service.job_kinds import get_kind
    from accord.service.jobrun import run_job
    from accord.service.worker import claim_next_job
    from accord.snapshots import get_snapshot

    engine = client.app.state.engine
    build_trust_store(engine, n_pairs=200, n_human=120)
    h = as_role("engineer")
    cal = client.post("/api/calibrations", json={"judge": JUDGE, "resamples": 50}, headers=h)
    cal_id = cal.json()["calibration"]["id"]
    missing = client.post(
        "/api/snapshots",
        json={"name": "esc", "policy": "escalate", "params": {"target": 0.8}},
        headers=h,
    )
    assert missing.status_code == 422 and "params.delta" in missing.text
    queued = client.post(
        "/api/snapshots",
        json={
            "name": "esc",
            "policy": "escalate",
            "test_fraction": 0.0,
            "params": {"target": 0.8, "delta": 0.1, "calibration": cal_id},
        },
        headers=h,
    )
    assert queued.status_code == 202, queued.text
    job_id = claim_next_job(engine, "test-worker")
    assert job_id == queued.json()["id"]
    status = run_job(
        engine, job_id=job_id, worker_id="test-worker", handler_path=get_kind("snapshot").handler
    )
    assert status == "succeeded"
    snap = get_snapshot(engine, "esc")
    expected = certify_judge(engine, judge=JUDGE, target=0.8, delta=0.1, calibration_id=cal_id)
    assert snap.manifest["escalation"]["ai_only_pairs_kept"] == len(expected.kept_pair_ids)
    assert snap.manifest["calibration"]["id"] == cal_id
