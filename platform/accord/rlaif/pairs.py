"""make_pairs: pairs of responses to the same prompt, all of them or a seeded sample.

Pairs are canonical (x, y) ≡ (y, x) and keyed by content, so forming them again adds nothing.

>>> candidate_pairs([1, 2, 3], max_per_prompt=None, seed=0, prompt_hash="p")
[(1, 2), (1, 3), (2, 3)]
>>> len(candidate_pairs([1, 2, 3, 4], max_per_prompt=2, seed=0, prompt_hash="p"))
2
"""

from __future__ import annotations

import itertools
import random

from pydantic import Field
from sqlmodel import Session, select

from ..hashing import content_hash
from ..jobs.context import StepContext, StepOutput
from ..jobs.registry import StepConfig
from ..store.crud.pairs import upsert_pair
from ..store.db import session_scope
from ..store.models import Prompt, Response


class MakePairsConfig(StepConfig):
    """Pair responses that answer the same prompt."""

    max_per_prompt: int | None = Field(
        default=None,
        ge=1,
        description="Sample at most this many pairs per prompt (default: all pairs).",
    )
    roles: list[str] = Field(
        default_factory=lambda: ["initial"],
        description="Response roles to pair (initial, revision).",
    )
    seed: int | None = Field(default=None, description="Sampling seed (default: recipe seed).")


def candidate_pairs(
    response_ids: list[int], *, max_per_prompt: int | None, seed: int, prompt_hash: str
) -> list[tuple[int, int]]:
    pairs = list(itertools.combinations(sorted(response_ids), 2))
    if max_per_prompt is not None and len(pairs) > max_per_prompt:
        rng = random.Random(int(content_hash("pairs", seed, prompt_hash), 16))
        pairs = sorted(rng.sample(pairs, max_per_prompt))
    return pairs


def run_make_pairs(ctx: StepContext, config: MakePairsConfig) -> StepOutput:
    seed = ctx.seed if config.seed is None else config.seed
    ids = ctx.input_ids("responses", config.input)
    with Session(ctx.engine) as session:
        rows = session.exec(
            select(Response).where(Response.id.in_(ids), Response.role.in_(config.roles))
        ).all()
        by_prompt: dict[int, list[Response]] = {}
        for r in rows:
            by_prompt.setdefault(r.prompt_id, []).append(r)
        prompt_hashes = dict(
            session.exec(
                select(Prompt.id, Prompt.content_hash).where(Prompt.id.in_(list(by_prompt)))
            ).all()
        )
    task = ctx.progress.add_step(f"{ctx.step_name}: pairs", total=len(by_prompt))
    pair_ids: list[int] = []
    for prompt_id in sorted(by_prompt):
        responses = {r.id: r for r in by_prompt[prompt_id]}
        chosen = candidate_pairs(
            list(responses),
            max_per_prompt=config.max_per_prompt,
            seed=seed,
            prompt_hash=prompt_hashes[prompt_id],
        )
        with session_scope(ctx.engine) as session:  # one prompt's pairs at a time, all or nothing
            for x, y in chosen:
                pair = upsert_pair(
                    session,
                    response_x=responses[x],
                    response_y=responses[y],
                    source="make_pairs",
                    job_id=ctx.job_id,
                )
                pair_ids.append(pair.id)
        ctx.progress.advance(task)
    return StepOutput(pairs=pair_ids, counts={"pairs": len(pair_ids)})
