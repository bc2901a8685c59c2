"""West-of-N (Pace et al., 2024): of a prompt's N samples, the pair (best, worst) by the judge.

A pairwise judge ranks the samples by each one's mean probability of winning over the pairs it
is in (all pairs of the N are judged); the kept pair is the one joining the top and the bottom
sample. Ties in score go to the lower response id, so the choice is deterministic.

>>> judged = [(10, 1, 1, 2, 0.9), (11, 1, 1, 3, 0.8), (12, 1, 2, 3, 0.3)]
>>> best_vs_worst(judged)
[10]
"""

from __future__ import annotations

from collections import defaultdict


def response_scores(judged: list[tuple[int, int, int, int, float]]) -> dict[int, dict[int, float]]:
    """prompt id → response id → mean P(win) over its judged pairs, from
    (pair id, prompt id, response a, response b, P(a preferred)) rows."""
    wins: dict[int, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for _, prompt, a, b, prob_a in judged:
        wins[prompt][a].append(prob_a)
        wins[prompt][b].append(1.0 - prob_a)
    return {p: {r: sum(v) / len(v) for r, v in rs.items()} for p, rs in wins.items()}


def best_vs_worst(judged: list[tuple[int, int, int, int, float]]) -> list[int]:
    """The id of each prompt's (best, worst) pair, in prompt order (prompts whose best and
    worst were not judged against each other keep no pair)."""
    by_members = {(prompt, min(a, b), max(a, b)): pid for pid, prompt, a, b, _ in judged}
    kept = []
    for prompt, scores in sorted(response_scores(judged).items()):
        order = sorted(scores, key=lambda r: (-scores[r], r))
        best, worst = order[0], order[-1]
        pid = by_members.get((prompt, min(best, worst), max(best, worst)))
        if best != worst and pid is not None:
            kept.append(pid)
    return kept
