"""Forward passes of PPO: log-probs of sampled responses, per-token values, end scores.

Memory is the point of this module. A causal LM's logits are ``(batch, length, vocab)`` floats;
PPO needs one number per *response* token, so:

- the LM head runs on the response positions only (``logits_to_keep``), never on the prompt;
- log-probs are ``logit[token] − logsumexp(logits)``: no ``log_softmax`` copy of the logits is
  made, and in the gradient pass the only vocabulary-sized tensor autograd keeps is the logits
  themselves;
- gradient-free passes (rollout log-probs, reference, reward, old values) run in chunks of
  rows, so at most one chunk's logits exist at a time; the trainer runs them under
  ``torch.inference_mode()`` (``torch.no_grad()`` under ZeRO-3, whose parameter gathering
  must not create inference tensors).

``PolicyAndValue`` puts the trained policy and value model in one module, so data-parallel
wrappers (DDP, a DeepSpeed engine) see one forward and one backward per minibatch.

>>> import torch
>>> logits = torch.tensor([[[0.0, 1.0, 2.0]]])
>>> round(token_logprobs(logits, torch.tensor([[2]])).item(), 4)
-0.4076
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from .rollout import RolloutBatch


def position_ids_for(attention_mask: torch.Tensor) -> torch.Tensor:
    """Positions that skip left padding (generate does the same while sampling)."""
    return (attention_mask.cumsum(1) - attention_mask).clamp(min=0)


def response_logits(model, batch: RolloutBatch, temperature: float) -> torch.Tensor:
    """Logits predicting each response token, divided by the sampling temperature: (B, R, V).

    Only the ``R + 1`` last positions go through the LM head (responses sit at the end of
    left-padded prompts); the last one predicts past the response and is dropped.
    """
    mask = batch.attention_mask
    keep = batch.response_ids.size(1) + 1
    out = model(
        input_ids=batch.input_ids,
        attention_mask=mask,
        position_ids=position_ids_for(mask),
        use_cache=False,
        logits_to_keep=keep,
    )
    logits = out.logits[:, -keep:-1]
    return logits / temperature if temperature != 1.0 else logits


def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """``log softmax(logits)[token]`` per position in float32, without a log-softmax copy."""
    picked = logits.gather(-1, tokens.unsqueeze(-1)).squeeze(-1).float()
    return picked - torch.logsumexp(logits.float(), dim=-1)


def token_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Entropy per position (gradient-free callers only: it makes a probability copy)."""
    logits = logits.float()
    logp = logits - torch.logsumexp(logits, dim=-1, keepdim=True)
    return -(logp.exp() * logp).sum(-1)


def _backbone(model):
    return getattr(model, model.base_model_prefix)


def token_scalars(model, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The scalar head of a sequence-classification model at every position: (B, T)."""
    hidden = _backbone(model)(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=position_ids_for(attention_mask),
        use_cache=False,
    ).last_hidden_state
    return model.score(hidden).squeeze(-1).float()


def response_values(value_model, batch: RolloutBatch) -> torch.Tensor:
    """Value estimates at the positions that predict each response token: (B, R)."""
    q = batch.query_ids.size(1)
    return token_scalars(value_model, batch.input_ids, batch.attention_mask)[:, q - 1 : -1]


def chunks(batch: RolloutBatch, size: int) -> Iterator[RolloutBatch]:
    for start in range(0, batch.query_ids.size(0), size):
        yield batch.select(slice(start, start + size))


def rollout_logprobs(
    model, batch: RolloutBatch, temperature: float, *, chunk_size: int, with_entropy: bool = False
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Log-probs (and entropies) of the sampled responses, ``chunk_size`` rows at a time."""
    logps, entropies = [], []
    for part in chunks(batch, chunk_size):
        logits = response_logits(model, part, temperature)
        logps.append(token_logprobs(logits, part.response_ids))
        if with_entropy:
            entropies.append(token_entropy(logits))
        del logits
    return torch.cat(logps), (torch.cat(entropies) if with_entropy else None)


def rollout_scores(reader, tokenizer, prompts: list, batch: RolloutBatch) -> torch.Tensor:
    """Reward of each rollout: the decoded response after its prompt, read by ``reader`` (an
    ``accord.train.reward_read.RewardReader``) exactly as the reward model was trained and as
    RLOO/GRPO score completions (a response without EOS is scored as unfinished)."""
    from .rollout import decode_responses

    device = batch.response_ids.device
    finished = batch.contains_eos.tolist()
    return reader(prompts, decode_responses(tokenizer, batch), finished=finished).to(device)


class PolicyAndValue(torch.nn.Module):
    """The trained modules of PPO as one: ``forward`` returns (response log-probs, values).

    One module means one DDP wrapper or one DeepSpeed engine, one optimizer, one backward.
    ``with_entropy`` (gradient-free calls) also returns the policy's entropy per position, and
    ``with_logits`` its response logits after that (for the exact KL to the reference).
    """

    def __init__(self, policy, value):
        super().__init__()
        self.policy, self.value = policy, value

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        response_ids: torch.Tensor,
        query_length: int,
        temperature: float = 1.0,
        with_entropy: bool = False,
        with_logits: bool = False,
    ):
        position_ids = position_ids_for(attention_mask)
        # value first, policy second: backward runs in reverse, so the policy's gradients (and
        # the transient of its tied embedding's two gradient paths) come before the value
        # model's gradients exist, which lowers the peak by about one embedding matrix
        hidden = _backbone(self.value)(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            use_cache=False,
        ).last_hidden_state
        values = self.value.score(hidden[:, query_length - 1 : -1]).squeeze(-1).float()
        del hidden
        keep = response_ids.size(1) + 1
        logits = self.policy(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            use_cache=False,
            logits_to_keep=keep,
        ).logits[:, -keep:-1]
        if temperature != 1.0:
            logits = logits / temperature
        logprobs = token_logprobs(logits, response_ids)
        entropy = token_entropy(logits) if with_entropy else None
        if with_logits:
            return logprobs, values, entropy, logits
        del logits
        return (logprobs, values, entropy) if with_entropy else (logprobs, values)


def policy_and_value(
    trained,
    batch: RolloutBatch,
    temperature: float,
    *,
    with_entropy: bool = False,
    with_logits: bool = False,
):
    """Call the (possibly wrapped) ``PolicyAndValue`` on a rollout batch."""
    return trained(
        batch.input_ids,
        batch.attention_mask,
        batch.response_ids,
        batch.query_ids.size(1),
        temperature,
        with_entropy,
        with_logits,
    )


def rollout_policy_and_value(
    trained, batch: RolloutBatch, temperature: float, *, chunk_size: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Old log-probs, values and entropies of a rollout batch, ``chunk_size`` rows at a time."""
    parts = [
        policy_and_value(trained, part, temperature, with_entropy=True)
        for part in chunks(batch, chunk_size)
    ]
    return tuple(torch.cat(column) for column in zip(*parts))
