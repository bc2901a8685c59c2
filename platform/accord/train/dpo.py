"""DPO on a snapshot with trl's DPOTrainer, plus soft labels and cached reference log-probs.

- Loss types and β are trl's (``sigmoid``, ``ipo``, ``hinge``, ``robust``, RPO as
  ``["sigmoid", "sft"]``, …).
- Soft labels: snapshots from AI judges carry ``score`` = P(chosen ≻ rejected). With
  ``soft_labels=True`` the loss is the expectation ``p·L(c, r) + (1 − p)·L(r, c)`` computed by
  ``accord.train.losses`` (the same code the bandit check runs), in ``SoftLabelDPOTrainer``,
  which overrides trl's ``_compute_loss`` hook only for batches that carry probabilities.
- Reference log-probs are computed once per (snapshot hash, reference model, tokenisation)
  and cached on disk (``<cache>/reflogps``, key in ``accord.train.ref_cache``: whole-file
  weight hashes, hub revision, tokenizer and chat template, trl's version, max length and
  truncation); trl's ``precompute_ref_log_probs`` path then reads them from the batch, so with
  a cache hit no reference model is ever loaded. They are stored after trl's filtering, with
  the pairs it dropped listed, so the next identical run hits.

Why: preference training without a reward model, on AI-judged labels that are probabilities,
not certainties.

Run it (one process: CPU or one GPU; several GPUs: one process per device, the main process
records the run; ``zero3.yaml`` for models that do not fit one GPU)::

    accord train dpo --snapshot helpful-v1 --model accord/tiny --beta 0.1
    accelerate launch --config_file platform/accord/train/accelerate_configs/ddp.yaml \\
        --num_processes 8 -m accord.cli.main \\
        train dpo --snapshot helpful-v1 --model accord/tiny --beta 0.1 --bf16

Departures from trl's DPO (``scripts/dpo.py``, ``DPOTrainer``): batches with soft labels use
accord's expected loss instead of trl's; it honours trl's ``loss_type`` list, ``loss_weights``,
``beta``, ``label_smoothing`` and ``discopop_tau``, and does NOT implement trl's f-divergence
(``f_divergence_type``), LD-DPO (``ld_alpha``), WPO weighting (``use_weighting``) or the MoE
router auxiliary loss (``DPOTrainConfig`` does not expose them, so they stay at trl's
defaults, where the two losses agree at p = 1); ``--hard-labels`` is trl's loss unchanged.
With the cache on (the default) the reference log-probs come through trl's precompute path;
``--no-ref-cache`` restores trl's reference forward at every step.

>>> from accord.train.dpo import DPOTrainConfig, train_dpo      # doctest: +SKIP
>>> config = DPOTrainConfig(snapshot="helpful-v1", beta=0.1, max_steps=10)  # doctest: +SKIP
>>> result = train_dpo(config)                                        # doctest: +SKIP
>>> result.metrics["ref_cache_hit"]                                  # doctest: +SKIP
False
"""

from __future__ import annotations

import gc
from typing import Any

import torch
from trl import DPOConfig, DPOTrainer
from trl.trainer.dpo_trainer import DataCollatorForPreference

from accord.hashing import content_hash

from .chat import completion_messages, is_conversational
from .common import (
    TrainResult,
    finish,
    model_dtype,
    quiet,
    recorder_callback,
    training_run,
    trl_arguments,
)
from .dpo_config import DPOTrainConfig
from .losses import HARD_LABEL_ONLY_LOSS_TYPES, PAIRWISE_LOSS_TYPES, sft_loss, soft_preference_loss
from .ref_cache import RefLogpCache, model_fingerprint, tokenizer_fingerprint

SOFT_LABEL_COLUMN = "preference_prob"


