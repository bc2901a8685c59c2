"""The README's main command, run as a user would: `accord run quickstart`.

The mechanics (every step, twice: the second run adds no row and retrains nothing) run on the
recipe with the tiny offline model swapped in. The shipped recipe itself runs on the real
SmolLM2-135M-Instruct: it must write English, and the audit must compare the judge with the
bundled human labels on the first run (human–AI agreement, κ, position consistency,
calibration), said in plain words in the summary.
"""

from __future__ import annotations

import json
import re

import pytest
from sqlmodel import Session, select

from accord.store.db import open_store
from accord.store.models import Judgment, Pair, Response, Snapshot, TrainingRun

from .conftest import tiny_variant

pytestmark = pytest.mark.slow
N_HUMAN_PAIRS = 48


def test_quickstart_twice_recomputes_nothing(recipe_runner, tmp_path):
    recipe = tiny_variant("quickstart", tmp_path)
    first = recipe_runner.run(recipe)
    assert first.returncode == 0, first.output[-5000:]
    counts_first = recipe_runner.row_counts()

    second = recipe_runner.run(recipe)
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
        human = session.exec(select(Judgment).where(Judgment.kind == "human")).all()
        ai_pairs = {
            j.pair_id for j in session.exec(select(Judgment).where(Judgment.kind == "ai")).all()
        }
    assert [s.name for s in snapshots] == ["quickstart-human-over-ai"]
    assert [(r.kind, r.status) for r in runs] == [("dpo", "completed"), ("rm", "completed")]
    assert all(r.snapshot_hash == snapshots[0].content_hash for r in runs)
    # The bundled human labels, each with its annotator; the judge labelled those pairs too.
    assert len(human) == N_HUMAN_PAIRS and all(j.annotator_id is not None for j in human)
    assert {j.pair_id for j in human} <= ai_pairs

    for run in (first, second):
        assert snapshots[0].content_hash in run.said  # the full hash, in the summary
        for r in runs:
            assert f"run {r.id}:" in run.said
        assert "same winner, A/B swapped" in run.said  # position consistency of the judge
        assert "human–AI agreement" in run.said and "In plain words" in run.said
        assert re.search(r"agrees with humans on \d+% of \d+ pairs \[95% CI \d+–\d+%\]", run.said)
        assert "This is a weak judge" in run.said and "backend: openai" in run.said
    assert "trained" in first.said and "reused" in second.said
    assert "reused=1" in second.stdout and "reused=True" in second.stdout

    reports = recipe_runner.home / "reports" / "quickstart"
    for name in (
        "audit.json",
        "audit.html",
        "summary.json",
        "summary.txt",
        *(f"run-{r.id}.html" for r in runs),
    ):
        assert (reports / name).is_file(), name
    summary = json.loads((reports / "summary.json").read_text())
    assert summary["counts"]["human_judgments"] == N_HUMAN_PAIRS and "how_to_label" not in summary
    assert summary["snapshots"][0]["content_hash"] == snapshots[0].content_hash
    assert [r["reused"] for r in summary["runs"]] == [True, True]
    audit = summary["audits"][0]
    assert audit["human_ai_per_pair"][0]["n"] == N_HUMAN_PAIRS and audit["calibration"][0]["n"] > 0
    dpo = next(r for r in summary["runs"] if r["kind"] == "dpo")
    assert "kl_to_ref" in dpo["metrics"] and dpo["metrics"]["heldout_reward_accuracy"] is not None


def test_quickstart_on_smollm2_writes_english_and_measures_the_judge(recipe_runner, smollm2_dir):
    done = recipe_runner.run("quickstart")  # the shipped recipe, by name
    assert done.returncode == 0, done.output[-5000:]

    engine = open_store(recipe_runner.db_url)
    with Session(engine) as session:
        samples = [
            r.text
            for r in session.exec(select(Response).where(Response.role == "initial")).all()
            if r.model_id and "smollm2" in r.model_id.lower()
        ]
        judged = session.exec(select(Judgment).where(Judgment.kind == "ai")).all()
        n_pairs = len(session.exec(select(Pair)).all())
    # Real English: mostly common English words, not byte soup.
    assert samples
    words = [w.lower() for text in samples for w in re.findall(r"[A-Za-z']+", text)]
    common = {
        "the",
        "a",
        "is",
        "of",
        "to",
        "and",
        "in",
        "you",
        "it",
        "for",
        "that",
        "are",
        "can",
        "i",
    }
    assert (
        len(words) > 10 * len(samples) // 2 and sum(w in common for w in words) / len(words) > 0.15
    )
    assert {j.pair_id for j in judged} and n_pairs > N_HUMAN_PAIRS

    summary = json.loads(
        (recipe_runner.home / "reports" / "quickstart" / "summary.json").read_text()
    )
    human_ai = summary["audits"][0]["human_ai_per_pair"]
    assert human_ai and human_ai[0]["n"] == N_HUMAN_PAIRS
    assert (
        human_ai[0]["agreement"]["value"] is not None and human_ai[0]["kappa"]["value"] is not None
    )
    assert summary["audits"][0]["position_consistency"][0]["n_pairs"] > 0
    assert any("agrees with humans on" in line for line in summary["in_plain_words"])
    assert "agrees with humans on" in done.said
