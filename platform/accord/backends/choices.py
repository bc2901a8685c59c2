"""Reading the log-prob of each allowed answer from a server's ``top_logprobs``.

When the ``openai`` backend cannot score choices in context (no local tokenizer to render the
template with), it reads each choice's log-prob from the first answer token's listed
alternatives: the log-probs of the listed tokens whose text starts the choice are summed (in
probability space). A choice no listed token starts is cut off by top-k: it gets the least
likely listed log-prob, an upper bound on its own, and is reported as truncated. When no
listed token starts any choice (the model began its answer some other way) nothing can be
read, and ``UnreadableChoices`` is raised: a judgment is never made up from two floors.

When the server constrains the answer to the choices (vLLM's structured outputs), the listed
alternatives are exactly the allowed first tokens with their probabilities renormalised over
the choices, and the reading is exact for choices that differ in their first token.

>>> top = [("A", -0.4), (" B", -1.2), ("The", -2.5)]
>>> reading = choice_logprobs_from_top(["A", "B", "C"], top)
>>> round(reading.scores["A"], 2), round(reading.scores["B"], 2), reading.scores["C"]
(-0.4, -1.2, -2.5)
>>> reading.truncated
['C']
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

# vLLM reports a token its constraint forbids with this log-prob (JSON has no -inf).
FORBIDDEN_LOGPROB = -9999.0


class UnreadableChoices(ValueError):
    """No listed alternative starts any of the choices."""


@dataclass
class ChoiceReading:
    """Log-prob per choice; ``truncated`` lists the choices given the top-k bound."""

    scores: dict[str, float]
    truncated: list[str] = field(default_factory=list)


def _logsumexp(values: list[float]) -> float:
    peak = max(values)
    return peak + math.log(sum(math.exp(v - peak) for v in values))


def token_starts_choice(token: str, choice: str) -> bool:
    """Whether ``token`` is a non-empty beginning of ``choice`` (leading spaces ignored)."""
    token, choice = token.lstrip(), choice.lstrip()
    return bool(token) and choice.startswith(token)


def choice_logprobs_from_top(choices: list[str], top: Iterable[tuple[str, float]]) -> ChoiceReading:
    """Log-prob of each choice from the first answer token's ``(token, logprob)`` alternatives."""
    listed = [(tok, lp) for tok, lp in top if lp > FORBIDDEN_LOGPROB and math.isfinite(lp)]
    scores: dict[str, float] = {}
    truncated: list[str] = []
    for choice in choices:
        matching = [lp for tok, lp in listed if token_starts_choice(tok, choice)]
        if matching:
            scores[choice] = _logsumexp(matching)
        else:
            truncated.append(choice)
    if not scores:
        shown = ", ".join(f"{tok!r}" for tok, _ in listed[:10]) or "none"
        raise UnreadableChoices(
            f"no listed answer token starts any of {list(choices)!r} (listed: {shown})"
        )
    bound = min(lp for _, lp in listed)
    for choice in truncated:
        scores[choice] = bound
    return ChoiceReading(scores={c: scores[c] for c in choices}, truncated=truncated)
