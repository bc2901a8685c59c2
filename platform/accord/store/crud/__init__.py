"""Keyword-only CRUD per concept: ``from accord.store.crud import judgments``."""

from . import (
    annotators,
    calibrations,
    constitutions,
    gold,
    jobs,
    judgments,
    pairs,
    prompts,
    responses,
    stats,
)

__all__ = [
    "annotators",
    "calibrations",
    "constitutions",
    "gold",
    "jobs",
    "judgments",
    "pairs",
    "prompts",
    "responses",
    "stats",
]
