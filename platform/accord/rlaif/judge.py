"""judge: pairwise AI preference labels from a judge model's answer log-probs.

For each pair, every selected principle's comparison question is asked in both presentation
orders: ``ab`` shows the canonical ``response_a`` as (A), ``ba`` swaps them. The answer is
never read from free text: each request is a ``choices=["A", "B"]`` request and
P(A) = exp(lp_A) / (exp(lp_A) + exp(lp_B)). A judgment's ``prob_a`` is in canonical terms
(for ``ba``, 1 − P(shown A)). Per principle the two orders are averaged; the aggregate is the
mean over principles (``principle="*ensemble*"``, or the principle's id when only one is
used) and its meta records position consistency (same winner in both orders).

Each individual judgment's meta keeps ``p_shown_a`` (P(answer = the response shown as A),
normalised over the two options), ``choice_logprobs``, ``scored_text`` (the exact text the
choices were scored after: chat template rendered with the answer prefix; None when an
OpenAI-compatible server rendered it) and ``truncated_choice`` (a choice was cut off by
top-k and given the least likely listed log-prob as its bound). A request where neither
choice can be read fails with cause ``unparsable`` and writes no judgment.

Chain-of-thought mode first asks for a rationale, then scores the answer after it; as the
rationale makes the model over-confident its probabilities are clamped to ``cot_clamp``.

What is asked — prompt template file, answer prefix, orders (``both`` or ``one``), CoT,
constitution and principles — is one ``JudgeTask`` (``accord.rlaif.judge_task``), built by
``JudgeConfig.task()``; the AI-judged win-rate of training asks through the same object.

All requests of a pair (every principle × order) go to the backend in one call together with
the other pairs of the batch; a pair is written (individual judgments, aggregate and cache
entries) in one transaction.

>>> p_shown_a({"A": -0.1, "B": -2.4}) > 0.9
True
>>> canonical_prob(0.8, "ba")
0.19999999999999996
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator
from sqlmodel import Session, select

from ..backends.base import GenerationResult
from ..constitutions import Principle
from ..jobs.context import StepContext, StepOutput
from ..jobs.execute import WorkUnit, run_units
from ..jobs.registry import StepConfig
from ..store.crud.judgments import preferred_from_prob, upsert_judgment
from ..store.models import Pair, Prompt, Response
from .judge_task import OPTIONS, JudgeTask
from .templates import UnparsableOutput

ORDERS = ("ab", "ba")
ENSEMBLE = "*ensemble*"
# The bundled template's answer and rationale prefixes (``accord/rlaif/prompts/judge.yaml``).
ANSWER_PREFIX = "The answer is: ("
COT_PREFIX = "Let's think step by step:"


def _task_field(name: str, **extra: Any) -> Any:
    """A step field with the default and help text of ``JudgeTask``'s field ``name``."""
    f = next(f for f in fields(JudgeTask) if f.name == name)
    return Field(default=f.default, description=f.metadata["help"], **extra)


class JudgeConfig(StepConfig):
    """Pairwise AI judgments: both orders, ensemble over principles, soft probabilities.

    The fields shared with every AI judge are ``JudgeTask``'s (``task()`` builds it)."""

    model: str | dict = Field(default="judge", description="Judge model alias or inline ref.")
    constitution: str = _task_field("constitution")
    principles: list[str] | None = _task_field("principles")
    template: str = _task_field("template")
    answer_prefix: str | None = _task_field("answer_prefix")
    orders: Literal["both", "one"] = _task_field("orders")
    cot: bool = _task_field("cot")
    cot_clamp: tuple[float, float] = _task_field("cot_clamp")
    cot_max_tokens: int = _task_field("cot_max_tokens", ge=1, le=4096)
    tie_band: float = Field(default=0.0, ge=0.0, lt=0.5, description="|p-0.5| <= band is a tie.")
    batch_size: int = Field(default=4, ge=1, le=1024, description="Pairs per backend call.")
    seed: int | None = Field(default=None, description="Seed of rationale sampling.")
    temperature: float = Field(default=0.0, ge=0.0, le=5.0, description="Rationale temperature.")

    @model_validator(mode="after")
    def _task(self) -> JudgeConfig:
        self.task()  # JudgeTask's checks (cot_clamp band, ...) with its messages
        return self

    def task(self, base_dir: Path | None = None) -> JudgeTask:
        return JudgeTask(
            **{f.name: getattr(self, f.name) for f in fields(JudgeTask) if f.name != "base_dir"},
            base_dir=base_dir,
        )


