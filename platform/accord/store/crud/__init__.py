"""Keyword-only CRUD per concept: ``from accord.store.crud import judgments``."""

from . import annotators, constitutions, jobs, judgments, pairs, prompts, responses, stats

__all__ = ["annotators", "constitutions", "jobs", "judgments", "pairs", "prompts", "responses", "stats"]
