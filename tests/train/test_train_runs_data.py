"""The runs table CRUD and reading snapshot exports (clear errors on bad rows)."""

import json

import pytest

from accord.store.db import open_store, session_scope
from accord.train.data import SnapshotDataError, read_export, write_export
from accord.train.runs import RunRecorder, get_run, list_metrics, list_runs


def test_run_lifecycle(train_db):
    engine = open_store(train_db)
    rec = RunRecorder.start(
        engine,
        kind="ppo",
        name="try-1",
        snapshot_hash="ab" * 32,
        base_model="accord/tiny",
        config={"beta": 0.1, "nan": float("nan")},
    )
    rec.log(1, {"reward": 0.5})
    rec.log(1, {"kl": 0.1})
    rec.log(2, {"reward": 0.7})
    rec.finish(metrics={"final": 1.0}, warnings=["w"], artifact_path="/x")
    with session_scope(engine) as s:
        run = get_run(s, run="try-1")
        assert run.status == "completed" and run.metrics == {"final": 1.0} and run.warnings == ["w"]
        assert "nan" not in run.config and run.config["beta"] == 0.1
        steps = list_metrics(s, run_id=run.id)
        assert [m.step for m in steps] == [1, 2] and steps[0].values == {"reward": 0.5, "kl": 0.1}
        assert [r.id for r in list_runs(s, kind="ppo")] == [run.id]
        with pytest.raises(LookupError):
            get_run(s, run="missing")
    with pytest.raises(ValueError, match="unknown run kind"):
        RunRecorder.start(engine, kind="nope", snapshot_hash="", base_model="")


def test_failed_run_records_error(train_db):
    engine = open_store(train_db)
    rec = RunRecorder.start(engine, kind="dpo", snapshot_hash="", base_model="m")
    rec.fail(RuntimeError("boom"))
    with session_scope(engine) as s:
        run = get_run(s, run=rec.run_id)
        assert run.status == "failed" and "boom" in run.error


def test_read_export_round_trip_and_errors(tmp_path):
    rows = [{"prompt": "p", "chosen": "a", "rejected": "b", "score": 0.8}]
    folder = write_export(tmp_path / "ok", name="s", train=rows, test=rows)
    data = read_export(folder)
    assert data.name == "s" and data.has_soft_labels and len(data.test_rows) == 1
    assert data.dataset("train")["score"] == [0.8]

    bad = write_export(tmp_path / "bad", name="s", train=rows)
    with open(bad / "train.jsonl", "a") as f:
        f.write(json.dumps({"prompt": "p", "chosen": 3, "rejected": "b"}) + "\n")
    with pytest.raises(SnapshotDataError, match=r"train.jsonl:2: field 'chosen'"):
        read_export(bad)
    with open(bad / "train.jsonl", "w") as f:
        f.write(json.dumps({"prompt": "p", "chosen": "a", "rejected": "b", "score": 1.5}) + "\n")
    with pytest.raises(SnapshotDataError, match=r":1: field 'score'"):
        read_export(bad)
    with pytest.raises(SnapshotDataError, match="manifest.json"):
        read_export(tmp_path)
