"""Configuration of ``accord train rloo`` and ``accord train grpo`` (``accord.train.online``).

>>> from accord.train.online_config import OnlineRLConfig
>>> OnlineRLConfig(snapshot="helpful-v1", num_generations=2).beta
0.05
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .config import TrainConfig

ALGORITHMS = ("rloo", "grpo")


@dataclass
class OnlineRLConfig(TrainConfig):
    """Group-baseline policy-gradient training (trl's RLOOTrainer / GRPOTrainer)."""

    reward_model: str = field(
        default="accord/tiny-reward",
        metadata={"help": "Reward model: an rm run id/name, a folder or a model id."},
    )
    num_generations: int = field(
        default=4, metadata={"help": "Completions sampled per prompt (the group)."}
    )
    max_completion_length: int = field(default=24, metadata={"help": "Longest sampled completion."})
    beta: float = field(default=0.05, metadata={"help": "KL coefficient to the reference policy."})
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature."})
    use_vllm: bool = field(
        default=False, metadata={"help": "Generate with vLLM (trl's colocate mode)."}
    )
    learning_rate: float = 1e-5

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_generations < 2:
            raise ValueError(
                "num_generations must be >= 2 (the group is the baseline), got "
                f"{self.num_generations}"
            )
        if self.per_device_train_batch_size % self.num_generations:
            raise ValueError(
                f"per_device_train_batch_size ({self.per_device_train_batch_size}) must be a "
                "multiple "
                f"of num_generations ({self.num_generations})"
            )
        if self.beta < 0:
            raise ValueError(f"beta must be >= 0, got {self.beta}")
