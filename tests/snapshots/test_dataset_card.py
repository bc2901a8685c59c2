"""The dataset card of an export: a real judge run (tiny model) and human labels in a real
store, exported as trl and hf, the README loaded with huggingface_hub."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from accord.cli.main import app
from accord.jobs import run_recipe
from accord.jobs.context import StepOutput
from accord.jobs.registry import StepConfig, register_step
from accord.snapshots import create_snapshot, export_snapshot
from accord.store.crud.judgments import upsert_judgment
from accord.store.crud.pairs import upsert_pair
from accord.store.crud.prompts import upsert_prompt
from accord.store.crud.responses import upsert_response
from accord.store.db import open_store, session_scope
from accord.store.models import CacheEntry, Pair

pytestmark = pytest.mark.slow  # the tiny model judges


class CardTestPairs(StepConfig):
    pair_ids: list[int]


register_step(
    "pairs_for_card_test", CardTestPairs, lambda ctx, cfg: StepOutput(pairs=list(cfg.pair_ids))
)


@pytest.fixture(scope="module")
def judged_store(tmp_path_factory, tiny_model_dir):
    engine = open_store(f"sqlite:///{tmp_path_factory.mktemp('card') / 'accord.db'}")
    with session_scope(engine) as s:
        ids = []
        for i in range(4):
            p = upsert_prompt(s, text=f"What is {i} + 1?")
            ids.append(
                upsert_pair(
                    s,
                    response_x=upsert_response(s, prompt=p, text=f"{i + 1}."),
                    response_y=upsert_response(s, prompt=p, text="No idea."),
                ).id
            )
    recipe = {
        "name": "card",
        "steps": [
            {"kind": "pairs_for_card_test", "name": "pairs", "pair_ids": ids},
            {
                "kind": "judge",
                "model": {"backend": "transformers", "model": str(tiny_model_dir)},
                "constitution": "tiny-test",
                "input": "pairs",
            },
        ],
    }
    result = run_recipe(engine, recipe, progress=False)
    assert result.status == "succeeded", result.to_dict()
    with session_scope(engine) as s:
        for pid in ids:
            for judge in ("ann", "bob"):
                upsert_judgment(s, pair=s.get(Pair, pid), kind="human", judge=judge, preferred="a")
    create_snapshot(engine, name="card-snap", policy="soft", test_fraction=0.25)
    return engine, ids


def _model_id(engine) -> str:
    with Session(engine) as s:
        return s.exec(select(CacheEntry.model_id)).first()


@pytest.mark.parametrize("fmt", ["trl", "hf"])
def test_card_loads_and_states_provenance_and_cost(judged_store, tmp_path, fmt):
    from huggingface_hub import DatasetCard

    engine, _ = judged_store
    model = _model_id(engine)
    prices = tmp_path / "prices.yaml"
    prices.write_text(f"{json.dumps(model)}: {{input: 2.0, output: 8.0}}\n")
    out = tmp_path / fmt
    export_snapshot(engine, name="card-snap", fmt=fmt, out_dir=out, price_table=prices)
    card = DatasetCard.load(out / "README.md")
    meta = card.data.to_dict()
    assert meta["accord"]["snapshot"] == "card-snap" and meta["size_categories"] == ["n<1K"]
    assert ("configs" in meta) == (fmt == "trl")
    body = card.text
    assert "| ai | " in body or "| mixed | " in body
    assert "2 human annotators." in body
    assert f"`{model}` (transformers): 4 pairs" in body
    assert "tiny-test" in body and "Krippendorff α" in body and "(95% CI)" in body

    # tokens per label: every judge request's usage in the cache over the pairs it labelled
    with Session(engine) as s:
        rows = s.exec(select(CacheEntry).where(CacheEntry.model_id == model)).all()
    prompt_tokens = sum(r.output["result"]["usage"]["prompt_tokens"] for r in rows)
    completion_tokens = sum(r.output["result"]["usage"]["completion_tokens"] for r in rows)
    assert prompt_tokens > 0
    per_in, per_out = round(prompt_tokens / 4, 1), round(completion_tokens / 4, 1)
    assert f"{per_in} input + {per_out} output tokens per AI-labelled pair" in body
    dollars = (prompt_tokens * 2.0 + completion_tokens * 8.0) / 1e6
    assert f"AI labelling in dollars: ${dollars:.4f}" in body
    assert "human labelling time: not reported" in body
    assert "share of 0.25 of prompts" in body


def test_card_without_prices_and_bad_price_tables(judged_store, tmp_path):
    engine, _ = judged_store
    export_snapshot(engine, name="card-snap", fmt="trl", out_dir=tmp_path / "plain")
    assert "not computed (give --price-table" in (tmp_path / "plain" / "README.md").read_text()
    export_snapshot(engine, name="card-snap", fmt="parquet", out_dir=tmp_path / "pq")
    assert not (tmp_path / "pq" / "README.md").exists()

    bad = tmp_path / "prices.json"
    bad.write_text(json.dumps({"models": {"m": {"input": "cheap", "output": 1}}}))
    runner = CliRunner()
    url = str(engine.url)
    result = runner.invoke(
        app,
        [
            "export",
            "card-snap",
            "-f",
            "trl",
            "-o",
            str(tmp_path / "x"),
            "--price-table",
            str(bad),
            "--db",
            url,
        ],
    )
    assert result.exit_code == 1
    output = " ".join(result.output.split())  # the console wraps long lines
    assert f"{bad}: field 'models.m.input': must be a number" in output
    assert not (tmp_path / "x").exists()  # nothing written
    bad.write_text("{not json")
    result = runner.invoke(
        app,
        ["export", "card-snap", "-o", str(tmp_path / "x"), "--price-table", str(bad), "--db", url],
    )
    assert result.exit_code == 1 and "not valid JSON" in " ".join(result.output.split())
