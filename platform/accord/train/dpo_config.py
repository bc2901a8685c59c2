"""Configuration of ``accord train dpo`` (``accord.train.dpo``).

>>> from accord.train.dpo_config import DPOTrainConfig
>>> DPOTrainConfig(snapshot="helpful-v1", loss_type="sigmoid,sft").loss_type
['sigmoid', 'sft']
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .config import TrainConfig


@dataclass
class DPOTrainConfig(TrainConfig):
    """DPO on a snapshot's train split; held-out reward accuracy on its test split."""

    beta: float = field(default=0.1, metadata={"help": "KL strength β (IPO: τ)."})
    loss_type: list[str] = field(
        default_factory=lambda: ["sigmoid"],
        metadata={"help": "trl loss types; several are summed (RPO: sigmoid,sft)."},
    )
    loss_weights: list[float] | None = field(
        default=None, metadata={"help": "Weight per loss type (default 1 each)."}
    )
    label_smoothing: float = field(default=0.0, metadata={"help": "ε for robust / exo_pair."})
    soft_labels: bool = field(
        default=True,
        metadata={
            "help": "Use the snapshot's score P(chosen ≻ rejected) as a soft label when present."
        },
    )
    ref_model: str | None = field(
        default=None, metadata={"help": "Frozen reference model (default: the starting model)."}
    )
    cache_ref_logps: bool = field(
        default=True,
        metadata={"help": "Compute reference log-probs once and reuse them from disk."},
    )
    precompute_ref_batch_size: int | None = field(
        default=None, metadata={"help": "Batch size of the reference pass."}
    )
    evaluate_test: bool = field(
        default=True, metadata={"help": "Report reward accuracy on the snapshot's test split."}
    )
    learning_rate: float = 5e-6

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.loss_type, str):
            self.loss_type = [t.strip() for t in self.loss_type.split(",") if t.strip()]
        if not self.loss_type:
            raise ValueError("loss_type must name at least one loss")
        if self.beta <= 0:
            raise ValueError(f"beta must be > 0, got {self.beta}")
        if self.loss_weights is not None and len(self.loss_weights) != len(self.loss_type):
            raise ValueError(
                f"loss_weights has {len(self.loss_weights)} entries for {len(self.loss_type)} "
                "loss types"
            )
        if not 0.0 <= self.label_smoothing < 0.5:
            raise ValueError(f"label_smoothing must be in [0, 0.5), got {self.label_smoothing}")
