"""critique_revise: the supervised phase of Constitutional AI.

For each response and each of K rounds, a principle is drawn with an RNG seeded by (recipe
seed, response, round) — the same draw on every rerun, whatever the batch order — then the
model critiques the current text by that principle and revises it. Critique and revision are
stored as responses (roles ``critique`` / ``revision``) chained to their parent, with the
constitution version, principle and round. With ``make_pairs`` each final revision is paired
with the original and an AI judgment ``revision ≻ original`` (judge ``critique-revise``) is
recorded.

>>> from accord.constitutions import load_constitution
>>> c = load_constitution("tiny-test")
>>> msgs = critique_messages(c, c.principles[0], prompt="Hi", response="Hello", few_shot=False)
>>> [m["role"] for m in msgs]
['user', 'assistant', 'user']
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field
from sqlmodel import Session, select

from ..backends.base import GenerationRequest, GenerationResult
from ..constitutions import Constitution, Principle
from ..hashing import content_hash
from ..jobs.context import StepContext, StepOutput
from ..jobs.execute import WorkUnit, run_units
from ..store.crud.judgments import upsert_judgment
from ..store.crud.pairs import side_of, upsert_pair
from ..store.crud.responses import upsert_response
from ..store.models import Prompt, Response
from .critique_task import CritiqueReviseTask
from .generate import SamplingConfig
from .templates import TextTask

CRITIQUE_JUDGE = "critique-revise"


class CritiqueReviseConfig(SamplingConfig):
    """Critique each response by a sampled principle, then revise it, for K rounds."""

    constitution: str = Field(default="harmlessness", description="Bundled name or YAML path.")
    principles: list[str] | None = Field(
        default=None,
        description="Principle ids to sample from (default: all of the constitution's).",
    )
    rounds: int = Field(default=1, ge=1, le=8, description="Critique → revision rounds (K).")
    few_shot: bool = Field(default=True, description="Show the constitution's examples first.")
    template: str = Field(
        default="critique",
        description="Critique/revision prompt template: a "
        "bundled name (critique) or a YAML file (see `accord critique preview`).",
    )
    make_pairs: bool = Field(
        default=False,
        description="Pair final revision with original and "
        "record an AI judgment revision ≻ original.",
    )

    def task(self, base_dir: Path | None = None) -> CritiqueReviseTask:
        return CritiqueReviseTask(
            constitution=self.constitution,
            principles=self.principles,
            template=self.template,
            few_shot=self.few_shot,
            base_dir=base_dir,
        )


class CritiqueTask(TextTask):
    name = "critique"


class RevisionTask(TextTask):
    name = "revision"


def critique_messages(
    constitution: Constitution,
    principle: Principle,
    *,
    prompt: str,
    response: str,
    few_shot: bool = True,
) -> list[dict[str, str]]:
    """The bundled template's critique request (``CritiqueReviseTask.critique_messages``)."""
    return CritiqueReviseTask(few_shot=few_shot).critique_messages(
        constitution, principle, prompt=prompt, response=response
    )


def revision_messages(
    critique_msgs: list[dict[str, str]], principle: Principle, critique: str
) -> list[dict[str, str]]:
    return CritiqueReviseTask().revision_messages(critique_msgs, principle, critique)


def sample_principle(
    principles: list[Principle], *, seed: int, response_hash: str, round_index: int
) -> Principle:
    """The same principle for the same (seed, response, round), in any process."""
    rng = random.Random(int(content_hash("principle", seed, response_hash, round_index), 16))
    return rng.choice(principles)


@dataclass
class _Chain:
    original: Response
    prompt: Prompt
    current: Response
    principles_used: list[str]


