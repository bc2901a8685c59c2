"""rank: AI rankings of K responses, by one of two methods (``method``).

``bradley-terry`` (the default) ranks from the judge's pairwise log-prob comparisons: the
``judge`` step compares pairs; ``rank`` reads the judge's aggregate judgment of every pair
of its input (``prob_a``: the judge's P(response_a better), from the answer log-probs of both
presentation orders and all principles), gathers the pairs by prompt, and fits Bradley–Terry
strengths to each prompt's responses by maximum likelihood (``accord.rlaif.bradley_terry``).
The strengths order the responses; the ranking is stored like a human one
(``accord.store.crud.rankings``: kind ``ai``, the judge's identity, constitution and
principle), with the strengths as ``scores`` and its (K choose 2) expanded judgments carrying
``prob_a = σ(θ_a − θ_b)``: the judge's comparisons made consistent with one order.

What is asked of the judge stays the judge step's (``JudgeTask``); a recipe ranks K sampled
responses with ``generate`` (n = K) → ``make_pairs`` → ``judge`` → ``rank``. A prompt whose
pairs do not connect all its responses, or where one response won every comparison outright
(no finite maximum: pass ``l2``), is skipped and counted.

``listwise`` asks the judge model itself: one prompt per principle and presentation order
shows a prompt's K responses labelled (A), (B), (C), … and the order is read from the
labels' log-probs position by position, in a forward and a reversed presentation
(``accord.rlaif.listwise``); Plackett–Luce strengths fitted to every reading order the
responses. Its input is responses (``generate`` with n = K → ``rank``), grouped by prompt;
the ranking is stored the same way (kind ``ai``, the judge's identity, ``scores``, expanded
judgments with ``prob_a = σ(θ_a − θ_b)``) with what was read in its meta. The method is part
of the ranking's natural key (``Ranking.method``): one judge's rankings of the same responses
by the two methods are two rankings, each with its own expanded judgments.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Literal

from pydantic import Field, model_validator
from sqlmodel import Session, select

from ..jobs.context import StepContext, StepOutput
from ..jobs.registry import StepConfig
from ..store.crud.rankings import upsert_ranking
from ..store.db import session_scope
from ..store.models import Judgment, Pair, Prompt, Response
from ..store.models.ranking import MAX_K
from .bradley_terry import fit_bradley_terry, ranks_from_strengths

# Fields that only the listwise method reads (it asks a model; Bradley–Terry reads judgments).
LISTWISE_FIELDS = (
    "model",
    "constitution",
    "principles",
    "template",
    "answer_prefix",
    "orders",
    "batch_size",
    "seed",
)


class RankConfig(StepConfig):
    """AI rankings of each prompt's responses: Bradley–Terry over the judge's pairwise
    comparisons, or one listwise prompt read label by label."""

    method: Literal["bradley-terry", "listwise"] = Field(
        default="bradley-terry",
        description="bradley-terry: from the judge step's pairwise comparisons; listwise: one "
        "prompt shows all K responses and the judge's order is read from label log-probs.",
    )
    judge: str | None = Field(
        default=None,
        description="bradley-terry: rank from this judge model id only (default: every AI "
        "judge found).",
    )
    model: str | dict | None = Field(
        default=None,
        description="listwise: judge model alias or inline ref (default: the alias judge).",
    )
    constitution: str = Field(
        default="harmlessness",
        description="listwise: constitution whose comparison questions the judge asks.",
    )
    principles: list[str] | None = Field(
        default=None,
        description="listwise: principle ids to ensemble over (default: all of the "
        "constitution's).",
    )
    template: str = Field(
        default="rank",
        description="listwise: prompt template, a bundled name (rank) or a YAML file.",
    )
    answer_prefix: str | None = Field(
        default=None,
        description="listwise: assistant text the first label is read after (default: the "
        "template's).",
    )
    orders: Literal["both", "one"] = Field(
        default="both",
        description="listwise: both (forward and reversed presentation) or one (forward).",
    )
    batch_size: int = Field(
        default=4, ge=1, le=1024, description="listwise: prompts per backend call."
    )
    seed: int | None = Field(default=None, description="listwise: seed of the requests.")
    l2: float = Field(
        default=0.0,
        ge=0.0,
        le=100.0,
        description="Gaussian prior on the strengths (0: plain maximum likelihood).",
    )
    min_k: int = Field(default=3, ge=2, le=MAX_K, description="Rank prompts with ≥ this many.")

    @model_validator(mode="after")
    def _method_fields(self) -> RankConfig:
        if self.method == "bradley-terry":
            wrong = [f for f in LISTWISE_FIELDS if f in self.model_fields_set]
            if wrong:
                raise ValueError(
                    f"{', '.join(wrong)}: only method listwise reads "
                    f"{'this field' if len(wrong) == 1 else 'these fields'} (Bradley–Terry "
                    "ranks from the judge step's judgments)"
                )
        else:
            if "judge" in self.model_fields_set:
                raise ValueError("judge: method listwise asks `model`; judge filters bradley-terry")
            self.task()  # the template's and orders' checks, with their messages
        return self

    def task(self, base_dir=None):
        from .listwise import ListwiseTask

        return ListwiseTask(
            constitution=self.constitution,
            principles=self.principles,
            template=self.template,
            answer_prefix=self.answer_prefix,
            orders=self.orders,
            base_dir=base_dir,
        )


def run_rank(ctx: StepContext, config: RankConfig) -> StepOutput:
    if config.method == "listwise":
        from .rank_listwise import run_listwise

        return run_listwise(ctx, config)
    pair_ids = ctx.input_ids("pairs", config.input)
    with Session(ctx.engine) as session:
        pairs = {}
        aggregates = []
        for start in range(0, len(pair_ids), 500):
            chunk = pair_ids[start : start + 500]
            pairs.update(
                {p.id: p for p in session.exec(select(Pair).where(Pair.id.in_(chunk))).all()}
            )
            q = select(Judgment).where(
                Judgment.pair_id.in_(chunk),
                Judgment.kind == "ai",
                Judgment.is_aggregate == True,  # noqa: E712
                Judgment.status == "submitted",
                Judgment.prob_a.is_not(None),
                Judgment.ranking_id.is_(None),
            )
            if config.judge is not None:
                q = q.where(Judgment.judge == config.judge)
            aggregates += session.exec(q).all()
    # (judge identity, prompt) -> [(response_a, response_b, prob_a, judgment)]
    groups: dict[tuple, list] = defaultdict(list)
    for j in aggregates:
        pair = pairs[j.pair_id]
        identity = (j.judge, j.principle, j.constitution_hash, j.constitution_id, j.judge_backend)
        groups[(identity, pair.prompt_id)].append((pair.response_a_id, pair.response_b_id, j))
    task = ctx.progress.add_step(f"{ctx.step_name}: rank", total=len(groups))
    ranked_pairs: list[int] = []
    judgments: list[int] = []
    n_rankings = skipped = 0
    for (identity, prompt_id), comps in sorted(groups.items(), key=lambda g: (g[0][1], g[0][0])):
        judge, principle, chash, constitution_id, backend = identity
        items = sorted({r for a, b, _ in comps for r in (a, b)})
        ctx.progress.advance(task)
        if not config.min_k <= len(items) <= MAX_K:
            skipped += 1
            continue
        index = {rid: n for n, rid in enumerate(items)}
        try:
            theta = fit_bradley_terry(
                len(items), [(index[a], index[b], j.prob_a) for a, b, j in comps], l2=config.l2
            )
        except ValueError:
            skipped += 1
            continue
        with session_scope(ctx.engine) as session:
            prompt = session.get(Prompt, prompt_id)
            responses = [session.get(Response, rid) for rid in items]
            ranking, _ = upsert_ranking(
                session,
                prompt=prompt,
                responses=responses,
                ranks=ranks_from_strengths(theta),
                scores=[float(t) for t in theta],
                kind="ai",
                judge=judge,
                principle=principle,
                constitution_hash=chash,
                constitution_id=constitution_id,
                judge_backend=backend,
                method="bradley-terry",
                source="rank",
                job_id=ctx.job_id,
                meta={
                    "method": "bradley-terry",
                    "l2": config.l2,
                    "from_judgments": sorted(j.id for _, _, j in comps),
                },
            )
            judgments += [
                j.id
                for j in session.exec(
                    select(Judgment).where(Judgment.ranking_id == ranking.id)
                ).all()
            ]
        ranked_pairs += sorted({j.pair_id for _, _, j in comps})
        n_rankings += 1
    return StepOutput(
        pairs=ranked_pairs,
        judgments=judgments,
        counts={"rankings": n_rankings, "skipped_prompts": skipped},
    )
