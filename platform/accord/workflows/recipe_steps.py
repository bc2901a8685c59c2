"""Registers the workflow steps that span areas: ``summary``, ``loop``, ``argilla_push``,
``argilla_pull`` (imported by ``accord.jobs.registry``; ``audit``, ``snapshot``, ``export``,
``import_preferences`` and the ``train_*`` kinds register from their own areas).
"""

from __future__ import annotations

from ..jobs.registry import register_step, step_kinds
from .argilla_steps import ArgillaPullConfig, ArgillaPushConfig, run_argilla_pull, run_argilla_push
from .loop.config import LoopConfig
from .loop.step import run_loop
from .summary import SummaryConfig, run_summary_step

register_step("summary", SummaryConfig, run_summary_step)
register_step("loop", LoopConfig, run_loop)
# Argilla steps of the feedback package, if it ships its own, take precedence.
_known = step_kinds()
for _kind, _config, _run in (
    ("argilla_push", ArgillaPushConfig, run_argilla_push),
    ("argilla_pull", ArgillaPullConfig, run_argilla_pull),
):
    if _kind not in _known:
        register_step(_kind, _config, _run)
