"""The closed loop (``kind: loop``): two rounds on the tiny model, killed twice inside round 2
(while sampling/judging, then while training), rerun to the end, and compared with an
uninterrupted run: the same rows and snapshots, no duplicates, round 1 never retrained; the
round table on the job and through ``accord loop show``."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import yaml
from sqlmodel import Session, select

from accord.constitutions import DocumentError
from accord.jobs import load_recipe
from accord.store.db import make_engine
from accord.store.models import Job, Judgment, Pair, Prompt, Response, Snapshot, TrainingRun
from accord.workflows.loop.records import rounds_of_result
from accord.workflows.loop.step import stop_reason

from .conftest import PIPELINES

RECIPE = {
    "name": "loopy",
    "seed": 5,
    "models": {
        "policy": {
            "backend": "transformers",
            "model": "accord/tiny",
            "options": {"batch_size": 16},
        },
        "judge": {"backend": "transformers", "model": "accord/tiny", "options": {"batch_size": 16}},
    },
    "steps": [
        {"kind": "import_prompts", "bundled": "quickstart", "limit": 6},
        {
            "kind": "loop",
            "rounds": 2,
            "samples": 3,
            "max_tokens": 8,
            "batch_size": 4,
            "constitution": "tiny-test",
            "judge_batch_size": 2,
            "eval_prompts": 2,
            "eval_samples": 2,
            "max_steps": 2,
            "max_length": 64,
            "learning_rate": 5.0e-4,
            "resamples": 200,
        },
    ],
}

RUNNER = """\
import sys
from accord.jobs import run_recipe
from accord.store.db import open_store
run_recipe(open_store(sys.argv[1]), sys.argv[2], progress=False)
"""


def test_shipped_loop_recipe_is_valid():
    recipe = load_recipe(PIPELINES / "iterative-rlaif.yaml")
    loop = recipe.steps[-1]
    assert loop.kind == "loop" and loop.rounds == 3 and loop.pairs == "west_of_n"


def test_bad_loop_options_name_the_field(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("""\
name: bad
steps:
  - {kind: import_prompts, bundled: quickstart}
  - kind: loop
    rounds: 0
    pairs: some
    snapshot: fixed-name
  - {kind: loop, name: loop2, snapshot_policy: everyone}
  - {kind: loop, name: loop3, train_options: {beta: 0.2}}
  - {kind: loop, name: loop4, train_options: {warmup: 3}}
