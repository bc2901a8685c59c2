"""Supervised fine-tuning on a snapshot's chosen responses, or on critique-revise revisions
(the supervised phase of Constitutional AI), with trl's SFTTrainer.

Examples are (prompt, completion) pairs; the loss covers completion tokens only. With
``target="revisions"`` only examples whose chosen response is a revision are kept (this needs
the snapshot's name in the store, which records each response's role). Conversational snapshots
(prompts as messages) are rendered with the model's chat template by trl, BOS once.

>>> from accord.train.sft import SFTTrainConfig, train_sft           # doctest: +SKIP
>>> train_sft(SFTTrainConfig(snapshot="cai-revisions", target="revisions")).metrics["n_examples"]  # doctest: +SKIP
120
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .common import (
    TrainConfig,
    TrainResult,
    finish,
    model_dtype,
    quiet,
    recorder_callback,
    training_run,
    trl_arguments,
)

SFT_TARGETS = ("chosen", "revisions")


@dataclass
class SFTTrainConfig(TrainConfig):
    """SFT on the chosen side of a snapshot's train split."""

    target: str = field(default="chosen", metadata={"help": "chosen: every chosen response; revisions: only critique-revise revisions."})
    learning_rate: float = 1e-4

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.target not in SFT_TARGETS:
            raise ValueError(f"target must be one of {', '.join(SFT_TARGETS)}, got {self.target!r}")


def train_sft(config: SFTTrainConfig, *, engine=None, snapshot=None) -> TrainResult:
    import datasets
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from accord.models.loading import resolve_model_path

    from .data import preference_columns, revision_example_hashes

    with training_run(config, kind="sft", engine=engine, snapshot=snapshot) as ctx:
        snap = ctx.snapshot
        rows = snap.train_rows
        if config.target == "revisions":
            if rows and all("chosen_role" in r for r in rows):
                # Exports carry each response's role: no store needed.
                rows = [r for r in rows if r["chosen_role"] == "revision"]
            elif snap.snapshot_id is None:
                raise ValueError("target='revisions' needs a snapshot from the store or an export "
                                 "with a chosen_role column")
            else:
                from accord.store.db import open_store

                keep = revision_example_hashes(engine or open_store(config.db_url), snap.snapshot_id)
                rows = [r for r in rows if r.get("example_hash") in keep]
            if not rows:
                raise ValueError(f"snapshot {snap.name!r} has no examples whose chosen response is a revision")
        columns = preference_columns(rows)
        dataset = datasets.Dataset.from_dict({"prompt": columns["prompt"], "completion": columns["chosen"]})
        path = resolve_model_path(config.model)
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=model_dtype(config))
        args = SFTConfig(**trl_arguments(config, ctx.output_dir), max_length=config.max_length, completion_only_loss=True)
        trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                             callbacks=[recorder_callback(ctx.recorder, ctx.history)])
        quiet(trainer)
        output = trainer.train()
        metrics: dict[str, Any] = {"train_loss": output.training_loss, "n_examples": len(rows), "target": config.target}
        if config.save_model:
            trainer.save_model(str(ctx.output_dir))
        return finish(ctx, metrics)
