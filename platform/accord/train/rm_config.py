"""Configuration of ``accord train rm`` (``accord.train.rm``).

>>> from accord.train.rm_config import RewardTrainConfig
>>> RewardTrainConfig(snapshot="helpful-v1").margin_from_score
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .config import TrainConfig


@dataclass
class RewardTrainConfig(TrainConfig):
    """Reward model training (pairwise Bradley–Terry loss) on a snapshot's train split."""

    margin_from_score: bool = field(
        default=True,
        metadata={"help": "Use margin = scale·logit(score) when the snapshot has soft labels."},
    )
    margin_scale: float = field(
        default=1.0, metadata={"help": "Multiplier of the log-odds margin."}
    )
    max_margin_prob: float = field(
        default=0.99, metadata={"help": "Scores are clipped to [0.5, this] before the logit."}
    )
    center_rewards_coefficient: float | None = field(
        default=None, metadata={"help": "Penalty pulling rewards toward 0 (trl)."}
    )
    heldout_label_band: float = field(
        default=0.05,
        metadata={
            "help": "Held-out labels within this of 0.5 state no preference: left out of "
            "rm_heldout_accuracy and counted."
        },
    )
    learning_rate: float = 1e-4

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 <= self.heldout_label_band < 0.5:
            raise ValueError(
                f"heldout_label_band must be in [0, 0.5), got {self.heldout_label_band}"
            )
        if not 0.5 < self.max_margin_prob < 1.0:
            raise ValueError(f"max_margin_prob must be in (0.5, 1), got {self.max_margin_prob}")
        if self.margin_scale < 0:
            raise ValueError(f"margin_scale must be >= 0, got {self.margin_scale}")
