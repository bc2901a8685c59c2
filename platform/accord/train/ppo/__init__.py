"""PPO with a KL penalty to a frozen reference, written on torch/transformers/accelerate.

``PPOTrainConfig`` loads without torch (the CLI, recipes and API are generated from it);
``train_ppo`` imports the trainer when first used.

>>> from accord.train.ppo import PPOTrainConfig
>>> PPOTrainConfig(snapshot="helpful-v1", target_kl=6.0).rollout_engine
'transformers'
"""

from .config import PPOTrainConfig

__all__ = ["PPOTrainConfig", "train_ppo"]


def __getattr__(name: str):
    if name == "train_ppo":
        from .trainer import train_ppo

        return train_ppo
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
