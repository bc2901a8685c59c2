"""Escalation requests and certificates (``POST /escalation``); nothing of its own is stored:
a certificate is recomputed from the store's labels, and pushed pairs are Argilla records."""

from __future__ import annotations

from typing import Any

from sqlmodel import Field, SQLModel


class EscalationRequest(SQLModel):
    """Certify a judge's confidence threshold against the human labels; optionally push the
    AI-only pairs below it to Argilla, most uncertain first."""

    judge: str = Field(min_length=1, max_length=300, description="Judge model id.")
    target: float = Field(
        gt=0, lt=1, description="Agreement with humans the kept AI labels must reach."
    )
    delta: float = Field(
        default=0.1, gt=0, lt=1, description="Allowed probability that the promise fails."
    )
    constitution: str | None = Field(
        default=None, max_length=200, description="Constitution name, name@version or hash."
    )
    principle: str = Field(
        default="", max_length=100, description="One principle's labels ('' = the aggregate label)."
    )
    calibration_id: int | None = Field(
        default=None, ge=1, description="Apply this stored calibration before thresholding."
    )
    push_dataset: str | None = Field(
        default=None,
        max_length=200,
        description="Push the pairs below the threshold to this Argilla dataset.",
    )
    workspace: str | None = Field(default=None, max_length=200, description="Argilla workspace.")
    limit: int | None = Field(
        default=None,
        ge=1,
        description="At most this many pairs listed and pushed (the most uncertain).",
    )


class EscalationPublic(SQLModel):
    """A judge's certificate (``accord.audit.escalation.EscalationCertificate``) and what it
    means for the store's AI-only pairs."""

    judge: str
    constitution_hash: str
    principle: str
    calibration_id: int | None
    human_label_hash: str
    target: float
    delta: float
    threshold: float | None = Field(
        description="Keep AI labels with confidence ≥ this; null: none certified."
    )
    certificate: dict[str, Any]
    n_ai_only: int
    kept: int
    escalated: int
    coverage: float = Field(description="Share of the AI-only pairs whose AI label is kept.")
    escalate_pair_ids: list[int] = Field(description="Most uncertain first.")
    escalate_confidence: list[float]
    pushed: dict[str, Any] | None = None
