"""Pieces of decoding shared by the local backends: token choice, stop strings, log-prob records,
and batches that fail one row at a time.

Sampling is per row with the row's own seeded ``torch.Generator``, so a request's output
depends on its own seed and not on which other requests share its batch.

>>> import torch
>>> g = torch.Generator().manual_seed(0)
>>> pick_token(torch.tensor([0.1, 3.0, 0.2]), temperature=0.0, top_p=1.0, generator=g)
1
>>> cut_at_stop("Hello. ### rest", ["###"])
('Hello. ', True)
"""

from __future__ import annotations

import os
from typing import Any

from accord.backends.base import GenerationResult, TokenLogprob


def new_generator(seed: int | None, device: Any):
    """A generator seeded with ``seed`` (fresh entropy when ``seed`` is None)."""
    import torch

    generator = torch.Generator(device=device)
    generator.manual_seed(
        seed if seed is not None else int.from_bytes(os.urandom(8), "little") >> 1
    )
    return generator


def pick_token(logits, *, temperature: float, top_p: float, generator) -> int:
    """Greedy when ``temperature`` is 0, else nucleus sampling from ``logits / temperature``."""
    import torch

    if temperature <= 0.0:
        return int(torch.argmax(logits).item())
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    if top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        cumulative = torch.cumsum(sorted_probs, dim=-1)
        # Keep the smallest prefix whose mass reaches top_p (always at least one token).
        keep = (cumulative - sorted_probs) < top_p
        keep[0] = True
        filtered = torch.zeros_like(probs)
        filtered[order[keep]] = sorted_probs[keep]
        probs = filtered / filtered.sum()
    return int(torch.multinomial(probs, 1, generator=generator).item())


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
