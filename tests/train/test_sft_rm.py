"""SFT and reward-model training on a tiny snapshot export: loss goes down, run metrics stored."""

import pytest

from accord.store.db import open_store, session_scope
from accord.train.rm import RewardTrainConfig, train_rm
from accord.train.runs import get_run
from accord.train.scoring import bt_calibration, resolve_reward_model
from accord.train.sft import SFTTrainConfig, train_sft


def losses(result):
    return [h["loss"] for h in result.history if "loss" in h]


@pytest.mark.slow
def test_sft_loss_goes_down(snapshot_export, tiny_model_dir, train_db, tmp_path):
    result = train_sft(
        SFTTrainConfig(
            snapshot=str(snapshot_export),
            model=str(tiny_model_dir),
            db_url=train_db,
            output_dir=str(tmp_path / "sft"),
            max_steps=8,
            learning_rate=1e-3,
            save_model=False,
        )
    )
    curve = losses(result)
    assert len(curve) == 8 and curve[-1] < curve[0]
    assert result.metrics["n_examples"] == 24


@pytest.mark.slow
def test_rm_learns_and_reports_heldout_accuracy(
    snapshot_export, tiny_model_dir, train_db, tmp_path
):
    result = train_rm(
        RewardTrainConfig(
            snapshot=str(snapshot_export),
            model=str(tiny_model_dir),
            db_url=train_db,
            output_dir=str(tmp_path / "rm"),
            max_steps=10,
            learning_rate=1e-3,
        )
    )
    curve = losses(result)
    assert curve[-1] < curve[0]
    assert result.metrics["margin_from_score"] is True
    assert result.metrics["rm_heldout_n"] == 8
    assert result.metrics["rm_heldout_accuracy"] == 1.0  # "No." vs a helpful answer is easy
    with session_scope(open_store(train_db)) as s:
        assert get_run(s, run=result.run_id).metrics["rm_heldout_accuracy"] == 1.0
    assert resolve_reward_model(str(result.run_id), db_url=train_db) == str(tmp_path / "rm")


def test_sft_validation():
    with pytest.raises(ValueError, match="target"):
        SFTTrainConfig(snapshot="x", target="nope")
    with pytest.raises(ValueError, match="max_steps"):
        RewardTrainConfig(snapshot="x", max_steps=0)


def test_calibration_figures():
    c = bt_calibration([3.0, 3.0, -3.0], [0.0, 0.0, 0.0], [0.95, 0.95, 1.0])
    assert c["accuracy"] == pytest.approx(2 / 3)
    assert 0 <= c["ece"] <= 1 and c["n"] == 3
