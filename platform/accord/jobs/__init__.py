"""Jobs: declarative recipes, a content-addressed cache and a resumable runner.

>>> from accord.jobs import run_recipe, register_step, load_recipe   # doctest: +SKIP
"""

from .recipe import Recipe, load_recipe, parse_recipe
from .registry import StepConfig, register_step, step_kinds
from .runner import JobResult, run_recipe

__all__ = [
    "JobResult",
    "Recipe",
    "StepConfig",
    "load_recipe",
    "parse_recipe",
    "register_step",
    "run_recipe",
    "step_kinds",
]
