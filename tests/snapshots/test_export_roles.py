"""Exports carry each response's role, so SFT on critique-revise revisions works from a folder."""

from __future__ import annotations

import json

import pytest

from accord.snapshots import create_snapshot, export_snapshot
from accord.store.crud import judgments, pairs, prompts, responses
from accord.store.db import open_store, session_scope


def _revision_store(url: str, n: int = 6):
    engine = open_store(url)
    with session_scope(engine) as s:
        for i in range(n):
            p = prompts.upsert_prompt(s, text=f"Explain topic {i} kindly.")
            draft = responses.upsert_response(s, prompt=p, text=f"draft {i}", model_id="m")
            other = responses.upsert_response(s, prompt=p, text=f"another draft {i}", model_id="m")
            crit = responses.upsert_response(
                s, prompt=p, text=f"too curt {i}", role="critique", parent=draft
            )
            rev = responses.upsert_response(
                s, prompt=p, text=f"a kind explanation {i}", role="revision", parent=crit
            )
            for better, worse in ((rev, draft), (other, draft)):
                pair = pairs.upsert_pair(s, response_x=better, response_y=worse)
                judgments.upsert_judgment(
                    s,
                    pair=pair,
                    kind="ai",
                    judge="critique-revise",
                    preferred=pairs.side_of(pair, better.id),
                )
    return engine


def test_trl_export_has_response_roles(tmp_path):
    engine = _revision_store(f"sqlite:///{tmp_path / 'a.db'}")
    create_snapshot(engine, name="cai", policy="ai-only", test_fraction=0)
    export_snapshot(engine, name="cai", fmt="trl", out_dir=tmp_path / "out")
    rows = [json.loads(x) for x in (tmp_path / "out" / "train.jsonl").read_text().splitlines()]
    assert sorted({r["chosen_role"] for r in rows}) == ["initial", "revision"]
    assert {r["rejected_role"] for r in rows} == {"initial"}


@pytest.mark.slow
def test_sft_on_revisions_from_an_export_folder(tmp_path, tiny_model_dir):
    from accord.train.sft import SFTTrainConfig, train_sft

    engine = _revision_store(f"sqlite:///{tmp_path / 'a.db'}")
    create_snapshot(engine, name="cai", policy="ai-only", test_fraction=0)
    export_snapshot(engine, name="cai", fmt="trl", out_dir=tmp_path / "out")
    result = train_sft(
        SFTTrainConfig(
            snapshot=str(tmp_path / "out"),
            model=str(tiny_model_dir),
            target="revisions",
            max_steps=1,
            save_model=False,
            db_url=f"sqlite:///{tmp_path / 'runs.db'}",
            output_dir=str(tmp_path / "sft"),
        )
    )
    assert result.metrics["n_examples"] == 6  # the revisions only, not the other chosen drafts