# -- pure pieces ---------------------------------------------------------------------------


def judge_messages(
    *, prompt: str, principle: Principle, first: str, second: str, cot: bool
) -> list[dict[str, str]]:
    """The bundled template's messages (``JudgeTask(cot=cot).messages``)."""
    return JudgeTask(cot=cot).messages(
        prompt=prompt, question=principle.comparison_question, first=first, second=second
    )


def p_shown_a(choice_logprobs: dict[str, float] | None) -> float:
    """P(answer = shown A), normalized over the two options only."""
    if not choice_logprobs or any(o not in choice_logprobs for o in OPTIONS):
        raise UnparsableOutput(f"judge: no log-probs for both options, got {choice_logprobs!r}")
    la, lb = choice_logprobs["A"], choice_logprobs["B"]
    if not (math.isfinite(la) or math.isfinite(lb)):
        raise UnparsableOutput("judge: both options have zero probability")
    m = max(la, lb)
    ea, eb = math.exp(la - m), math.exp(lb - m)
    return ea / (ea + eb)


def canonical_prob(p_a_shown: float, order: str) -> float:
    return p_a_shown if order == "ab" else 1.0 - p_a_shown


def clamp(p: float, band: tuple[float, float]) -> float:
    return min(max(p, band[0]), band[1])


@dataclass
class _Slot:
    principle: Principle
    order: str


def aggregate(per_slot: list[tuple[_Slot, float]], *, tie_band: float) -> tuple[float, dict]:
    """Mean over orders per principle, then over principles; position consistency in meta."""
    by_principle: dict[str, dict[str, float]] = {}
    for slot, prob in per_slot:
        by_principle.setdefault(slot.principle.id, {})[slot.order] = prob
    per_principle, consistent = {}, {}
    for pid, orders in by_principle.items():
        per_principle[pid] = sum(orders.values()) / len(orders)
        winners = {preferred_from_prob(p, tie_band=tie_band) for p in orders.values()}
        consistent[pid] = len(winners) == 1
    prob_a = sum(per_principle.values()) / len(per_principle)
    meta = {
        "per_principle": per_principle,
        "position_consistent": all(consistent.values()),
        "position_consistency": sum(consistent.values()) / len(consistent),
        "consistent_by_principle": consistent,
        "orders": {pid: dict(o) for pid, o in by_principle.items()},
    }
    return prob_a, meta


# -- the step ------------------------------------------------------------------------------


