"""Reading the log-prob of each allowed answer from a server's ``top_logprobs``.

An OpenAI-compatible server cannot score arbitrary continuations, so the ``openai`` backend
approximates each choice's log-prob by the first answer token: the log-probs of the listed
alternatives whose text starts the choice are summed (in probability space), and a choice no
listed token starts is given ``missing_logprob`` ("very unlikely"), never more than the
least likely listed token. When the server constrains the answer to the choices (vLLM's
structured outputs), the listed alternatives are exactly the allowed first tokens with their
probabilities renormalised over the choices, and the reading is exact for choices that differ
in their first token, as judge answers like "A" / "B" do.

>>> top = [("A", -0.4), (" B", -1.2), ("The", -2.5)]
>>> scores = choice_logprobs_from_top(["A", "B", "C"], top, missing_logprob=-30.0)
>>> round(scores["A"], 2), round(scores["B"], 2), scores["C"]
(-0.4, -1.2, -30.0)
"""

from __future__ import annotations

import math
from collections.abc import Iterable

# vLLM reports a token its constraint forbids with this log-prob (JSON has no -inf).
FORBIDDEN_LOGPROB = -9999.0


def _logsumexp(values: list[float]) -> float:
    peak = max(values)
    return peak + math.log(sum(math.exp(v - peak) for v in values))


def token_starts_choice(token: str, choice: str) -> bool:
    """Whether ``token`` is a non-empty beginning of ``choice`` (leading spaces ignored)."""
    token, choice = token.lstrip(), choice.lstrip()
    return bool(token) and choice.startswith(token)


def choice_logprobs_from_top(
    choices: list[str],
    top: Iterable[tuple[str, float]],
    *,
    missing_logprob: float = -30.0,
) -> dict[str, float]:
    """Log-prob of each choice from the first answer token's ``(token, logprob)`` alternatives."""
    listed = [(tok, lp) for tok, lp in top if lp > FORBIDDEN_LOGPROB and math.isfinite(lp)]
    floor = min([missing_logprob] + [lp for _, lp in listed])
    scores: dict[str, float] = {}
    for choice in choices:
        matching = [lp for tok, lp in listed if token_starts_choice(tok, choice)]
        scores[choice] = _logsumexp(matching) if matching else floor
    return scores
