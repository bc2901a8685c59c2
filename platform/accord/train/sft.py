"""Supervised fine-tuning on a snapshot's chosen responses, on critique-revise revisions
(the supervised phase of Constitutional AI), or on human demonstrations (a ``--kind
demonstrations`` snapshot: InstructGPT's supervised phase), with trl's SFTTrainer.

Why: the supervised phase before preference training, and Constitutional AI's SL phase
(fine-tuning on the model's own revised answers).

Examples are (prompt, completion) pairs; the loss covers completion tokens only. With
``target="revisions"`` only examples whose chosen response is a revision are kept (this needs
the snapshot's name in the store, which records each response's role). Conversational snapshots
(prompts as messages) are rendered with the model's chat template by trl, BOS once.
Demonstrations are rendered with the model's chat template (user turn, then the
demonstration as the assistant's turn) when it has one, as plain text otherwise; the metrics
say which (``rendering``).

Run it (one process: CPU or one GPU; several GPUs: one process per device, the main process
records the run; ``zero3.yaml`` for models that do not fit one GPU)::

    accord train sft --snapshot helpful-v1 --model accord/tiny --max-steps 20
    accelerate launch --config_file platform/accord/train/accelerate_configs/ddp.yaml \\
        --num_processes 8 -m accord.cli.main \\
        train sft --snapshot helpful-v1 --model accord/tiny --max-steps 20 --bf16

Departures from trl's ``scripts/sft.py``: data come from a snapshot (its chosen side, or the
revisions), never from the Hub; ``completion_only_loss`` is always on; no packing; the options
are ``SFTTrainConfig`` (``accord.train.sft_config``), other ``SFTConfig`` arguments keep trl's
defaults.

>>> from accord.train.sft import SFTTrainConfig, train_sft           # doctest: +SKIP
>>> config = SFTTrainConfig(snapshot="cai-revisions", target="revisions")  # doctest: +SKIP
>>> train_sft(config).metrics["n_examples"]                          # doctest: +SKIP
120
"""

from __future__ import annotations

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
from .sft_config import SFT_TARGETS, SFTTrainConfig  # noqa: F401 - re-exported


def train_sft(config: SFTTrainConfig, *, engine=None, snapshot=None) -> TrainResult:
    import datasets
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from accord.models.loading import resolve_model_path

    from .chat import has_chat_template
    from .data import preference_columns, revision_example_hashes, sft_columns

    with training_run(config, kind="sft", engine=engine, snapshot=snapshot) as ctx:
        snap = ctx.snapshot
        rows = snap.train_rows
        if snap.is_demonstrations and config.target != "chosen":
            raise ValueError(
                f"snapshot {snap.name!r} holds human demonstrations: train on them with the "
                f"default target (chosen), not {config.target!r}"
            )
        if config.target == "revisions":
            if rows and all("chosen_role" in r for r in rows):
                # Exports carry each response's role: no store needed.
                rows = [r for r in rows if r["chosen_role"] == "revision"]
            elif snap.snapshot_id is None:
                raise ValueError(
                    "target='revisions' needs a snapshot from the store or an export "
                    "with a chosen_role column"
                )
            else:
                from accord.store.db import open_store

                keep = revision_example_hashes(
                    engine or open_store(config.db_url), snap.snapshot_id
                )
                rows = [r for r in rows if r.get("example_hash") in keep]
            if not rows:
                raise ValueError(
                    f"snapshot {snap.name!r} has no examples whose chosen response is a revision"
                )
        path = resolve_model_path(config.model)
        tokenizer = AutoTokenizer.from_pretrained(path)
        if snap.is_demonstrations:
            dataset = datasets.Dataset.from_dict(
                sft_columns(rows, chat_template=has_chat_template(tokenizer))
            )
        else:
            columns = preference_columns(rows)
            dataset = datasets.Dataset.from_dict(
                {"prompt": columns["prompt"], "completion": columns["chosen"]}
            )
        model = AutoModelForCausalLM.from_pretrained(path, dtype=model_dtype(config))
        args = SFTConfig(
            **trl_arguments(config, ctx.output_dir),
            max_length=config.max_length,
            completion_only_loss=True,
        )
        trainer = SFTTrainer(
            model=model,
            args=args,
            train_dataset=dataset,
            processing_class=tokenizer,
            callbacks=[recorder_callback(ctx.recorder, ctx.history)],
        )
        quiet(trainer)
        output = trainer.train()
        metrics: dict[str, Any] = {
            "train_loss": output.training_loss,
            "n_examples": len(rows),
            "target": "demonstrations" if snap.is_demonstrations else config.target,
        }
        if snap.is_demonstrations:
            metrics["rendering"] = "chat template" if has_chat_template(tokenizer) else "plain text"
        if config.save_model:
            trainer.save_model(str(ctx.output_dir))
        return finish(ctx, metrics)