def run_judge(ctx: StepContext, config: JudgeConfig) -> StepOutput:
    task = config.task(base_dir=ctx.base_dir).check()  # a bad template fails before any request
    constitution, constitution_id = ctx.constitution(config.constitution)
    principles = task.select_principles(constitution)
    backend = ctx.backend(config.model)
    seed = ctx.seed if config.seed is None else config.seed
    pair_ids = ctx.input_ids("pairs", config.input)
    with Session(ctx.engine) as session:
        pairs = {p.id: p for p in session.exec(select(Pair).where(Pair.id.in_(pair_ids))).all()}
        rids = {i for p in pairs.values() for i in (p.response_a_id, p.response_b_id)}
        texts = {
            r.id: r.text for r in session.exec(select(Response).where(Response.id.in_(rids))).all()
        }
        pids = {p.prompt_id for p in pairs.values()}
        prompts = {
            p.id: p.text for p in session.exec(select(Prompt).where(Prompt.id.in_(pids))).all()
        }

    def asked(pid: int) -> list[tuple[_Slot, list[dict[str, str]]]]:
        pair = pairs[pid]
        return [
            (_Slot(p, o), m)
            for p, o, m in task.pair_messages(
                prompt=prompts[pair.prompt_id],
                response_a=texts[pair.response_a_id],
                response_b=texts[pair.response_b_id],
                principles=principles,
            )
        ]

    questions = {pid: asked(pid) for pid in pair_ids}
    slots = [slot for slot, _ in questions[pair_ids[0]]] if pair_ids else []
    rationales: dict[int, list[str]] = {}
    if config.cot:
        units = [
            WorkUnit(
                [
                    task.rationale_request(m, temperature=config.temperature, seed=seed)
                    for _, m in questions[pid]
                ],
                pid,
            )
            for pid in pair_ids
        ]

        def parse_rationale(unit: WorkUnit, results: list[GenerationResult]) -> list[str]:
            return [(r.text or "").strip() for r in results]

        for unit, texts_ in run_units(
            ctx,
            step="judge-rationale",
            backend=backend,
            units=units,
            batch_size=config.batch_size,
            parse=parse_rationale,
            write=lambda s, u, parsed: parsed,
            description=f"{ctx.step_name}: rationales",
        ):
            rationales[unit.data] = texts_
        pair_ids = [pid for pid in pair_ids if pid in rationales]

    units = [
        WorkUnit(
            [
                task.answer_request(
                    m, seed=seed, rationale=rationales[pid][i] if config.cot else None
                )
                for i, (_, m) in enumerate(questions[pid])
            ],
            pid,
        )
        for pid in pair_ids
    ]

    def parse(
        unit: WorkUnit, results: list[GenerationResult]
    ) -> list[tuple[_Slot, float, float, GenerationResult]]:
        out = []
        for slot, result in zip(slots, results):
            shown_a = p_shown_a(result.choice_logprobs)
            prob = canonical_prob(shown_a, slot.order)
            if config.cot:
                prob = clamp(prob, task.cot_clamp)
            out.append((slot, shown_a, prob, result))
        return out

    judge_id = backend.model_id
    chash = constitution.content_hash
    common = dict(
        kind="ai",
        judge=judge_id,
        constitution_hash=chash,
        constitution_id=constitution_id,
        judge_backend=backend.name,
        source="judge",
        job_id=ctx.job_id,
    )

    def write(session: Session, unit: WorkUnit, parsed) -> list[int]:
        pair = session.get(Pair, unit.data)
        ids = []
        for i, (slot, shown_a, prob, result) in enumerate(parsed):
            rationale = rationales[unit.data][i] if config.cot else None
            j, _ = upsert_judgment(
                session,
                pair=pair,
                presentation_order=slot.order,
                principle=slot.principle.id,
                prob_a=prob,
                preferred=preferred_from_prob(prob, tie_band=config.tie_band),
                rationale=rationale,
                raw_output=f"{task.answer_text_prefix(rationale)}{result.text})",
                meta={
                    "choice_logprobs": result.choice_logprobs,
                    "p_shown_a": shown_a,
                    "scored_text": result.scored_text,
                    "truncated_choice": bool(result.truncated_choice),
                    "cot": config.cot,
                    "cache_key": unit.keys[i],
                    "sampling": unit.requests[i].sampling(),
                },
                **common,
            )
            ids.append(j.id)
        prob_a, meta = aggregate([(s, p) for s, _, p, _ in parsed], tie_band=config.tie_band)
        agg, _ = upsert_judgment(
            session,
            pair=pair,
            presentation_order="agg",
            principle=ENSEMBLE if len(principles) > 1 else principles[0].id,
            prob_a=prob_a,
            preferred=preferred_from_prob(prob_a, tie_band=config.tie_band),
            is_aggregate=True,
            meta={
                **meta,
                "principles": [p.id for p in principles],
                "cot": config.cot,
                "n_judgments": len(parsed),
            },
            **common,
        )
        return ids + [agg.id]

    done = run_units(
        ctx,
        step="judge",
        backend=backend,
        units=units,
        batch_size=config.batch_size,
        parse=parse,
        write=write,
        description=f"{ctx.step_name}: judge",
    )
    judged = [unit.data for unit, _ in done]
    return StepOutput(
        pairs=judged,
        judgments=[j for _, ids in done for j in ids],
        counts={"judged_pairs": len(judged)},
    )
