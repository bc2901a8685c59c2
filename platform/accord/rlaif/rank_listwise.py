"""The ``rank`` step's listwise method: ask the judge for an order of each prompt's K
responses, read label by label (``accord.rlaif.listwise``), fit Plackett–Luce strengths to
every reading (``accord.rlaif.plackett_luce``) and store the ranking with its (K choose 2)
expanded judgments (``accord.store.crud.rankings``).

Stage n of every question depends on the label read at stage n − 1, so the step runs K − 1
rounds; each round sends, per prompt, one request per (principle × presentation) in one work
unit through the jobs' cache (``accord.jobs.execute``): a rerun, or a run killed between
rounds, re-asks nothing it has the answer to. A prompt whose reading fails (a label with no
log-prob) is recorded as an error and not ranked; one with fewer than ``min_k`` or more than
``MAX_K`` responses is skipped and counted.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from sqlmodel import Session, select

from ..backends.base import GenerationResult
from ..jobs.context import StepContext, StepOutput
from ..jobs.execute import WorkUnit, run_units
from ..store.crud.rankings import upsert_ranking
from ..store.db import session_scope
from ..store.models import Judgment, Prompt, Response
from ..store.models.ranking import MAX_K
from .bradley_terry import ranks_from_strengths
from .judge import ENSEMBLE
from .listwise import Presentation, presentations_of, read_stage, summary
from .plackett_luce import fit_plackett_luce

if TYPE_CHECKING:
    from .rank import RankConfig


def _groups(ctx: StepContext, response_ids: list[int]) -> dict[int, list[Response]]:
    """The input responses by prompt, each group in canonical order (by content hash)."""
    groups: dict[int, list[Response]] = defaultdict(list)
    with Session(ctx.engine) as session:
        for start in range(0, len(response_ids), 500):
            chunk = response_ids[start : start + 500]
            for r in session.exec(select(Response).where(Response.id.in_(chunk))).all():
                groups[r.prompt_id].append(r)
    return {pid: sorted(rs, key=lambda r: r.content_hash) for pid, rs in sorted(groups.items())}


def run_listwise(ctx: StepContext, config: RankConfig) -> StepOutput:
    task = config.task(base_dir=ctx.base_dir).check()  # a bad template fails before any request
    constitution, constitution_id = ctx.constitution(config.constitution)
    principles = task.select_principles(constitution)
    backend = ctx.backend(config.model or "judge")
    seed = ctx.seed if config.seed is None else config.seed
    groups = _groups(ctx, ctx.input_ids("responses", config.input))
    ranked = {pid: rs for pid, rs in groups.items() if config.min_k <= len(rs) <= MAX_K}
    with Session(ctx.engine) as session:
        prompts = {
            p.id: p.text
            for p in session.exec(select(Prompt).where(Prompt.id.in_(list(ranked)))).all()
        }
    asked: dict[int, list[Presentation]] = {
        pid: presentations_of(
            task, prompt=prompts[pid], texts=[r.text for r in rs], principles=principles
        )
        for pid, rs in ranked.items()
    }

    def parse(unit: WorkUnit, results: list[GenerationResult]) -> list[tuple]:
        return [
            (read_stage(result, request.choices), result)
            for result, request in zip(results, unit.requests)
        ]

    active = list(asked)
    for stage in range(max((len(rs) for rs in ranked.values()), default=1) - 1):
        todo = [pid for pid in active if not asked[pid][0].done]
        if not todo:
            break
        units = [
            WorkUnit([p.next_request(task, seed=seed) for p in asked[pid]], pid) for pid in todo
        ]
        done = run_units(
            ctx,
            step="rank-listwise",
            backend=backend,
            units=units,
            batch_size=config.batch_size,
            parse=parse,
            write=lambda session, unit, parsed: parsed,
            description=f"{ctx.step_name}: rank, label {stage + 1}",
        )
        for unit, parsed in done:
            for presentation, (reading, result), key in zip(asked[unit.data], parsed, unit.keys):
                presentation.add(reading, result, key)
        answered = {unit.data for unit, _ in done}
        active = [pid for pid in active if pid in answered or asked[pid][0].done]

    identity = dict(
        kind="ai",
        judge=backend.model_id,
        principle=ENSEMBLE if len(principles) > 1 else principles[0].id,
        constitution_hash=constitution.content_hash,
        constitution_id=constitution_id,
        judge_backend=backend.name,
        method="listwise",
        source="rank",
        job_id=ctx.job_id,
    )
    pairs: list[int] = []
    judgments: list[int] = []
    task_progress = ctx.progress.add_step(f"{ctx.step_name}: store", total=len(active))
    for pid in active:
        responses, presentations = ranked[pid], asked[pid]
        theta = fit_plackett_luce(
            len(responses), [s for p in presentations for s in p.pl_stages()], l2=config.l2
        )
        with session_scope(ctx.engine) as session:
            ranking, _ = upsert_ranking(
                session,
                prompt=session.get(Prompt, pid),
                responses=[session.get(Response, r.id) for r in responses],
                ranks=ranks_from_strengths(theta),
                scores=[float(t) for t in theta],
                shown_order=(
                    [session.get(Response, responses[i].id) for i in presentations[0].shown]
                    if config.orders == "one"
                    else None
                ),
                meta={
                    "method": "listwise",
                    "l2": config.l2,
                    "principles": [p.id for p in principles],
                    "orders": list(task.presentations),
                    **summary(presentations),
                    "presentations": [p.record(task) for p in presentations],
                },
                **identity,
            )
            expanded = session.exec(select(Judgment).where(Judgment.ranking_id == ranking.id))
            for j in expanded.all():
                judgments.append(j.id)
                pairs.append(j.pair_id)
        ctx.progress.advance(task_progress)
    return StepOutput(
        responses=[r.id for pid in active for r in ranked[pid]],
        pairs=sorted(set(pairs)),
        judgments=judgments,
        counts={
            "rankings": len(active),
            "skipped_prompts": len(groups) - len(ranked),
            "unread_prompts": len(asked) - len(active),
        },
    )
