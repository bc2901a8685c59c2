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


def row_random(seed: int | None) -> random.Random:
    """The uniform draws of one request: seeded with ``seed`` (fresh entropy when None)."""
    return random.Random(seed)


def choose_tokens(logits, *, temperatures, top_ps, uniforms) -> list[int]:
    """The next token of every row of ``logits`` (rows × vocabulary), in one pass.

    A row whose temperature is 0 takes its argmax. Any other row samples from the nucleus of
    ``softmax(logits / temperature)`` (the smallest most-probable prefix whose mass reaches
    ``top_p``, at least one token) by inverting its cumulative distribution at the row's own
    uniform draw ``u`` in [0, 1): the token depends on the row's logits and ``u`` only, never
    on the other rows, and the whole batch costs a few tensor operations and one transfer.
    """
    import torch

    chosen = torch.argmax(logits, dim=-1)
    sampled = [i for i, t in enumerate(temperatures) if t > 0.0]
    if sampled:
        nucleus = [i for i in sampled if top_ps[i] < 1.0]
        whole = [i for i in sampled if top_ps[i] >= 1.0]
        for rows, cut in ((whole, False), (nucleus, True)):
            if rows:
                index = torch.tensor(rows, device=logits.device)
                chosen[index] = _inverse_cdf(
                    logits[index],
                    temperatures=[temperatures[i] for i in rows],
                    top_ps=[top_ps[i] for i in rows] if cut else None,
                    uniforms=[uniforms[i] for i in rows],
                )
    return chosen.tolist()


def _inverse_cdf(logits, *, temperatures, top_ps, uniforms):
    import torch

    device = logits.device
    scale = torch.tensor(temperatures, device=device, dtype=torch.float32)[:, None]
    probs = torch.softmax(logits.float() / scale, dim=-1)
    order = None
    if top_ps is not None:  # the nucleus needs the tokens in order of probability
        probs, order = torch.sort(probs, dim=-1, descending=True)
        mass_before = torch.cumsum(probs, dim=-1) - probs
        keep = mass_before < torch.tensor(top_ps, device=device, dtype=torch.float32)[:, None]
        keep[:, 0] = True
        probs = probs * keep
    # float64 so that the sum over a 150k-token vocabulary keeps every token's share.
    cumulative = torch.cumsum(probs.double(), dim=-1)
    draw = torch.tensor(uniforms, device=device, dtype=torch.float64)[:, None]
    position = torch.searchsorted(cumulative, draw * cumulative[:, -1:], right=True)
    position = position.clamp_(max=probs.shape[-1] - 1)
    return (order.gather(1, position) if order is not None else position).squeeze(1)


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
