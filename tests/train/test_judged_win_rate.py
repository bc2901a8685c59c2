"""The AI-judged win-rate: the RLAIF pairwise judge on a real backend (the tiny model)."""

import math

import pytest

from accord.backends.base import GenerationRequest
from accord.rlaif.judge import ANSWER_PREFIX, judge_messages, p_shown_a
from accord.train.judged_win_rate import AIJudgeSettings, AIWinRateJudge
from accord.train.ppo import PPOTrainConfig, train_ppo

PROMPTS = [
    "Can you explain volcanoes in simple terms?",
    "How do vaccines work?",
    "What is compound interest?",
]
OURS = [
    "Sure. Magma rises through the crust and erupts.",
    "They train the immune system safely.",
    "Interest on interest.",
]
THEIRS = ["No.", "I do not know.", "Money."]


@pytest.fixture(scope="module")
def judge(tiny_model_dir):
    settings = AIJudgeSettings(model=str(tiny_model_dir), constitution="tiny-test", batch_size=4)
    judge = AIWinRateJudge(settings)
    assert judge.backend is not None  # loads the judge model here, not inside the first test
    yield judge
    judge.close()


def test_identical_responses_are_a_tie_in_both_orders(judge):
    result = judge(PROMPTS, OURS, OURS)
    # each principle is asked in both orders, so any position bias cancels exactly
    assert result.win_rate == pytest.approx(0.5, abs=1e-9)
    assert result.judged == len(PROMPTS) and result.failed == 0


def test_swapping_policy_and_reference_mirrors_the_win_rate(judge):
    forward = judge(PROMPTS, OURS, THEIRS)
    backward = judge(PROMPTS, THEIRS, OURS)
    assert 0.0 < forward.win_rate < 1.0
    assert forward.win_rate + backward.win_rate == pytest.approx(1.0, abs=1e-9)
    assert 0.0 <= forward.position_consistency <= 1.0


def test_probability_is_the_rlaif_judge_aggregate(judge):
    """P(policy ≻ reference) for one prompt equals the RLAIF judge's maths done by hand."""
    backend = judge.backend
    per_principle = []
    for principle in judge.principles:
        probs = []
        for first, second, policy_is_a in ((OURS[0], THEIRS[0], True), (THEIRS[0], OURS[0], False)):
            [r] = backend.generate(
                [
                    GenerationRequest(
                        messages=judge_messages(
                            prompt=PROMPTS[0],
                            principle=principle,
                            first=first,
                            second=second,
                            cot=False,
                        ),
                        max_tokens=1,
                        temperature=0.0,
                        seed=0,
                        choices=["A", "B"],
                        assistant_prefix=ANSWER_PREFIX,
                    )
                ]
            )
            p = p_shown_a(r.choice_logprobs)
            probs.append(p if policy_is_a else 1.0 - p)
        per_principle.append(sum(probs) / 2)
    expected = sum(per_principle) / len(per_principle)
    result = judge(PROMPTS[:1], OURS[:1], THEIRS[:1])
    assert math.isclose(result.probabilities[0], expected, abs_tol=1e-6)


def test_a_prompt_the_judge_cannot_take_is_counted_not_fatal(judge):
    """A response longer than the judge's context fails on the backend; the others still count."""
    too_long = "word " * 3000
    result = judge(PROMPTS, [too_long, *OURS[1:]], THEIRS)
    assert result.failed == 1 and result.judged == len(PROMPTS) - 1
    with pytest.raises(RuntimeError, match="no usable judgment"):
        judge(PROMPTS[:1], [too_long], THEIRS[:1])


def test_config_requires_a_judge_model_for_ai():
    with pytest.raises(ValueError, match="judge_model"):
        PPOTrainConfig(snapshot="x", win_rate_judge="ai")
    with pytest.raises(ValueError, match="win_rate_judge"):
        PPOTrainConfig(snapshot="x", win_rate_judge="human")
    with pytest.raises(ValueError, match="judge_backend"):
        PPOTrainConfig(snapshot="x", win_rate_judge="ai", judge_model="m", judge_backend="nope")


@pytest.mark.slow
def test_ppo_win_rate_judged_by_the_ai_judge(
    snapshot_export, tiny_model_dir, tiny_reward_model_dir, train_db, tmp_path
):
    from accord.store.db import open_store, session_scope
    from accord.train.runs import get_run

    config = PPOTrainConfig(
        snapshot=str(snapshot_export),
        model=str(tiny_model_dir),
        reward_model=str(tiny_reward_model_dir),
        db_url=train_db,
        output_dir=str(tmp_path / "ppo"),
        max_steps=2,
        rollout_batch_size=4,
        mini_batch_size=4,
        ppo_epochs=1,
        max_new_tokens=6,
        eval_every=1,
        eval_prompts=3,
        save_model=False,
        win_rate_judge="ai",
        judge_model=str(tiny_model_dir),
        judge_constitution="tiny-test",
    )
    result = train_ppo(config)
    assert 0.0 < result.metrics["win_rate_vs_ref"] < 1.0
    assert result.metrics["win_rate_judge"] == f"ai:transformers:{tiny_model_dir}:tiny-test"
    assert result.metrics["win_rate_judged"] == 3
    assert all("eval/win_rate_vs_ref" in row for row in result.history)
    with session_scope(open_store(train_db)) as s:
        run = get_run(s, run=result.run_id)
        assert run.metrics["win_rate_judge"].startswith("ai:transformers:")
        assert run.metrics["win_rate_vs_ref"] == result.metrics["win_rate_vs_ref"]


