"""RLOO and GRPO through trl with the tiny reward model: steps run and rewards are recorded."""

import pytest

from accord.train.online import OnlineRLConfig, train_online


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", ["rloo", "grpo"])
def test_online_rl_runs_and_records_reward(
    algorithm, snapshot_export, tiny_model_dir, tiny_reward_model_dir, train_db, tmp_path
):
    config = OnlineRLConfig(
        snapshot=str(snapshot_export),
        model=str(tiny_model_dir),
        reward_model=str(tiny_reward_model_dir),
        db_url=train_db,
        output_dir=str(tmp_path / algorithm),
        max_steps=2,
        num_generations=2,
        per_device_train_batch_size=4,
        max_completion_length=6,
        save_model=False,
    )
    result = train_online(config, algorithm=algorithm)
    assert len([h for h in result.history if "reward" in h]) == 2
    assert result.metrics["final_reward"] is not None


def test_online_config_validation():
    with pytest.raises(ValueError, match="multiple"):
        OnlineRLConfig(snapshot="x", num_generations=3, per_device_train_batch_size=4)
    with pytest.raises(ValueError, match="algorithm"):
        train_online(OnlineRLConfig(snapshot="x"), algorithm="ppo")
