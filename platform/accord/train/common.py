"""What every accord trainer shares: the base config, trl arguments, the run's lifecycle.

Each trainer has an ``XConfig`` dataclass extending ``TrainConfig`` (``accord.train.config``;
the trainer's own in ``x_config.py`` beside it) and a
``train_x(config)`` that loads the snapshot, opens a run in the store (snapshot hash, models,
config, git revision), trains, and closes the run with final metrics and the artifact folder.

>>> from accord.train.common import TrainConfig
>>> TrainConfig(snapshot="helpful-v1", max_steps=5).model
'accord/tiny'
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accord.settings import get_settings

from .config import TrainConfig
from .data import SnapshotData, load_snapshot
from .runs import FollowerRunRecorder, RunRecorder, launch_rank


def trl_arguments(config: TrainConfig, output_dir: Path) -> dict[str, Any]:
    """Keyword arguments every trl ``*Config`` gets from accord's config.

    CPU-safe defaults (no pinned memory, no reporting, no checkpoints mid-run); on GPUs the same
    arguments work unchanged, and ``accelerate launch`` decides the device placement.
    """
    return {
        "output_dir": str(output_dir),
        "max_steps": config.max_steps,
        "learning_rate": config.learning_rate,
        "per_device_train_batch_size": config.per_device_train_batch_size,
        "gradient_accumulation_steps": config.gradient_accumulation_steps,
        "bf16": config.bf16,
        "gradient_checkpointing": config.gradient_checkpointing,
        "seed": config.seed,
        "logging_steps": config.logging_steps,
        "report_to": "none",
        "save_strategy": "no",
        "dataloader_pin_memory": False,
        "disable_tqdm": True,
    }


def model_dtype(config: TrainConfig):
    import torch

    return torch.bfloat16 if config.bf16 else torch.float32


@dataclass
class TrainResult:
    """What a trainer returns: the run it recorded, where its model is, its metrics."""

    run_id: int
    output_dir: Path
    metrics: dict[str, Any]
    history: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)


def recorder_callback(recorder: RunRecorder, history: list[dict[str, Any]]):
    """A ``transformers`` callback that stores every logged step on the run."""
    from transformers import TrainerCallback

    class _RecordSteps(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs:
                return
            values = {k: v for k, v in logs.items() if isinstance(v, int | float)}
            values["step"] = state.global_step
            history.append(values)
            recorder.log(state.global_step, values)

    return _RecordSteps()


def quiet(trainer):
    """Drop transformers' stdout printers: the run records every logged step, and stdout stays
    clean for ``--json`` output."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    return trainer


@dataclass
class RunContext:
    recorder: RunRecorder | FollowerRunRecorder
    snapshot: SnapshotData
    output_dir: Path
    history: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)


@contextlib.contextmanager
def training_run(
    config: TrainConfig,
    *,
    kind: str,
    ref_model: str = "",
    engine=None,
    snapshot: SnapshotData | None = None,
) -> Iterator[RunContext]:
    """Load the snapshot and open the run; mark it failed (with the error) if training raises."""
    from accord.store.db import open_store

    engine = engine or open_store(config.db_url)
    if snapshot is None:
        if not config.snapshot:
            raise ValueError("no snapshot given: pass a snapshot name or an export folder")
        snapshot = load_snapshot(
            config.snapshot, engine=engine if not Path(config.snapshot).is_dir() else None
        )
    if snapshot.is_demonstrations and kind != "sft":
        raise ValueError(
            f"snapshot {snapshot.name!r} holds human demonstrations (prompt, completion), not "
            f"preferences: train sft on it, or give {kind} a preference snapshot"
        )
    rank = launch_rank()
    if rank == 0:
        recorder = RunRecorder.start(
            engine,
            kind=kind,
            name=config.run_name,
            snapshot_hash=snapshot.content_hash,
            snapshot_id=snapshot.snapshot_id,
            base_model=config.model,
            ref_model=ref_model,
            config={**config.to_dict(), "snapshot_name": snapshot.name},
        )
        run_folder = f"{kind}-{recorder.run_id}"
    else:
        # Only the main process writes the run and the saved model; the others get a folder of
        # their own for anything a library writes per process.
        recorder = FollowerRunRecorder(rank=rank)
        run_folder = f"{kind}-rank{rank}-{time.strftime('%Y%m%d-%H%M%S')}"
    output_dir = (
        Path(config.output_dir) if config.output_dir else get_settings().runs_dir / run_folder
    )
    output_dir.mkdir(parents=True, exist_ok=True)
    recorder.update(artifact_path=str(output_dir))
    context = RunContext(recorder=recorder, snapshot=snapshot, output_dir=output_dir)
    try:
        yield context
    except BaseException as error:
        recorder.fail(error)
        raise


def finish(
    context: RunContext, metrics: dict[str, Any], warnings: list[str] | None = None
) -> TrainResult:
    metrics = {**metrics, "train_seconds": time.perf_counter() - context.started}
    context.recorder.finish(
        metrics=metrics, warnings=warnings or [], artifact_path=str(context.output_dir)
    )
    return TrainResult(
        run_id=context.recorder.run_id,
        output_dir=context.output_dir,
        metrics=metrics,
        history=context.history,
        warnings=warnings or [],
    )