def run_critique_revise(ctx: StepContext, config: CritiqueReviseConfig) -> StepOutput:
    prompts_task = config.task(base_dir=ctx.base_dir).check()  # a bad template fails first
    constitution, constitution_id = ctx.constitution(config.constitution)
    pool = prompts_task.select_principles(constitution)
    backend = ctx.backend(config.model)
    seed = ctx.seed if config.seed is None else config.seed
    critique_task, revision_task = CritiqueTask(), RevisionTask()
    with Session(ctx.engine) as session:
        ids = ctx.input_ids("responses", config.input)
        responses = {
            r.id: r for r in session.exec(select(Response).where(Response.id.in_(ids))).all()
        }
        pids = {r.prompt_id for r in responses.values()}
        prompts = {p.id: p for p in session.exec(select(Prompt).where(Prompt.id.in_(pids))).all()}
    chains = [_Chain(responses[i], prompts[responses[i].prompt_id], responses[i], []) for i in ids]
    pair_ids: list[int] = []

    def sampling(round_index: int) -> dict:
        return dict(
            max_tokens=config.max_tokens,
            temperature=config.temperature,
            top_p=config.top_p,
            seed=seed + round_index,
            stop=list(config.stop),
        )

    def store_output(
        session: Session,
        unit: WorkUnit,
        parsed,
        *,
        chain: _Chain,
        principle,
        role: str,
        parent: Response,
        round_index: int,
    ) -> Response:
        """A critique or revision with its lineage: parent, principle, round, model, request."""
        result, out = parsed
        return upsert_response(
            session,
            prompt=chain.prompt,
            text=out.fields["text"],
            role=role,
            parent=parent,
            model_id=backend.model_id,
            backend=backend.name,
            sampling_params=unit.requests[0].sampling(),
            usage=result.usage,
            constitution_id=constitution_id,
            principle=principle.id,
            round=round_index,
            job_id=ctx.job_id,
            raw_output=out.raw,
            finish_reason=result.finish_reason,
            cache_key=unit.keys[0],
            messages=unit.requests[0].messages,
        )

    for r in range(1, config.rounds + 1):
        units = []
        for chain in chains:
            principle = sample_principle(
                pool, seed=seed, response_hash=chain.original.content_hash, round_index=r
            )
            msgs = prompts_task.critique_messages(
                constitution, principle, prompt=chain.prompt.text, response=chain.current.text
            )
            units.append(
                WorkUnit([GenerationRequest(messages=msgs, **sampling(r))], (chain, principle))
            )

        def write_critique(session: Session, unit: WorkUnit, parsed, r=r) -> Response:
            chain, principle = unit.data
            return store_output(
                session,
                unit,
                parsed,
                chain=chain,
                principle=principle,
                role="critique",
                parent=chain.current,
                round_index=r,
            )

        def parse_with(task: TextTask):
            def parse(unit: WorkUnit, results: list[GenerationResult]):
                return results[0], task.format_output(results[0])

            return parse

        critiques = run_units(
            ctx,
            step="critique",
            backend=backend,
            units=units,
            batch_size=config.batch_size,
            parse=parse_with(critique_task),
            write=write_critique,
            description=f"{ctx.step_name}: critique r{r}",
        )
        units = []
        for unit, critique_row in critiques:
            chain, principle = unit.data
            msgs = prompts_task.revision_messages(
                unit.requests[0].messages, principle, critique_row.text
            )
            units.append(
                WorkUnit(
                    [GenerationRequest(messages=msgs, **sampling(r))],
                    (chain, principle, critique_row),
                )
            )

        def write_revision(session: Session, unit: WorkUnit, parsed, r=r) -> Response:
            chain, principle, critique_row = unit.data
            revision = store_output(
                session,
                unit,
                parsed,
                chain=chain,
                principle=principle,
                role="revision",
                parent=critique_row,
                round_index=r,
            )
            if r == config.rounds and config.make_pairs:
                pair_id = _pair_revision_over_original(
                    session,
                    chain,
                    revision,
                    principle_ids=chain.principles_used + [principle.id],
                    constitution=constitution,
                    constitution_id=constitution_id,
                    judge_backend=backend.name,
                    job_id=ctx.job_id,
                )
                if pair_id is not None:
                    pair_ids.append(pair_id)
            return revision

        revisions = run_units(
            ctx,
            step="revision",
            backend=backend,
            units=units,
            batch_size=config.batch_size,
            parse=parse_with(revision_task),
            write=write_revision,
            description=f"{ctx.step_name}: revision r{r}",
        )
        chains = []
        for unit, revision in revisions:
            chain, principle, _ = unit.data
            chain.current = revision
            chain.principles_used.append(principle.id)
            chains.append(chain)
    return StepOutput(
        responses=[c.current.id for c in chains],
        pairs=list(dict.fromkeys(pair_ids)),
        counts={"revised": len(chains)},
    )


def _pair_revision_over_original(
    session: Session,
    chain: _Chain,
    revision: Response,
    *,
    principle_ids: list[str],
    constitution: Constitution,
    constitution_id: int,
    judge_backend: str,
    job_id: int,
) -> int | None:
    if revision.text.strip() == chain.original.text.strip():
        return None  # nothing changed: no preference to record
    pair = upsert_pair(
        session,
        response_x=chain.original,
        response_y=revision,
        source=CRITIQUE_JUDGE,
        job_id=job_id,
    )
    winner = side_of(pair, revision.id)
    principle = principle_ids[0] if len(set(principle_ids)) == 1 else "*critique-revise*"
    upsert_judgment(
        session,
        pair=pair,
        kind="ai",
        judge=CRITIQUE_JUDGE,
        preferred=winner,
        prob_a=1.0 if winner == "a" else 0.0,
        principle=principle,
        constitution_hash=constitution.content_hash,
        constitution_id=constitution_id,
        judge_backend=judge_backend,
        source=CRITIQUE_JUDGE,
        job_id=job_id,
        meta={
            "rounds": len(principle_ids),
            "principles": principle_ids,
            "revision_id": revision.id,
            "original_id": chain.original.id,
        },
    )
    return pair.id
