"""The whole loop: preferences in the store → snapshot → `train dpo --snapshot NAME` → run linked
to the snapshot (by id and content hash)."""

import pytest

from accord.snapshots import create_snapshot
from accord.store.db import open_store, session_scope
from accord.store.ingest import PreferenceIngestor, PreferenceRecord
from accord.train.dpo import DPOTrainConfig, train_dpo
from accord.train.runs import get_run


@pytest.mark.slow
def test_store_snapshot_dpo_loop(tmp_path, tiny_model_dir):
    url = f"sqlite:///{tmp_path / 'loop.db'}"
    engine = open_store(url)
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
    snap = create_snapshot(engine, name="loop", policy="human-over-ai", test_fraction=0.25)
    result = train_dpo(
        DPOTrainConfig(
            snapshot="loop",
            model=str(tiny_model_dir),
            db_url=url,
            max_steps=4,
            learning_rate=5e-4,
            save_model=False,
            output_dir=str(tmp_path / "out"),
        ),
        engine=engine,
    )
    losses = [h["loss"] for h in result.history if "loss" in h]
    assert len(losses) == 4 and losses[-1] < losses[0]
    with session_scope(engine) as s:
        run = get_run(s, run=result.run_id)
        assert run.snapshot_id == snap.id and run.snapshot_hash == snap.content_hash
        assert run.config["snapshot_name"] == "loop"
