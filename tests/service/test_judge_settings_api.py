"""The judge's settings through the API: a recipe's judge template and a PPO run's judge
fields are held to the service's path policy like every other file a job names, and a
well-formed one is accepted with the same fields as the CLI and recipes."""

from __future__ import annotations

import pytest

from accord.service.job_kinds import ApiJobPolicy, JobConfigError, validate_config


def _judge_recipe(template: str) -> dict:
    return {
        "recipe": {
            "name": "r",
            "models": {"judge": {"backend": "transformers", "model": "accord/tiny"}},
            "steps": [
                {
                    "kind": "judge",
                    "constitution": "tiny-test",
                    "template": template,
                    "orders": "one",
                    "cot": True,
                }
            ],
        }
    }


def test_a_judge_template_outside_the_job_roots_is_refused(tmp_path):
    inside = tmp_path / "ok"
    inside.mkdir()
    (inside / "j.yaml").write_text('user: "{response_a} {response_b}"\n')
    policy = ApiJobPolicy(roots=(inside,))
    with pytest.raises(JobConfigError) as err:
        validate_config("recipe", _judge_recipe(str(tmp_path / "secret.yaml")), policy=policy)
    assert "template" in str(err.value.problems)
    assert validate_config("recipe", _judge_recipe(str(inside / "j.yaml")), policy=policy)
    assert validate_config("recipe", _judge_recipe("judge"), policy=policy)  # bundled by name
    train = {
        "trainer": "ppo",
        "snapshot": "s",
        "win_rate_judge": "ai",
        "judge_model": "accord/tiny",
        "judge_template": str(tmp_path / "secret.yaml"),
    }
    with pytest.raises(JobConfigError) as err:
        validate_config("train", train, policy=policy)
    assert "judge_template" in str(err.value.problems)


def test_the_train_job_takes_the_judge_fields_and_checks_them():
    config = {
        "trainer": "ppo",
        "snapshot": "s",
        "win_rate_judge": "ai",
        "judge_model": "accord/tiny",
        "judge_cot": True,
        "judge_orders": "one",
        "judge_answer_prefix": "Pick: (",
    }
    clean = validate_config("train", config, policy=ApiJobPolicy())
    assert clean["judge_cot"] is True and clean["judge_orders"] == "one"
    with pytest.raises(JobConfigError) as err:
        validate_config("train", {**config, "judge_orders": "all"}, policy=ApiJobPolicy())
    assert "judge_orders must be one of" in str(err.value.problems)