class SoftLabelCollator(DataCollatorForPreference):
    """trl's preference collator, also batching the per-example preference probability."""

    def torch_call(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        output = super().torch_call(examples)
        if SOFT_LABEL_COLUMN in examples[0]:
            output[SOFT_LABEL_COLUMN] = torch.tensor(
                [float(e[SOFT_LABEL_COLUMN]) for e in examples]
            )
        return output


class SoftLabelDPOTrainer(DPOTrainer):
    """trl's DPOTrainer with (a) the soft-label expected loss for batches carrying
    ``preference_prob`` and (b) reference log-probs read from / written to accord's disk cache."""

    def __init__(self, *args, ref_cache: RefLogpCache | None = None, **kwargs):
        # set before trl's __init__, which runs the reference pass through _precompute_ref_logps
        self.ref_cache = ref_cache
        self.ref_cache_hits: dict[str, bool] = {}
        super().__init__(*args, **kwargs)

    def _set_signature_columns_if_needed(self):
        super()._set_signature_columns_if_needed()
        if SOFT_LABEL_COLUMN not in self._signature_columns:
            self._signature_columns = [*self._signature_columns, SOFT_LABEL_COLUMN]

    def _precompute_ref_logps(self, dataset, name: str, batch_size: int):
        # ``dataset`` is after trl's filtering (pairs whose prompt fills max_length are gone)
        if "ref_chosen_logps" in dataset.column_names:
            self.ref_cache_hits[name] = True
            if self.ref_cache is not None:
                self.ref_cache.check_no_placeholders(dataset, name)
            return dataset
        self.ref_cache_hits[name] = False
        dataset = super()._precompute_ref_logps(dataset, name, batch_size)
        if self.ref_cache is not None and self.accelerator.is_main_process:
            self.ref_cache.store(
                name,
                dataset["example_hash"],
                dataset["ref_chosen_logps"],
                dataset["ref_rejected_logps"],
            )
        return dataset

    def _compute_loss(self, model, inputs, return_outputs):
        if SOFT_LABEL_COLUMN not in inputs:
            return super()._compute_loss(model, inputs, return_outputs)
        return self._soft_label_loss(model, inputs)

    def _soft_label_loss(self, model, inputs):
        mode = "train" if self.model.training else "eval"
        completion_mask = inputs["completion_mask"]
        shift_mask = completion_mask[..., 1:]
        labels = inputs["input_ids"].masked_fill(completion_mask == 0, -100)
        model_kwargs = {
            "input_ids": inputs["input_ids"],
            "attention_mask": inputs["attention_mask"],
            "use_cache": False,
        }
        outputs = model(**model_kwargs, labels=labels, fused_lm_head=True)
        seq_len = shift_mask.size(1)
        per_token_logps = outputs.log_probs[:, -seq_len:]
        chosen_logps, rejected_logps = per_token_logps.sum(dim=1).chunk(2, dim=0)
        if self.precompute_ref_logps:
            ref_chosen, ref_rejected = inputs["ref_chosen_logps"], inputs["ref_rejected_logps"]
        else:
            with torch.no_grad():
                reference = self.ref_model if self.ref_model is not None else self.model
                ref_outputs = reference(**model_kwargs, labels=labels, fused_lm_head=True)
            ref_chosen, ref_rejected = (
                ref_outputs.log_probs[:, -seq_len:].sum(dim=1).chunk(2, dim=0)
            )
        chosen_logratios = chosen_logps - ref_chosen.to(chosen_logps.dtype)
        rejected_logratios = rejected_logps - ref_rejected.to(rejected_logps.dtype)
        prob = inputs[SOFT_LABEL_COLUMN].to(chosen_logratios.device)
        chosen_lengths, rejected_lengths = completion_mask.sum(dim=1).chunk(2, dim=0)

        loss = 0.0
        for loss_type, weight in zip(self.loss_types, self.loss_weights, strict=True):
            if loss_type == "sft":
                chosen_mask, _ = shift_mask.chunk(2, dim=0)
                term = sft_loss(per_token_logps.chunk(2, dim=0)[0], chosen_mask)
            else:
                term = soft_preference_loss(
                    chosen_logratios,
                    rejected_logratios,
                    prob,
                    beta=self.beta,
                    loss_type=loss_type,
                    label_smoothing=self.label_smoothing,
                    chosen_lengths=chosen_lengths.to(prob.dtype),
                    rejected_lengths=rejected_lengths.to(prob.dtype),
                    discopop_tau=self.args.discopop_tau,
                ).mean()
            loss = loss + weight * term

        with torch.no_grad():
            chosen_rewards = self.beta * chosen_logratios.detach()
            rejected_rewards = self.beta * rejected_logratios.detach()
            gather = self.accelerator.gather_for_metrics
            metrics = self._metrics[mode]
            entropy = (outputs.entropy[:, -seq_len:] * shift_mask).sum() / shift_mask.sum().clamp(
                min=1
            )
            metrics["entropy"].append(gather(entropy).mean().item())
            metrics["rewards/chosen"].append(gather(chosen_rewards).mean().item())
            metrics["rewards/rejected"].append(gather(rejected_rewards).mean().item())
            metrics["rewards/accuracies"].append(
                gather((chosen_rewards > rejected_rewards).float()).mean().item()
            )
            metrics["rewards/margins"].append(
                gather(chosen_rewards - rejected_rewards).mean().item()
            )
            metrics["logps/chosen"].append(gather(chosen_logps.detach()).mean().item())
            metrics["logps/rejected"].append(gather(rejected_logps.detach()).mean().item())
            metrics["soft_label/mean_prob"].append(gather(prob).mean().item())
        return loss


def _rows_for(snapshot_rows: list[dict[str, Any]], soft: bool) -> dict[str, list]:
    columns: dict[str, list] = {"prompt": [], "chosen": [], "rejected": [], "example_hash": []}
    if soft:
        columns[SOFT_LABEL_COLUMN] = []
    for row in snapshot_rows:
        columns["prompt"].append(row["prompt"])
        # conversational rows: answers as assistant messages, as trl's DPOTrainer takes them
        chat = is_conversational(row["prompt"])
        columns["chosen"].append(completion_messages(row["chosen"]) if chat else row["chosen"])
        columns["rejected"].append(
            completion_messages(row["rejected"]) if chat else row["rejected"]
        )
        columns["example_hash"].append(
            row.get("example_hash") or content_hash(row["prompt"], row["chosen"], row["rejected"])
        )
        if soft:
            score = row.get("score")
            columns[SOFT_LABEL_COLUMN].append(1.0 if score is None else float(score))
    return columns


def train_dpo(config: DPOTrainConfig, *, engine=None, snapshot=None) -> TrainResult:
    """Train with DPO on ``config.snapshot``; records the run and returns its metrics."""
    import datasets
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from accord.models.loading import resolve_model_path

    unsupported = [t for t in config.loss_type if t not in (*PAIRWISE_LOSS_TYPES, "sft")]
    model_path = resolve_model_path(config.model)
    ref_id = config.ref_model or config.model
    ref_path = resolve_model_path(ref_id)
    with training_run(
        config, kind="dpo", ref_model=ref_id, engine=engine, snapshot=snapshot
    ) as ctx:
        snap = ctx.snapshot
        soft = config.soft_labels and snap.has_soft_labels
        if soft and unsupported:
            raise ValueError(
                f"soft labels cannot be used with loss types {unsupported}; pass soft_labels=False"
            )
        hard_only = [t for t in config.loss_type if t in HARD_LABEL_ONLY_LOSS_TYPES]
        if soft and hard_only:
            raise ValueError(
                f"loss types {hard_only} ignore soft labels (every P(chosen ≻ rejected) > 0.5 "
                f"trains like 1.0) and snapshot {snap.content_hash[:12]} has them: "
                "pass soft_labels=False, or use sigmoid"
            )
        train_ds = datasets.Dataset.from_dict(_rows_for(snap.train_rows, soft))
        test_ds = (
            datasets.Dataset.from_dict(_rows_for(snap.test_rows, soft))
            if (config.evaluate_test and snap.test_rows)
            else None
        )

        import trl

        tokenizer = AutoTokenizer.from_pretrained(model_path)
        args = DPOConfig(
            **trl_arguments(config, ctx.output_dir),
            beta=config.beta,
            loss_type=config.loss_type,
            loss_weights=config.loss_weights,
            label_smoothing=config.label_smoothing,
            max_length=config.max_length,
            precompute_ref_log_probs=config.cache_ref_logps,
            precompute_ref_batch_size=config.precompute_ref_batch_size,
            per_device_eval_batch_size=config.per_device_train_batch_size,
        )
        ref_cache = None
        if config.cache_ref_logps:
            # everything the reference numbers depend on: weights (whole-file hashes), the
            # tokenizer that cuts the pairs (it comes from the policy's folder), trl's own
            # tokenisation and filtering, lengths, truncation and precision
            ref_cache = RefLogpCache.for_run(
                snapshot_hash=snap.content_hash,
                model_fingerprint=model_fingerprint(ref_path),
                settings={
                    "max_length": args.max_length,
                    "truncation_mode": args.truncation_mode,
                    "collator_max_length": config.max_length,
                    "bf16": config.bf16,
                    "tokenizer": tokenizer_fingerprint(tokenizer),
                    "trl": trl.__version__,
                },
            )
            train_ds = ref_cache.attach(train_ds, "train") or train_ds
            if test_ds is not None:
                test_ds = ref_cache.attach(test_ds, "eval") or test_ds
        cached = "ref_chosen_logps" in train_ds.column_names and (
            test_ds is None or "ref_chosen_logps" in test_ds.column_names
        )

        model = AutoModelForCausalLM.from_pretrained(model_path, dtype=model_dtype(config))
        ref_model = None
        if not cached and ref_path != model_path:
            ref_model = AutoModelForCausalLM.from_pretrained(ref_path, dtype=model_dtype(config))
        trainer = SoftLabelDPOTrainer(
            model=model,
            ref_model=ref_model,
            args=args,
            train_dataset=train_ds,
            eval_dataset=test_ds,
            processing_class=tokenizer,
            ref_cache=ref_cache,
            data_collator=SoftLabelCollator(
                pad_token_id=tokenizer.pad_token_id, max_length=config.max_length
            ),
            callbacks=[recorder_callback(ctx.recorder, ctx.history)],
        )
        if config.cache_ref_logps and trainer.ref_model is not None:
            # the reference pass is done and its results live in the dataset: free the model
            trainer.ref_model = None
            ref_model = None
            gc.collect()
        quiet(trainer)
        train_output = trainer.train()
        metrics: dict[str, Any] = {
            "train_loss": train_output.training_loss,
            "soft_labels": soft,
            "ref_cache_hit": all(trainer.ref_cache_hits.values())
            if trainer.ref_cache_hits
            else False,
            "ref_cache_hits": ref_cache.hits if ref_cache else 0,
            "ref_model_loaded": trainer.ref_model is not None or ref_model is not None,
        }
        if test_ds is not None:
            evaluation = trainer.evaluate()
            metrics["heldout_reward_accuracy"] = evaluation.get("eval_rewards/accuracies")
            metrics["heldout_loss"] = evaluation.get("eval_loss")
            metrics["heldout_reward_margin"] = evaluation.get("eval_rewards/margins")
        if config.save_model:
            trainer.save_model(str(ctx.output_dir))
        return finish(ctx, metrics)