def test_cli_ppo_rejects_an_ai_judge_without_a_model(train_db, tmp_path):
    from typer.testing import CliRunner

    from accord.cli.train import app as train_app

    bad = CliRunner().invoke(
        train_app, ["ppo", "--snapshot", str(tmp_path), "--win-rate-judge", "ai", "--db", train_db]
    )
    assert bad.exit_code == 2 and "judge_model" in bad.output


@pytest.mark.slow
def test_cli_ppo_with_the_ai_judge(
    snapshot_export, tiny_model_dir, tiny_reward_model_dir, train_db, tmp_path
):
    import json

    from typer.testing import CliRunner

    from accord.cli.train import app as train_app

    result = CliRunner().invoke(
        train_app,
        [
            "ppo",
            "--snapshot",
            str(snapshot_export),
            "--model",
            str(tiny_model_dir),
            "--reward-model",
            str(tiny_reward_model_dir),
            "--max-steps",
            "1",
            "--batch-size",
            "4",
            "--mini-batch-size",
            "4",
            "--ppo-epochs",
            "1",
            "--max-new-tokens",
            "4",
            "--eval-prompts",
            "2",
            "--win-rate-judge",
            "ai",
            "--judge-model",
            str(tiny_model_dir),
            "--judge-constitution",
            "tiny-test",
            "--judge-principles",
            "helpful",
            "--db",
            train_db,
            "--output-dir",
            str(tmp_path / "ppo"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output[result.output.index("{") :])["metrics"]
    assert (
        metrics["win_rate_judge"].startswith("ai:transformers:") and metrics["win_rate_judged"] == 2
    )
    assert (tmp_path / "ppo" / "value_model" / "config.json").is_file()


def test_policy_evaluation_win_rate_by_the_ai_judge_and_the_reward_model(
    tiny_model_dir, tiny_reward_model_dir
):
    """A DPO sweep's evaluation: the AI judge beside the reward model, on the same response
    pairs."""
    from accord.workflows.policy_eval import evaluate_policy, evaluation_key

    settings = AIJudgeSettings(model=str(tiny_model_dir), constitution="tiny-test", batch_size=4)
    both = evaluate_policy(
        str(tiny_model_dir),
        str(tiny_model_dir),
        PROMPTS,
        reward_model=str(tiny_reward_model_dir),
        max_new_tokens=6,
        ai_judge=settings,
    )
    assert both["kl_to_ref"] == pytest.approx(0.0, abs=1e-5)  # the policy is its own reference
    assert 0.0 <= both["win_rate_vs_ref"] <= 1.0 and 0.0 < both["ai_win_rate_vs_ref"] < 1.0
    assert (
        both["eval_judge"]
        == f"{tiny_reward_model_dir} + ai:transformers:{tiny_model_dir}:tiny-test"
    )
    assert both["ai_judge_failed"] == 0 and 0.0 <= both["ai_judge_position_consistency"] <= 1.0

    ai_only = evaluate_policy(
        str(tiny_model_dir), str(tiny_model_dir), PROMPTS, max_new_tokens=6, ai_judge=settings
    )
    # same seed, same samples, same judge: the AI figure does not depend on the reward model's
    # presence
    assert ai_only["win_rate_vs_ref"] == pytest.approx(both["ai_win_rate_vs_ref"])
    assert "ai_win_rate_vs_ref" not in ai_only

    common = dict(
        policy=str(tiny_model_dir),
        reference=str(tiny_model_dir),
        reward_model=None,
        prompts=PROMPTS,
        max_new_tokens=6,
        temperature=1.0,
        seed=0,
    )
    assert evaluation_key(**common) != evaluation_key(
        **common, ai_judge={"model": "judge", "backend": "transformers"}
    )


def test_dpo_step_takes_an_ai_judge_and_names_a_bad_field():
    from pydantic import ValidationError

    from accord.train.recipe_steps import DPOStepConfig

    step = DPOStepConfig(
        kind="train_dpo",
        snapshot="s",
        base_model="m",
        eval_ai_judge={"model": "judge-model", "constitution": "tiny-test"},
    )
    assert (
        step.eval_ai_judge.settings("/models/judge").describe()
        == "ai:transformers:/models/judge:tiny-test"
    )
    with pytest.raises(ValidationError, match="backend"):
        DPOStepConfig(
            kind="train_dpo",
            snapshot="s",
            base_model="m",
            eval_ai_judge={"model": "j", "backend": "gpt"},
        )
