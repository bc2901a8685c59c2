"""A Bradley–Terry reward model on a snapshot, with trl's RewardTrainer.

Soft labels become trl's per-pair ``margin``: ``margin = scale·logit(p)`` asks the reward gap to
exceed the log-odds the judges gave (a 0.55 preference asks for almost nothing, a 0.95 one for
≈ 3 nats). After training, the test split is scored: pairwise accuracy and the calibration of
σ(r_c − r_r) against the labels are stored on the run (``rm_heldout_accuracy``,
``rm_heldout_brier``, ``rm_heldout_ece``, …). Held-out rewards are read by
``accord.train.reward_read`` exactly as the head was trained; pairs over ``max_length`` are
dropped as trl drops them in training
(``rm_heldout_dropped``), exact reward ties count ½ (``rm_heldout_reward_ties``) and labels within
``heldout_label_band`` of 0.5 are left out of the accuracy (``rm_heldout_undecided_labels``).
Conversational snapshots are rendered with the model's chat template (trl does it; BOS once).

Why: a reward model for PPO/RLOO/GRPO, and a judge of DPO policies' win-rates, trained on the
same curated snapshot the policy sees.

Run it (one process: CPU or one GPU; several GPUs: one process per device, the main process
records the run; ``zero3.yaml`` for models that do not fit one GPU)::

    accord train rm --snapshot helpful-v1 --model accord/tiny --max-steps 50
    accelerate launch --config_file platform/accord/train/accelerate_configs/ddp.yaml \\
        --num_processes 8 -m accord.cli.main \\
        train rm --snapshot helpful-v1 --model accord/tiny --max-steps 50 --bf16

Departures from trl's ``scripts/reward.py``: the per-pair ``margin`` column is derived from the
snapshot's soft labels (``margin_from_score``; trl only reads a margin the data already has);
the held-out calibration figures are accord's; the options are ``RewardTrainConfig``
(``accord.train.rm_config``), other ``RewardConfig`` arguments keep trl's defaults.

>>> from accord.train.rm import RewardTrainConfig, train_rm          # doctest: +SKIP
>>> result = train_rm(RewardTrainConfig(snapshot="helpful-v1", max_steps=50))  # doctest: +SKIP
>>> result.metrics["rm_heldout_accuracy"]                            # doctest: +SKIP
0.81
"""

from __future__ import annotations

import math
from typing import Any

from .common import (
    TrainResult,
    finish,
    model_dtype,
    quiet,
    recorder_callback,
    training_run,
    trl_arguments,
)
from .data import preference_columns
from .rm_config import RewardTrainConfig
from .scoring import bt_calibration, score_texts


def margin_for(score: float | None, config: RewardTrainConfig) -> float:
    if score is None:
        return 0.0
    p = min(max(float(score), 0.5), config.max_margin_prob)
    return config.margin_scale * math.log(p / (1 - p))


def load_reward_model(path: str, *, dtype=None):
    """A sequence-classification model with one output, its pad token set for last-token pooling."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1, dtype=dtype)
    model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def train_rm(config: RewardTrainConfig, *, engine=None, snapshot=None) -> TrainResult:
    import datasets
    from trl import RewardConfig, RewardTrainer

    from accord.models.loading import resolve_model_path

    with training_run(config, kind="rm", engine=engine, snapshot=snapshot) as ctx:
        snap = ctx.snapshot
        use_margin = config.margin_from_score and snap.has_soft_labels
        columns: dict[str, list[Any]] = preference_columns(snap.train_rows)
        if use_margin:
            columns["margin"] = [margin_for(r.get("score"), config) for r in snap.train_rows]
        model, tokenizer = load_reward_model(
            resolve_model_path(config.model), dtype=model_dtype(config)
        )
        args = RewardConfig(
            **trl_arguments(config, ctx.output_dir),
            max_length=config.max_length,
            center_rewards_coefficient=config.center_rewards_coefficient,
        )
        trainer = RewardTrainer(
            model=model,
            args=args,
            train_dataset=datasets.Dataset.from_dict(columns),
            processing_class=tokenizer,
            callbacks=[recorder_callback(ctx.recorder, ctx.history)],
        )
        quiet(trainer)
        output = trainer.train()
        metrics: dict[str, Any] = {
            "train_loss": output.training_loss,
            "margin_from_score": use_margin,
        }
        if snap.test_rows:
            model.eval()
            rows = snap.test_rows
            test = preference_columns(rows)
            rc = score_texts(
                model, tokenizer, test["prompt"], test["chosen"], max_length=config.max_length
            )
            rr = score_texts(
                model, tokenizer, test["prompt"], test["rejected"], max_length=config.max_length
            )
            calibration = bt_calibration(
                rc.tolist(),
                rr.tolist(),
                [r.get("score") for r in rows],
                label_band=config.heldout_label_band,
            )
            metrics.update({f"rm_heldout_{k}": v for k, v in calibration.items()})
        if config.save_model:
            trainer.save_model(str(ctx.output_dir))
            tokenizer.save_pretrained(str(ctx.output_dir))
        return finish(ctx, metrics)