""")
    with pytest.raises(DocumentError) as err:
        load_recipe(path)
    text = str(err.value)
    assert f"{path}:5: steps[1].rounds" in text
    assert f"{path}:6: steps[1].pairs" in text
    assert "snapshot_policy: unknown policy 'everyone'" in text
    assert "train_options: beta are set by the loop itself" in text
    assert "DPOTrainConfig has no field warmup" in text


def test_early_stop_rules():
    cfg = (
        load_recipe(PIPELINES / "iterative-rlaif.yaml")
        .steps[-1]
        .model_copy(update={"stop_when_no_gain": True, "kl_budget": 2.0})
    )
    gain = {"round": 2, "vs_previous": {"low": 0.55}, "kl_to_ref": 1.0}
    assert stop_reason(cfg, gain) is None
    assert "not above 0.5" in stop_reason(cfg, {**gain, "vs_previous": {"low": 0.48}})
    assert "over the budget 2" in stop_reason(cfg, {**gain, "kl_to_ref": 2.5})


# -- kill / resume ---------------------------------------------------------------------------


def _engine(url: str):
    return make_engine(url)


def _newest_job(url: str, after: int = 0) -> Job | None:
    engine = _engine(url)
    try:
        with Session(engine) as s:
            return s.exec(select(Job).where(Job.id > after).order_by(Job.id.desc())).first()
    except Exception:  # noqa: BLE001 - the store may not be migrated yet
        return None
    finally:
        engine.dispose()


def _round2_training_started(url: str) -> bool:
    engine = _engine(url)
    try:
        with Session(engine) as s:
            return any(r.name.endswith("round-2") for r in s.exec(select(TrainingRun)).all())
    except Exception:  # noqa: BLE001
        return False
    finally:
        engine.dispose()


def _contents(url: str) -> dict:
    engine = _engine(url)
    with Session(engine) as s:
        prompts = {p.id: p.content_hash for p in s.exec(select(Prompt)).all()}
        responses = s.exec(select(Response)).all()
        texts = {r.id: (prompts[r.prompt_id], r.text) for r in responses}
        out = {
            "responses": sorted(texts.values()),
            "pairs": sorted(
                tuple(sorted((texts[p.response_a_id], texts[p.response_b_id])))
                for p in s.exec(select(Pair)).all()
            ),
            "judgments": len(s.exec(select(Judgment)).all()),
            # content hashes differ between stores: the responses' keys hold the policy's folder
            "snapshots": sorted(
                (x.name, x.n_train + x.n_test) for x in s.exec(select(Snapshot)).all()
            ),
        }
        runs = [
            (r.name, r.status) for r in s.exec(select(TrainingRun).order_by(TrainingRun.id)).all()
        ]
    engine.dispose()
    return {**out, "runs": runs}


def _start(runner, url, recipe, env):
    return subprocess.Popen(
        [sys.executable, str(runner), url, str(recipe)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow
def test_two_rounds_killed_inside_round_two_resume_without_duplicates(tmp_path):
    recipe = tmp_path / "loopy.yaml"
    recipe.write_text(yaml.safe_dump(RECIPE, sort_keys=False))
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER)
    base_env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}

    ref_url = f"sqlite:///{tmp_path / 'reference.db'}"
    done = subprocess.run(
        [sys.executable, str(runner), ref_url, str(recipe)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={**base_env, "ACCORD_HOME": str(tmp_path / "home-ref")},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    reference = _contents(ref_url)
    ref_job = _newest_job(ref_url)
    ref_rounds = rounds_of_result(ref_job.result)["loop"]
    assert [r["round"] for r in ref_rounds] == [1, 2] and all(r["trained"] for r in ref_rounds)
    assert [n for n, _ in reference["snapshots"]] == ["loopy-round-1", "loopy-round-2"]
    assert reference["runs"] == [
        ("loopy/loop/round-1", "completed"),
        ("loopy/loop/round-2", "completed"),
    ]

    url = f"sqlite:///{tmp_path / 'killed.db'}"
    env = {**base_env, "ACCORD_HOME": str(tmp_path / "home")}
    rng = random.Random(int(os.environ.get("ACCORD_KILL_SEED", "0")))

    # Kill 1: inside round 2's sampling and judging (after round 1 is recorded on the job).
    proc = _start(runner, url, recipe, env)
    deadline = time.monotonic() + 600
    round1_done, target = None, None
    while proc.poll() is None and time.monotonic() < deadline:
        job = _newest_job(url)
        if job is not None and round1_done is None and rounds_of_result(job.result).get("loop"):
            round1_done = job.progress_done
            target = round1_done + rng.randint(1, 3)  # early in round 2: sampling or judging
        if target is not None and job.progress_done >= target:
            break
        time.sleep(0.05)
    assert proc.poll() is None, (
        "the run ended before round 2: " + proc.communicate()[1].decode()[-2000:]
    )
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    partial = _contents(url)
    assert partial["runs"] == [("loopy/loop/round-1", "completed")]
    assert set(partial["responses"]) <= set(reference["responses"])
    # Round 2 was cut short: the kill lands in its sampling or, when a fast machine has sampled
    # every response by the target progress, in its judging.
    assert partial["judgments"] < reference["judgments"]

    # Kill 2: the rerun resumes round 2 and is killed while training it.
    previous = _newest_job(url).id
    proc = _start(runner, url, recipe, env)
    deadline = time.monotonic() + 600
    while proc.poll() is None and not _round2_training_started(url) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(rng.uniform(0.0, 1.0))
    assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    resumed = _newest_job(url, previous)
    assert resumed is not None
    assert rounds_of_result(resumed.result)["loop"][0]["trained"] is False  # round 1 reused

    # The last rerun finishes: the same rows and snapshots as the uninterrupted run.
    done = subprocess.run(
        [sys.executable, str(runner), url, str(recipe)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    final = _contents(url)
    for kind in ("responses", "pairs", "judgments", "snapshots"):
        assert final[kind] == reference[kind], kind
    completed = [n for n, status in final["runs"] if status == "completed"]
    assert completed == ["loopy/loop/round-1", "loopy/loop/round-2"]  # round 1 trained once
    job = _newest_job(url)
    rounds = rounds_of_result(job.result)["loop"]
    assert [(r["round"], r["trained"]) for r in rounds] == [(1, False), (2, False)] or [
        (r["round"], r["trained"]) for r in rounds
    ] == [(1, False), (2, True)]
    for r in rounds:
        assert (
            0.0
            <= r["vs_initial"]["low"]
            <= r["vs_initial"]["win_rate"]
            <= r["vs_initial"]["high"]
            <= 1.0
        )
        assert r["vs_initial"]["n_prompts"] == 2 and r["kl_to_ref"] is not None and r["length"] > 0
        assert r["snapshot"] == f"loopy-round-{r['round']}" and r["train_pairs"] == 4  # West-of-N
    # round 2 sampled from round 1's policy; both rounds' DPO reference is the round-0 policy
    assert rounds[1]["policy_from"] == rounds[0]["policy"]
    assert rounds[0]["reference"] == rounds[1]["reference"] == "accord/tiny"

    shown = subprocess.run(
        [sys.executable, "-m", "accord.cli.main", "loop", "show", "loopy", "--db", url, "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr[-2000:]
    loops = json.loads(shown.stdout)["loops"]["loop"]
    assert [r["run_id"] for r in loops] == [r["run_id"] for r in rounds]
    table = subprocess.run(
        [sys.executable, "-m", "accord.cli.main", "loop", "show", "loopy", "--db", url],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert "win vs 0 [CI]" in table.stdout and "loopy-round-2" in table.stdout


@pytest.mark.slow
def test_all_pairs_refreshed_reference_and_early_stop(tmp_path):
    from accord.jobs import run_recipe
    from accord.store.db import open_store

    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    recipe = json.loads(json.dumps(RECIPE))
    recipe["steps"][1].update(
        {
            "rounds": 3,
            "pairs": "all",
            "reference": "previous",
            "stop_when_no_gain": True,
            "kl_budget": 1e-6,
            "calibration_id": 99,
        }
    )
    with pytest.raises(ValueError, match="calibration_id: no calibration 99"):
        run_recipe(engine, recipe, progress=False)
    del recipe["steps"][1]["calibration_id"]
    result = run_recipe(engine, recipe, progress=False)
    assert result.status == "succeeded"
    rounds = result.steps["loop"]["rounds"]
    # the tiny judge is a coin flip (round 1 is not better than round 0 by the CI) and any
    # training moves the policy past a KL budget of 1e-6: either rule stops the loop
    assert len(rounds) == 1 and rounds[0]["stop"]
    assert rounds[0]["train_pairs"] == rounds[0]["judged_pairs"] == 12  # all 3 pairs of 4 prompts
    with Session(engine) as s:
        assert len(s.exec(select(TrainingRun)).all()) == 1
