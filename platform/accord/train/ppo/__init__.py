"""PPO with a KL penalty to a frozen reference, written on torch/transformers/accelerate.

>>> from accord.train.ppo import PPOTrainConfig
>>> PPOTrainConfig(snapshot="helpful-v1", target_kl=6.0).rollout_engine
'transformers'
"""

from .config import PPOTrainConfig
from .trainer import train_ppo

__all__ = ["PPOTrainConfig", "train_ppo"]
