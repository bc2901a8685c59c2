"""The AI-judged win-rate asks with the judge's one settings shape (``JudgeTask``): template,
answer prefix, orders and CoT reach it from PPO's config, the DPO recipe and Python, and
unchanged settings keep their evaluation key and trained-run reuse."""

import dataclasses

import pytest

from accord.train.judged_win_rate import AIJudgeSettings, AIWinRateJudge
from accord.train.ppo import PPOTrainConfig
from accord.train.recipe_steps import EvalAIJudge
from accord.workflows.policy_eval import evaluation_key
from tests.fixtures.tiny_backend import RecordingBackend, tiny_backend  # noqa: F401

PROMPTS = ["How do vaccines work?", "What is compound interest?"]
OURS = ["They train the immune system safely.", "Interest on interest."]
THEIRS = ["I do not know.", "Money."]


def test_default_settings_keep_the_evaluation_key():
    """A DPO sweep evaluated before the task fields existed is not evaluated again."""
    settings = AIJudgeSettings(model="m", constitution="tiny-test", principles=["helpful"])
    before = {
        "model": "m",
        "backend": "transformers",
        "constitution": "tiny-test",
        "principles": ["helpful"],
        "base_url": None,
        "batch_size": 8,
        "options": {},
    }  # the former AIJudgeSettings, as a dict
    args = {
        "policy": "p",
        "reference": "r",
        "reward_model": None,
        "prompts": PROMPTS,
        "max_new_tokens": 4,
        "temperature": 1.0,
        "seed": 0,
    }
    assert evaluation_key(**args, ai_judge=settings.key()) == evaluation_key(
        **args, ai_judge=before
    )
    changed = dataclasses.replace(settings, cot=True)
    assert evaluation_key(**args, ai_judge=changed.key()) != evaluation_key(**args, ai_judge=before)


def test_ppo_config_keeps_its_stored_shape_and_maps_judge_fields():
    plain = PPOTrainConfig(snapshot="x")
    assert not {"judge_template", "judge_answer_prefix", "judge_orders", "judge_cot"} & set(
        plain.to_dict()
    )
    config = PPOTrainConfig(
        snapshot="x",
        win_rate_judge="ai",
        judge_model="m",
        judge_constitution="tiny-test",
        judge_cot=True,
        judge_orders="one",
        judge_answer_prefix="Pick: (",
    )
    assert config.to_dict()["judge_cot"] is True and config.to_dict()["judge_orders"] == "one"
    settings = config.ai_judge_settings()
    assert (settings.model, settings.cot, settings.orders, settings.prefix) == (
        "m",
        True,
        "one",
        "Pick: (",
    )
    with pytest.raises(ValueError, match="judge_orders must be one of"):
        PPOTrainConfig(snapshot="x", win_rate_judge="ai", judge_model="m", judge_orders="all")


def test_dpo_recipe_judge_is_the_same_shape():
    step = EvalAIJudge(
        model="train_sft", constitution="tiny-test", cot=True, orders="one", template="judge"
    )
    settings = step.settings("/models/sft")
    assert settings == AIJudgeSettings(
        model="/models/sft", constitution="tiny-test", cot=True, orders="one"
    )
    names = set(EvalAIJudge.model_fields)
    assert names == {f.name for f in dataclasses.fields(AIJudgeSettings)} - {"base_dir", "options"}
    with pytest.raises(ValueError, match="orders"):
        EvalAIJudge(model="m", orders="all")
    with pytest.raises(ValueError, match="extra"):
        EvalAIJudge(model="m", judge_cot=True)


@pytest.mark.slow
def test_win_rate_asks_with_the_template_cot_and_orders(tiny_backend, tmp_path):  # noqa: F811
    template = tmp_path / "j.yaml"
    template.write_text(
        'user: "{question}\\n(A) {response_a}\\n(B) {response_b}\\n{instruction}"\n'
        'answer_prefix: "Winner: ("\n'
    )
    settings = AIJudgeSettings(
        model="accord/tiny",
        constitution="tiny-test",
        principles=["helpful"],
        template=str(template),
        orders="one",
        cot=True,
        cot_max_tokens=4,
        cot_clamp=(0.45, 0.55),
    )
    recorder = RecordingBackend(tiny_backend)
    result = AIWinRateJudge(settings, backend=recorder)(PROMPTS, OURS, THEIRS)
    assert result.judged == 2 and all(0.45 <= p <= 0.55 for p in result.probabilities)
    rationale_asks, answers = recorder.calls
    assert len(rationale_asks) == len(answers) == 2  # one order, one principle, two prompts
    assert all(
        r.assistant_prefix == "Let's think step by step:" and r.max_tokens == 4
        for r in rationale_asks
    )
    assert all(
        r.assistant_prefix.endswith("\nWinner: (") and r.choices == ["A", "B"] for r in answers
    )
    assert (
        answers[0].messages
        == settings.pair_messages(
            prompt=PROMPTS[0],
            response_a=OURS[0],
            response_b=THEIRS[0],
            principles=settings.load_principles(),
        )[0][2]
    )
