"""The content-addressed cache is exact (a rerun calls no backend and adds no row, a changed
seed computes anew) and failed items become error records that reruns skip and
``retry_errors`` retries."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select
from sqlmodel import Session
from typer.testing import CliRunner

from accord.backends.base import GenerationResult
from accord.jobs import run_recipe
from accord.store.models import CacheEntry, Job, JobError, Judgment, Pair, Prompt, Response

pytestmark = pytest.mark.slow  # the real tiny model generates and scores

MODELS = {
    "policy": {"backend": "transformers", "model": "accord/tiny"},
    "judge": {"backend": "transformers", "model": "accord/tiny"},
}


def _counts(engine):
    with Session(engine) as s:
        return {
            t.__name__: s.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (Prompt, Response, Pair, Judgment, CacheEntry, JobError)
        }


def test_rerun_adds_zero_rows_and_calls_no_backend(store, recorder):
    recipe = {
        "name": "exact",
        "seed": 3,
        "models": MODELS,
        "steps": [
            {"kind": "import_prompts", "bundled": "quickstart", "limit": 2},
            {"kind": "generate", "n": 2, "max_tokens": 8, "temperature": 1.0, "batch_size": 4},
            {
                "kind": "critique_revise",
                "constitution": "tiny-test",
                "make_pairs": True,
                "max_tokens": 8,
            },
            {"kind": "make_pairs", "input": "generate"},
            {
                "kind": "judge",
                "constitution": "tiny-test",
                "input": ["critique_revise", "make_pairs"],
            },
        ],
    }
    backends = {"policy": recorder, "judge": recorder}
    first = run_recipe(store, recipe, progress=False, backends=backends)
    after_first = _counts(store)
    assert first.errors == 0 and after_first["Judgment"] > 0 and after_first["CacheEntry"] > 0
    recorder.calls.clear()
    second = run_recipe(store, recipe, progress=False, backends=backends)
    assert recorder.calls == []
    assert _counts(store) == after_first

    # the same ids flow through the steps; only "created" counters differ
    def strip(steps):
        return {k: {n: v for n, v in d.items() if n != "prompts_created"} for k, d in steps.items()}

    assert strip(second.steps) == strip(first.steps)
    assert second.steps["import_prompts"]["prompts_created"] == 0
    # a different seed is a different request: generation runs again
    recipe["seed"] = 4
    run_recipe(store, {**recipe, "steps": recipe["steps"][:2]}, progress=False, backends=backends)
    assert len(recorder.calls) > 0 and _counts(store)["CacheEntry"] > after_first["CacheEntry"]


class FlakyNetwork:
    """The real backend behind a link that times out for prompts containing a marker."""

    def __init__(self, inner, marker: str):
        self.inner, self.marker, self.failing = inner, marker, True
        self.name, self.model_id = inner.name, inner.model_id
        self.calls = 0

    def generate(self, requests):
        self.calls += 1
        ok = [
            r for r in requests if not (self.failing and self.marker in r.messages[-1]["content"])
        ]
        done = iter(self.inner.generate(ok)) if ok else iter(())
        return [
            next(done) if r in ok else GenerationResult(text="", error="timeout: read timed out")
            for r in requests
        ]

    def close(self):
        pass


def test_error_records_skip_and_retry(store, tiny_backend, tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    rows = [
        {"prompt": "Say hello."},
        {"prompt": "FLAKY: name a colour."},
        {"prompt": "word " * 1500},
        {"prompt": "Count to three."},
    ]
    prompts.write_text("".join(json.dumps(r) + "\n" for r in rows))
    flaky = FlakyNetwork(tiny_backend, "FLAKY")
    recipe = {
        "name": "errs",
        "models": MODELS,
        "steps": [
            {"kind": "import_prompts", "file": str(prompts)},
            {"kind": "generate", "n": 1, "max_tokens": 6, "batch_size": 2},
        ],
    }
    first = run_recipe(store, recipe, progress=False, backends={"policy": flaky})
    assert first.status == "succeeded" and first.errors == 2
    with Session(store) as s:
        errors = s.execute(select(JobError)).scalars().all()
        assert sorted(e.cause for e in errors) == ["input", "timeout"]
        assert all(e.job_id == first.job_id and e.payload["requests"] for e in errors)
        assert s.execute(select(func.count()).select_from(Response)).scalar_one() == 2

    from accord.cli.jobs import app

    shown = CliRunner().invoke(app, ["show", str(first.job_id), "--db", str(store.url), "--json"])
    assert shown.exit_code == 0, shown.output
    assert sorted(e["cause"] for e in json.loads(shown.output)["errors"]) == ["input", "timeout"]
    listed = CliRunner().invoke(app, ["list", "--db", str(store.url), "--json"])
    assert json.loads(listed.output)["jobs"][0]["status"] == "succeeded"

    flaky.calls = 0
    second = run_recipe(store, recipe, progress=False, backends={"policy": flaky})
    assert second.errors == 0 and second.skipped_known_errors == 2 and flaky.calls == 0

    flaky.failing = False
    third = run_recipe(store, recipe, progress=False, backends={"policy": flaky}, retry_errors=True)
    assert third.errors == 1  # the over-long prompt fails again, for the same reason
    with Session(store) as s:
        by_cause = {e.cause: e for e in s.execute(select(JobError)).scalars().all()}
        assert by_cause["timeout"].resolved and not by_cause["input"].resolved
        assert by_cause["input"].attempts == 2
        assert s.execute(select(func.count()).select_from(Response)).scalar_one() == 3
        assert s.get(Job, third.job_id).result["errors"] == 1


def test_a_nul_character_a_model_writes_is_stored_as_a_replacement_character(store, tmp_path):
    """A byte token can decode to NUL, which no store keeps: the response is stored with
    U+FFFD in its place and the job succeeds (PostgreSQL would refuse the text)."""
    from accord.backends import make_backend

    backend = make_backend("transformers", "accord/tiny", batch_size=4)
    [nul] = [
        i
        for i in backend.tokenizer("\x00", add_special_tokens=False)["input_ids"]
        if backend.tokenizer.decode([i]) == "\x00"
    ]

    def favour_nul(module, args, output):  # the real model, made to write NUL greedily
        output[..., nul] += 1e4
        return output

    backend.model.get_output_embeddings().register_forward_hook(favour_nul)
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(json.dumps({"prompt": "Say hello."}) + "\n")
    recipe = {
        "name": "nul",
        "models": MODELS,
        "steps": [
            {"kind": "import_prompts", "file": str(prompts)},
            {"kind": "generate", "n": 1, "max_tokens": 3},
        ],
    }
    result = run_recipe(store, recipe, progress=False, backends={"policy": backend})
    assert result.status == "succeeded" and result.errors == 0, result.to_dict()
    with Session(store) as s:
        [response] = s.execute(select(Response)).scalars().all()
    assert response.text == "\ufffd" * 3
    backend.close()
