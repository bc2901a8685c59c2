"""generate: N responses per prompt from a policy model, stored with full provenance.

Sample ``i`` of a prompt uses seed ``seed + i``, so a rerun asks the backend for the very same
requests and the cache answers them. With ``temperature: 0`` all samples of a prompt are the
same text and collapse into one response row (responses are keyed by content).

>>> task = GenerateTask(system_prompt="Be brief.")
>>> [m["role"] for m in task.format_input(text="Hi", messages=None)]
['system', 'user']
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator
from sqlmodel import Session, select

from ..backends.base import GenerationRequest, GenerationResult
from ..jobs.context import StepContext, StepOutput
from ..jobs.execute import WorkUnit, run_units
from ..jobs.registry import StepConfig
from ..store.crud.responses import upsert_response
from ..store.models import Prompt
from .templates import TextTask


class SamplingConfig(StepConfig):
    model: str | dict[str, Any] = Field(
        default="policy",
        description="Model alias from the "
        "recipe's `models`, or an inline {backend, model, options}.",
    )
    temperature: float = Field(default=0.7, ge=0.0, le=5.0, description="Sampling temperature.")
    top_p: float = Field(default=1.0, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    max_tokens: int = Field(default=128, ge=1, le=32768, description="Longest completion.")
    seed: int | None = Field(default=None, description="Base seed (default: the recipe's seed).")
    stop: list[str] = Field(default_factory=list, description="Stop strings.")
    batch_size: int = Field(default=16, ge=1, le=4096, description="Requests per backend call.")


class GenerateConfig(SamplingConfig):
    """Sample responses from a policy model for every input prompt."""

    n: int = Field(default=2, ge=1, le=64, description="Responses per prompt.")
    system_prompt: str | None = Field(default=None, description="Optional system message.")

    @field_validator("stop")
    @classmethod
    def _no_empty_stop(cls, v: list[str]) -> list[str]:
        if any(not s for s in v):
            raise ValueError("stop strings must not be empty")
        return v


class GenerateTask(TextTask):
    name = "generate"

    def __init__(self, system_prompt: str | None = None):
        self.system_prompt = system_prompt

    def format_input(
        self, *, text: str, messages: list[dict[str, Any]] | None
    ) -> list[dict[str, str]]:
        turns = [dict(m) for m in messages] if messages else [{"role": "user", "content": text}]
        if self.system_prompt and turns[0].get("role") != "system":
            turns.insert(0, {"role": "system", "content": self.system_prompt})
        return turns


def run_generate(ctx: StepContext, config: GenerateConfig) -> StepOutput:
    prompt_ids = ctx.input_ids("prompts", config.input)
    backend = ctx.backend(config.model)
    task = GenerateTask(config.system_prompt)
    seed = ctx.seed if config.seed is None else config.seed
    with Session(ctx.engine) as session:
        prompts = {
            p.id: p for p in session.exec(select(Prompt).where(Prompt.id.in_(prompt_ids))).all()
        }
    units = []
    for pid in prompt_ids:
        p = prompts[pid]
        messages = task.format_input(text=p.text, messages=p.messages)
        for i in range(config.n):
            req = GenerationRequest(
                messages=messages,
                max_tokens=config.max_tokens,
                temperature=config.temperature,
                top_p=config.top_p,
                seed=seed + i,
                stop=list(config.stop),
            )
            units.append(WorkUnit(requests=[req], data=(pid, i)))

    def parse(unit: WorkUnit, results: list[GenerationResult]):
        return results[0], task.format_output(results[0])

    def write(session: Session, unit: WorkUnit, parsed) -> int:
        result, out = parsed
        prompt = session.get(Prompt, unit.data[0])
        row = upsert_response(
            session,
            prompt=prompt,
            text=out.fields["text"],
            role="initial",
            model_id=backend.model_id,
            backend=backend.name,
            sampling_params=unit.requests[0].sampling(),
            usage=result.usage,
            job_id=ctx.job_id,
            raw_output=out.raw,
            finish_reason=result.finish_reason,
            cache_key=unit.keys[0],
            messages=unit.requests[0].messages,
        )
        return row.id

    done = run_units(
        ctx,
        step="generate",
        backend=backend,
        units=units,
        batch_size=config.batch_size,
        parse=parse,
        write=write,
        description=f"{ctx.step_name}: generate",
    )
    response_ids = list(dict.fromkeys(rid for _, rid in done))
    return StepOutput(prompts=prompt_ids, responses=response_ids, counts={"generated": len(done)})
