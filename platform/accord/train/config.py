"""The options every accord trainer shares: ``TrainConfig``, the base of each trainer's config.

Each trainer's own ``*Config`` extends it in a module beside the trainer (``sft_config.py``,
``rm_config.py``, ``dpo_config.py``, ``online_config.py``, ``ppo/config.py``). Config modules
import no torch or trl: the CLI, recipe steps and API job kinds are generated from them
(``accord.train.trainers``) and must load fast.

>>> from accord.train.config import TrainConfig
>>> TrainConfig(snapshot="helpful-v1", max_steps=5).model
'accord/tiny'
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass
class TrainConfig:
    """Options common to every trainer (the snapshot, the model, the optimisation budget)."""

    snapshot: str = field(
        default="",
        metadata={"help": "Snapshot name in the store, or a `--format trl` export folder."},
    )
    model: str = field(
        default="accord/tiny",
        metadata={"help": "Model id or folder to start from (accord/tiny offline)."},
    )
    output_dir: str | None = field(
        default=None,
        metadata={"help": "Where artifacts go (default: <home>/runs/<kind>-<run id>)."},
    )
    run_name: str = field(default="", metadata={"help": "A name for the run in the store."})
    max_steps: int = field(default=20, metadata={"help": "Optimizer steps."})
    learning_rate: float = field(default=5e-5, metadata={"help": "Peak learning rate."})
    per_device_train_batch_size: int = field(
        default=4, metadata={"help": "Examples per device per micro-batch."}
    )
    gradient_accumulation_steps: int = field(
        default=1, metadata={"help": "Micro-batches per optimizer step."}
    )
    max_length: int | None = field(
        default=512, metadata={"help": "Longest tokenised sequence (prompt + completion)."}
    )
    bf16: bool = field(
        default=False, metadata={"help": "bfloat16 mixed precision (GPUs with bf16 support)."}
    )
    gradient_checkpointing: bool = field(
        default=False, metadata={"help": "Trade compute for memory on large models."}
    )
    seed: int = field(default=0, metadata={"help": "Random seed."})
    logging_steps: int = field(default=1, metadata={"help": "Record instruments every N steps."})
    save_model: bool = field(
        default=True, metadata={"help": "Save the trained model and tokenizer to output_dir."}
    )
    db_url: str | None = field(
        default=None, metadata={"help": "Store URL (default: ACCORD_DATABASE_URL)."}
    )

    def __post_init__(self) -> None:
        if self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {self.max_steps}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.per_device_train_batch_size < 1 or self.gradient_accumulation_steps < 1:
            raise ValueError(
                "per_device_train_batch_size and gradient_accumulation_steps must be >= 1"
            )
        if self.max_length is not None and self.max_length < 8:
            raise ValueError(f"max_length must be >= 8 or None, got {self.max_length}")
        if self.logging_steps < 1:
            raise ValueError(f"logging_steps must be >= 1, got {self.logging_steps}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
