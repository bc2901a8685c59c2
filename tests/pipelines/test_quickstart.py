"""The README's main command, run twice as a user would: `accord run quickstart`.

The first run goes through the whole loop (generate → critique-revise → judge → audit →
snapshot → DPO → reward model → summary); the second adds no row, retrains nothing and is
much faster. The summary names the snapshot hash and the run ids, and never turns AI labels
into human ones: it says how to collect human labels in Argilla instead.
"""

from __future__ import annotations

import json

import pytest
from accord.store.db import open_store
from accord.store.models import Judgment, Snapshot, TrainingRun
from sqlmodel import Session, select

from .conftest import PIPELINES

pytestmark = pytest.mark.slow


def test_quickstart_twice_recomputes_nothing(recipe_runner):
    first = recipe_runner.run("quickstart")  # the bundled recipe by name
    assert first.returncode == 0, first.output[-5000:]
    counts_first = recipe_runner.row_counts()

    second = recipe_runner.run(PIPELINES / "quickstart.yaml")
    assert second.returncode == 0, second.output[-5000:]
    counts_second = recipe_runner.row_counts()

    # Only the second job's own row is new: no prompt, response, pair, judgment, cache entry,
    # snapshot, example, run or metric was added.
    assert counts_second.pop("job") == counts_first.pop("job") + 1
    assert counts_second == counts_first
    # That the rerun did no work is asserted on what it wrote and said (no row above, runs
    # reused below), not on wall time: speed is measured in bench/bench_quickstart.py.

    engine = open_store(recipe_runner.db_url)
    with Session(engine) as session:
        snapshots = session.exec(select(Snapshot)).all()
        runs = session.exec(select(TrainingRun).order_by(TrainingRun.id)).all()
        kinds = {j.kind for j in session.exec(select(Judgment)).all()}
    assert [s.name for s in snapshots] == ["quickstart-human-over-ai"]
    assert [(r.kind, r.status) for r in runs] == [("dpo", "completed"), ("rm", "completed")]
    assert all(r.snapshot_hash == snapshots[0].content_hash for r in runs)
    assert kinds == {"ai"}  # nothing was stored as a human label

    for run in (first, second):
        assert snapshots[0].content_hash in run.said  # the full hash, in the summary
        for r in runs:
            assert f"run {r.id}:" in run.said
        assert "accord argilla push --dataset quickstart" in run.said
        assert "same winner, A/B swapped" in run.said  # position consistency of the judge
    assert "trained" in first.said and "reused" in second.said
    assert "reused=1" in second.stdout and "reused=True" in second.stdout

    reports = recipe_runner.home / "reports" / "quickstart"
    for name in ("audit.json", "audit.html", "summary.json", "summary.txt",
                 *(f"run-{r.id}.html" for r in runs)):
        assert (reports / name).is_file(), name
    summary = json.loads((reports / "summary.json").read_text())
    assert summary["counts"]["human_judgments"] == 0 and summary["how_to_label"]
    assert summary["snapshots"][0]["content_hash"] == snapshots[0].content_hash
    assert [r["reused"] for r in summary["runs"]] == [True, True]
    dpo = next(r for r in summary["runs"] if r["kind"] == "dpo")
    assert "kl_to_ref" in dpo["metrics"] and dpo["metrics"]["heldout_reward_accuracy"] is not None
