"""Configuration of ``accord train sft`` (``accord.train.sft``).

>>> from accord.train.sft_config import SFTTrainConfig
>>> SFTTrainConfig(snapshot="cai", target="revisions").learning_rate
0.0001
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .config import TrainConfig

SFT_TARGETS = ("chosen", "revisions")


@dataclass
class SFTTrainConfig(TrainConfig):
    """SFT on the chosen side of a snapshot's train split."""

    target: str = field(
        default="chosen",
        metadata={
            "help": "chosen: every chosen response; revisions: only critique-revise revisions."
        },
    )
    learning_rate: float = 1e-4

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.target not in SFT_TARGETS:
            raise ValueError(f"target must be one of {', '.join(SFT_TARGETS)}, got {self.target!r}")
