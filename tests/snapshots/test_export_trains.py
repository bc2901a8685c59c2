"""An exported snapshot feeds trl's DPOTrainer as it is: loaded with `datasets`, one real step."""

from __future__ import annotations

import pytest

from accord.snapshots import create_snapshot, export_snapshot
from accord.store.db import open_store, session_scope
from accord.store.ingest import PreferenceIngestor, PreferenceRecord


@pytest.mark.slow
@pytest.mark.parametrize("conversational", [False, True])
def test_trl_export_runs_one_dpo_step(tmp_path, tiny_model_dir, conversational):
    import datasets
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    engine = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    with session_scope(engine) as s:
        PreferenceIngestor(s).ingest(
            PreferenceRecord(
                prompt=f"Name a colour number {i}.",
                chosen=f"Blue is colour {i}.",
                rejected="no",
                source="t",
            )
            for i in range(16)
        )
    create_snapshot(engine, name="dpo", policy="human-over-ai", test_fraction=0.25)
    out = tmp_path / "export"
    export_snapshot(engine, name="dpo", fmt="trl", out_dir=out, conversational=conversational)

    data = datasets.load_dataset(
        "json", data_files={"train": str(out / "train.jsonl"), "test": str(out / "test.jsonl")}
    )
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    args = DPOConfig(
        output_dir=str(tmp_path / "run"),
        max_steps=1,
        per_device_train_batch_size=4,
        report_to="none",
        save_strategy="no",
        bf16=False,
        use_cpu=True,
        dataloader_pin_memory=False,
        logging_steps=1,
        max_length=128,
    )
    trainer = DPOTrainer(model=model, args=args, train_dataset=data["train"], processing_class=tok)
    result = trainer.train()
    assert result.global_step == 1
    assert result.training_loss == pytest.approx(0.6931, abs=0.05)  # log 2 at the first step
