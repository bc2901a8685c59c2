"""Pieces of decoding shared by the local backends: token choice, stop strings, log-prob records,
and batches that fail one row at a time.

Sampling draws one uniform per row and step from the row's own seeded generator, so a
request's output depends on its own seed and not on which other requests share its batch;
all rows of a step are chosen together.

>>> import torch
>>> logits = torch.tensor([[0.1, 3.0, 0.2], [5.0, 0.0, 0.0], [0.0, 0.0, 9.0]])
>>> choose_tokens(logits, temperatures=[0.0, 1.0, 1.0], top_ps=[1.0, 1.0, 0.5],
...               uniforms=[0.5, 0.001, 0.99])
[1, 0, 2]
>>> cut_at_stop("Hello. ### rest", ["###"])
('Hello. ', True)
"""

from __future__ import annotations

import random
from typing import Any

from accord.backends.base import GenerationResult, TokenLogprob

# Bumped whenever a seeded request's sampled tokens change for the same logits: results cached
# under an earlier sampler are then not served for it (accord.jobs.cache).
SAMPLER = "inverse-cdf-1"


def row_random(seed: int | None) -> random.Random:
    """The uniform draws of one request: seeded with ``seed`` (fresh entropy when None). Seeds
    are taken modulo 2**64, so negative seeds stay distinct from their absolute values."""
    return random.Random(seed % 2**64 if seed is not None else None)


def choose_tokens(logits, *, temperatures, top_ps, uniforms) -> list[int]:
    """The next token of every row of ``logits`` (rows × vocabulary), in one pass.

    A row whose temperature is 0 takes its argmax. Any other row samples from the nucleus of
    ``softmax(logits / temperature)`` (the smallest most-probable prefix whose mass reaches
    ``top_p``, at least one token) by inverting its cumulative distribution at the row's own
    uniform draw ``u`` in [0, 1): the token depends on the row's logits and ``u`` only, never
    on the other rows. A sampled row whose distribution is not finite (NaN or infinite logits,
    a temperature so small that the division overflows) gets -1. The batch costs a few tensor
    operations, one copy of the sampled rows' settings to the device and one read back.
    """
    import torch

    chosen = torch.argmax(logits, dim=-1)
    sampled = [i for i, t in enumerate(temperatures) if t > 0.0]
    if sampled:
        nucleus = [i for i in sampled if top_ps[i] < 1.0]
        whole = [i for i in sampled if not top_ps[i] < 1.0]
        for rows, cut in ((whole, False), (nucleus, True)):
            if rows:
                # index, temperature, top_p, u of each row: one copy to the device
                settings = torch.tensor(
                    [(i, temperatures[i], top_ps[i], uniforms[i]) for i in rows],
                    dtype=torch.float64,
                ).to(logits.device)
                index = settings[:, 0].long()
                chosen[index] = _inverse_cdf(logits[index], settings[:, 1:], cut=cut)
    return chosen.tolist()


def _inverse_cdf(logits, settings, *, cut: bool):
    """Tokens drawn for ``logits`` (rows × vocabulary) at ``settings`` = (temperature, top_p,
    u) per row; -1 for a row without a finite distribution."""
    import torch

    temperature, top_p, draw = settings[:, 0:1], settings[:, 1:2], settings[:, 2:3]
    probs = torch.softmax(logits.float() / temperature.float(), dim=-1)
    order = None
    if cut:  # the nucleus needs the tokens in order of probability
        probs, order = torch.sort(probs, dim=-1, descending=True)
        mass_before = torch.cumsum(probs, dim=-1) - probs
        keep = mass_before < top_p.float()
        keep[:, 0] = True
        probs = probs * keep
    # float64 so that the sum over a 150k-token vocabulary keeps every token's share.
    cumulative = torch.cumsum(probs.double(), dim=-1)
    total = cumulative[:, -1:]
    position = torch.searchsorted(cumulative, draw * total, right=True)
    position = position.clamp_(max=probs.shape[-1] - 1)
    token = order.gather(1, position) if order is not None else position
    broken = ~torch.isfinite(total) | (total <= 0)
    return torch.where(broken, torch.full_like(token, -1), token).squeeze(1)


def cut_at_stop(text: str, stops: list[str]) -> tuple[str, bool]:
    """Text up to the earliest stop string (excluded) and whether one was found."""
    positions = [text.find(s) for s in stops if s]
    positions = [p for p in positions if p >= 0]
    if not positions:
        return text, False
    return text[: min(positions)], True


def token_record(tokenizer, logprobs_row, token_id: int, top_k: int) -> TokenLogprob:
    """``TokenLogprob`` for ``token_id`` given a row of log-probs over the vocabulary."""
    import torch

    top: dict[str, float] = {}
    if top_k > 0:
        values, indices = torch.topk(logprobs_row, k=min(top_k, logprobs_row.shape[-1]))
        for value, index in zip(values.tolist(), indices.tolist()):
            top.setdefault(tokenizer.decode([index]), float(value))
    return TokenLogprob(
        token=tokenizer.decode([token_id]),
        logprob=float(logprobs_row[token_id].item()),
        top=top,
    )


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def run_isolated(run, items: list) -> list[tuple[Any, Any]]:
    """``(item, result)`` pairs of ``run(items)``; if the batch call fails, its items run one by
    one so a bad item fails alone, with the error on its own result."""
    if not items:
        return []
    try:
        return list(zip(items, run(items)))
    except Exception as err:  # noqa: BLE001 - recorded on the result, never swallowed
        if len(items) == 1:
            return [(items[0], GenerationResult(text="", error=f"backend: {err!r}"))]
        out = []
        for item in items:
            out.extend(run_isolated(run, [item]))
        return out
