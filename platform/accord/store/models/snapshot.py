"""Snapshots: immutable, content-hashed resolutions of pairs into preference examples."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from ...names import name_field
from ._base import json_field, utcnow


class SnapshotBase(SQLModel):
    name: str = Field(max_length=200, unique=True, index=True)
    policy: str = Field(max_length=50)
    content_hash: str = Field(max_length=64, index=True)
    n_train: int = 0
    n_test: int = 0


class Snapshot(SnapshotBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    params: dict[str, Any] = json_field()
    manifest: dict[str, Any] = json_field()
    created_at: datetime = Field(default_factory=utcnow)


class SnapshotPublic(SnapshotBase):
    id: int
    params: dict[str, Any]
    manifest: dict[str, Any]
    created_at: datetime


def _policy_names() -> str:
    from ...snapshots.policies import POLICIES  # the registry only: no store import

    return " | ".join(POLICIES)


class SnapshotCreate(SQLModel):
    """``POST /snapshots``: a snapshot to build (queued as a ``snapshot`` job)."""

    name: name_field("snapshot")
    policy: str = Field(max_length=50, description=_policy_names())
    test_fraction: float = Field(default=0.1, ge=0, lt=1)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    source: str | None = Field(
        default=None, max_length=200, description="Only pairs from this source."
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Policy parameters (PolicyParams: e.g. calibration, target, delta).",
    )
    min_gold_accuracy: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Drop the labels of annotators whose accuracy on gold pairs is below this.",
    )


class SnapshotExample(SQLModel, table=True):
    """One preference example of a snapshot: chosen ≻ rejected for a pair, with its split."""

    __table_args__ = (UniqueConstraint("snapshot_id", "pair_id", name="uq_snapexample_pair"),)

    id: int | None = Field(default=None, primary_key=True)
    # No index of its own: the unique (snapshot_id, pair_id) constraint already serves
    # lookups by snapshot, and a second index slowed every example insert.
    snapshot_id: int = Field(foreign_key="snapshot.id")
    position: int = Field(description="Order inside the snapshot (sorted by example hash).")
    example_hash: str = Field(max_length=64)
    pair_id: int = Field(foreign_key="pair.id", index=True)
    # The pair implies these three (the build copies them from it; `snapshot verify` checks
    # they still match): no foreign keys of their own, which cost most of a large build on
    # PostgreSQL (migration 0007).
    prompt_id: int
    chosen_id: int
    rejected_id: int
    split: str = Field(max_length=8, description="train | test")
    prob: float | None = Field(default=None, description="P(chosen ≻ rejected) when soft.")
    tie: bool = False
    label_source: str = Field(default="", max_length=8, description="human | ai | mixed")
    n_labels: int = 0
    weight: float = 1.0


class SnapshotExamplePublic(SQLModel):
    position: int
    example_hash: str
    pair_id: int
    prompt_id: int
    chosen_id: int
    rejected_id: int
    split: str
    prob: float | None
    tie: bool
    label_source: str
    n_labels: int
    weight: float


class SnapshotVerifyPublic(SQLModel):
    """``GET /snapshots/{name}/verify``: whether the stored snapshot still matches its hash."""

    name: str
    ok: bool
    checked: int
    problems: list[str]


class SnapshotDemonstration(SQLModel, table=True):
    """One SFT example of a demonstrations snapshot (``accord snapshot create NAME --kind
    demonstrations``): a prompt and a human demonstration of it, with its split."""

    __tablename__ = "snapshot_demonstration"
    __table_args__ = (UniqueConstraint("snapshot_id", "response_id", name="uq_snapdemo_response"),)

    id: int | None = Field(default=None, primary_key=True)
    snapshot_id: int = Field(foreign_key="snapshot.id")
    position: int = Field(description="Order inside the snapshot (sorted by example hash).")
    example_hash: str = Field(max_length=64)
    prompt_id: int = Field(foreign_key="prompt.id")
    response_id: int = Field(foreign_key="response.id", index=True)
    split: str = Field(max_length=8, description="train | test")
    author: str = Field(max_length=200, description="The annotator who wrote the demonstration.")
