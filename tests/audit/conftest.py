"""A small, fully known store for the audit tests: 12 pairs, three annotators (one gold),
an AI judge with both presentation orders and an aggregate, a second judge, a job, a
snapshot and reward-model runs. The labels are module constants so tests can compute the
expected figures with the reference libraries, independently of accord's loader."""

from __future__ import annotations

import pytest

from accord.hashing import content_hash
from accord.store.crud.annotators import get_or_create_annotator
from accord.store.crud.constitutions import upsert_constitution
from accord.store.crud.jobs import create_job
from accord.store.crud.judgments import upsert_judgment
from accord.store.crud.pairs import upsert_pair
from accord.store.crud.prompts import upsert_prompt
from accord.store.crud.responses import upsert_response
from accord.store.db import open_store, session_scope
from accord.store.models import Snapshot, SnapshotExample, TrainingRun

N_PAIRS = 12
HUMANS = {  # annotator → labels on pairs 0..7 (alice also labels 8..11 alone)
    "alice": ["a", "a", "b", "b", "tie", "a", "b", "a", "a", "b", "a", "b"],
    "bob": ["a", "a", "b", "a", "a", "b", "b", "a"],
    "carol": ["a", "b", "b", "b", "a", "tie", "a", "a"],
}
GOLD = {"carol"}
JUDGE_X_AB = list("aabbaabaabab")
JUDGE_X_BA = list("abbaabbabbaa")
JUDGE_X_AGG = ["a", "a", "b", "b", "a", "a", "a", "a", "a", "tie", "a", "b"]
JUDGE_X_PROB = [0.9, 0.8, 0.2, 0.3, 0.7, 0.6, 0.55, 0.95, 0.85, 0.5, 0.65, 0.1]
JUDGE_Y = ["a", "b", "b", "a", "tie", "a"]  # pairs 0..5, order "", from a judge job
SNAPSHOT_PAIRS = [0, 1, 2, 3]
CONSTITUTION = content_hash("constitution", "hh", "1")


def build_audit_store(url: str) -> dict:
    engine = open_store(url)
    with session_scope(engine) as s:
        const = upsert_constitution(
            s, name="hh", version="1", content_hash=CONSTITUTION, text="p: x"
        )
        recipe = create_job(s, kind="recipe", name="generate")
        judge_job = create_job(s, kind="recipe", name="judge")
        annotators = {
            u: get_or_create_annotator(s, username=u, source="import", is_gold=u in GOLD)
            for u in HUMANS
        }
        pairs = []
        for i in range(N_PAIRS):
            prompt = upsert_prompt(s, text=f"question {i}")
            x = upsert_response(s, prompt=prompt, text=f"short {i}")
            y = upsert_response(
                s, prompt=prompt, text=f"a much longer answer to question {i} " * (1 + i % 3)
            )
            pairs.append(
                upsert_pair(
                    s,
                    response_x=x,
                    response_y=y,
                    source="test",
                    job_id=recipe.id if i < 6 else None,
                )
            )
        for name, labels in HUMANS.items():
            for i, label in enumerate(labels):
                upsert_judgment(
                    s,
                    pair=pairs[i],
                    kind="human",
                    judge=name,
                    preferred=label,
                    annotator_id=annotators[name].id,
                    presentation_order="ab" if i % 2 else "ba",
                )
        for i, pair in enumerate(pairs):
            common = {
                "pair": pair,
                "kind": "ai",
                "judge": "judge-x",
                "constitution_hash": CONSTITUTION,
                "constitution_id": const.id,
            }
            upsert_judgment(
                s, **common, preferred=JUDGE_X_AB[i], presentation_order="ab", principle="helpful"
            )
            upsert_judgment(
                s, **common, preferred=JUDGE_X_BA[i], presentation_order="ba", principle="helpful"
            )
            upsert_judgment(
                s,
                **common,
                preferred=JUDGE_X_AGG[i],
                prob_a=JUDGE_X_PROB[i],
                presentation_order="agg",
                is_aggregate=True,
            )
        for i, label in enumerate(JUDGE_Y):
            upsert_judgment(
                s, pair=pairs[i], kind="ai", judge="judge-y", preferred=label, job_id=judge_job.id
            )
        # A discarded answer never counts.
        upsert_judgment(
            s, pair=pairs[0], kind="human", judge="dave", preferred=None, status="discarded"
        )
        snap = Snapshot(name="snap", policy="majority", content_hash=content_hash("snap"))
        s.add(snap)
        s.flush()
        for pos, i in enumerate(SNAPSHOT_PAIRS):
            p = pairs[i]
            s.add(
                SnapshotExample(
                    snapshot_id=snap.id,
                    position=pos,
                    example_hash=content_hash("ex", i),
                    pair_id=p.id,
                    prompt_id=p.prompt_id,
                    chosen_id=p.response_a_id,
                    rejected_id=p.response_b_id,
                    split="train",
                )
            )
        s.add(
            TrainingRun(
                name="rm-1",
                kind="rm",
                status="succeeded",
                snapshot_id=snap.id,
                snapshot_hash=snap.content_hash,
                metrics={"rm_heldout_accuracy": 0.71},
            )
        )
        s.add(TrainingRun(name="dpo-1", kind="dpo", status="succeeded", metrics={"loss": 0.3}))
        lengths = [(len(_text(s, p.response_a_id)), len(_text(s, p.response_b_id))) for p in pairs]
        return {
            "engine": engine,
            "pair_ids": [p.id for p in pairs],
            "recipe_job": recipe.id,
            "judge_job": judge_job.id,
            "annotators": {u: a.id for u, a in annotators.items()},
            "lengths": lengths,
        }


def _text(session, response_id: int) -> str:
    from accord.store.models import Response

    return session.get(Response, response_id).text


@pytest.fixture
def audit_store(db_url):
    return build_audit_store(db_url)


@pytest.fixture
def sqlite_audit_store(tmp_path):
    return build_audit_store(f"sqlite:///{tmp_path / 'audit.db'}")
