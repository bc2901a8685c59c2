"""Models accord builds (tiny offline ones) and loads (any hub id or folder).

>>> from accord.models import TINY_MODEL_ID, resolve_model_path
>>> TINY_MODEL_ID
'accord/tiny'
"""

from accord.models.loading import (
    TINY_MODEL_ID,
    TINY_REWARD_MODEL_ID,
    is_tiny_model_id,
    load_causal_lm,
    load_reward_model,
    load_tokenizer,
    resolve_model_path,
)
from accord.models.tiny import ensure_tiny_model

__all__ = [
    "TINY_MODEL_ID",
    "TINY_REWARD_MODEL_ID",
    "ensure_tiny_model",
    "is_tiny_model_id",
    "load_causal_lm",
    "load_reward_model",
    "load_tokenizer",
    "resolve_model_path",
]
