"""Reading a reward model: one function, the way the model was trained.

A sequence-classification reward model trained by trl's RewardTrainer saw ``prompt +
completion`` rendered by ``accord.train.chat.reward_token_ids`` (chat template for
conversations; text + EOS with the tokenizer's BOS otherwise), right-padded with the pad token,
and its scalar head was read where ``transformers`` pools: the last token that is not the pad
token. When pad == eos (Llama-3, Mistral and SmolLM2 fine-tunes) that is the token *before* the
closing EOS, not the EOS itself, so a read at the EOS position asks the head about a position it
never trained on. ``read_rewards`` reads at exactly the pooled position (``pooled_positions``),
for every consumer: RM held-out evaluation and scoring, PPO, RLOO/GRPO and the RM-judged
win-rate. Over-long sequences (``max_length``) are not cut (that would drop the EOS): their
reward is NaN, and callers drop them as trl drops over-long training pairs.

>>> import torch
>>> ids = torch.tensor([[5, 6, 2, 2], [5, 6, 7, 2]])      # pad id 2 (== eos)
>>> mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]])
>>> pooled_positions(ids, mask, pad_token_id=2).tolist()
[1, 2]
>>> pooled_positions(ids, mask, pad_token_id=None).tolist()
[2, 3]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from .chat import reward_token_ids


def reward_pad_token_id(model, tokenizer=None) -> int | None:
    """The pad id the head pools by: the model's config, else the tokenizer's (trl sets the
    config from the tokenizer before training)."""
    config = (
        model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    )
    pad = getattr(config, "pad_token_id", None)
    if pad is None and tokenizer is not None:
        pad = tokenizer.pad_token_id
    return pad


def pooled_positions(
    input_ids: torch.Tensor, attention_mask: torch.Tensor, pad_token_id: int | None
) -> torch.Tensor:
    """Per row, the position a sequence-classification head pools at: the last attended token
    whose id is not the pad id (the last attended token when there is no pad id, or when every
    attended token is one)."""
    attended = attention_mask.bool()
    positions = torch.arange(input_ids.size(1), device=input_ids.device).expand_as(input_ids)
    last_attended = torch.where(attended, positions, -1).max(1).values
    if pad_token_id is None:
        return last_attended.clamp(min=0)
    candidates = attended & (input_ids != pad_token_id)
    last_real = torch.where(candidates, positions, -1).max(1).values
    return torch.where(last_real >= 0, last_real, last_attended).clamp(min=0)


def _backbone(model):
    return getattr(model, model.base_model_prefix)


def _head(model):
    for name in ("score", "classifier"):
        head = getattr(model, name, None)
        if head is not None:
            return head
    raise ValueError(
        f"{type(model).__name__} has no scalar head (score/classifier): not a reward model"
    )


@torch.no_grad()
def read_reward_ids(
    model, sequences: Sequence[Sequence[int]], *, pad_token_id: int | None, batch_size: int = 16
) -> torch.Tensor:
    """Rewards of token sequences (already rendered as in RM training): right-padded batches,
    backbone once, the head at each row's pooled position. One float per sequence."""
    device = next(model.parameters()).device
    fill = 0 if pad_token_id is None else pad_token_id
    head = _head(model)
    out = []
    for start in range(0, len(sequences), batch_size):
        part = [list(s) for s in sequences[start : start + batch_size]]
        width = max(len(s) for s in part)
        ids = torch.full((len(part), width), fill, dtype=torch.long)
        mask = torch.zeros((len(part), width), dtype=torch.long)
        for i, s in enumerate(part):
            ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
            mask[i, : len(s)] = 1
        ids, mask = ids.to(device), mask.to(device)
        hidden = _backbone(model)(
            input_ids=ids, attention_mask=mask, use_cache=False
        ).last_hidden_state
        at = pooled_positions(ids, mask, pad_token_id)
        pooled = hidden[torch.arange(len(part), device=device), at]
        out.append(head(pooled).squeeze(-1).float().cpu())
    return torch.cat(out) if out else torch.zeros(0)


def read_rewards(
    model,
    tokenizer,
    prompts: Sequence[Any],
    completions: Sequence[Any],
    *,
    finished: Sequence[bool] | None = None,
    max_length: int | None = None,
    batch_size: int = 16,
) -> torch.Tensor:
    """Reward of each (prompt, completion): text or messages, rendered as in RM training.

    ``finished`` says which completions ended (with EOS) rather than hit the length limit
    (default: all); unfinished ones get no EOS / closed turn. Pairs longer than ``max_length``
    tokens get NaN (never truncated).
    """
    finished = [True] * len(prompts) if finished is None else list(finished)
    sequences = [
        reward_token_ids(tokenizer, p, c, finished=bool(f))
        for p, c, f in zip(prompts, completions, finished, strict=True)
    ]
    keep = [i for i, s in enumerate(sequences) if max_length is None or len(s) <= max_length]
    rewards = torch.full((len(sequences),), math.nan)
    if keep:
        read = read_reward_ids(
            model,
            [sequences[i] for i in keep],
            pad_token_id=reward_pad_token_id(model, tokenizer),
            batch_size=batch_size,
        )
        rewards[torch.tensor(keep, dtype=torch.long)] = read
    return rewards


class RewardReader:
    """A frozen reward model with its own tokenizer: ``reader(prompts, completions)`` → rewards.

    PPO scores its rollouts with it, and RLOO/GRPO get it as trl's reward function
    (``as_reward_function``), so both score the same rows identically.
    """

    def __init__(self, model, tokenizer, *, batch_size: int = 16, max_length: int | None = None):
        self.model, self.tokenizer = model, tokenizer
        self.batch_size, self.max_length = batch_size, max_length

    def __call__(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        *,
        finished: Sequence[bool] | None = None,
    ) -> torch.Tensor:
        return read_rewards(
            self.model,
            self.tokenizer,
            prompts,
            completions,
            finished=finished,
            max_length=self.max_length,
            batch_size=self.batch_size,
        )

    def as_reward_function(self, eos_token_ids: int | Sequence[int] | None = None):
        """The reader as a trl reward function (``prompts``, ``completions`` → list of floats).

        A completion is finished when its ``completion_ids`` (from trl) hold one of the policy's
        ``eos_token_ids``, as a PPO rollout is when it contains EOS.
        """
        eos = {eos_token_ids} if isinstance(eos_token_ids, int) else set(eos_token_ids or ())

        def reward_model(prompts, completions, completion_ids=None, **_: Any) -> list[float]:
            finished = None
            if eos and completion_ids is not None:
                finished = [any(t in eos for t in ids) for ids in completion_ids]
            return self(prompts, completions, finished=finished).tolist()

        return reward_model
