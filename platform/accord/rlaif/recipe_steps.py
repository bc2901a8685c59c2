"""Registers accord's RLAIF steps as recipe step kinds (imported by ``accord.jobs.registry``)."""

from __future__ import annotations

from ..jobs.registry import register_step
from .critique_revise import CritiqueReviseConfig, run_critique_revise
from .generate import GenerateConfig, run_generate
from .judge import JudgeConfig, run_judge
from .pairs import MakePairsConfig, run_make_pairs
from .prompt_sources import ImportPromptsConfig, run_import_prompts
from .rank import RankConfig, run_rank

register_step("import_prompts", ImportPromptsConfig, run_import_prompts)
register_step("generate", GenerateConfig, run_generate)
register_step("critique_revise", CritiqueReviseConfig, run_critique_revise)
register_step("make_pairs", MakePairsConfig, run_make_pairs)
register_step("judge", JudgeConfig, run_judge)
register_step("rank", RankConfig, run_rank)
