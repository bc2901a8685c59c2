"""The audit report: every section computed from one load of the scope's judgments.

>>> from accord.store.db import open_store
>>> report = run_audit(open_store("sqlite://"))
>>> report.to_dict()["counts"]["judgments"]
0
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy.engine import Engine

from .bias import length_bias_section, reward_model_section
from .bootstrap import BootstrapConfig
from .gold import gold_accuracy_section
from .humans import annotator_section, human_human_section
from .judge_outputs import judge_output_section
from .judges import (
    calibration_section,
    human_ai_section,
    position_section,
    principle_agreement_section,
)
from .loader import AI, HUMAN, AuditData, AuditScope, load_audit_data
from .views import AuditViews


@dataclass
class AuditConfig:
    """What the audit computes and how."""

    bootstrap: BootstrapConfig = field(
        default_factory=BootstrapConfig,
        metadata={"help": "Resamples, confidence level and seed of every interval."},
    )
    n_bins: int = field(default=10, metadata={"help": "Equal-width bins of the reliability curve."})

    def __post_init__(self) -> None:
        if not isinstance(self.bootstrap, BootstrapConfig):
            raise TypeError("bootstrap must be a BootstrapConfig")
        if not isinstance(self.n_bins, int) or self.n_bins < 1:
            raise ValueError(f"n_bins must be an integer ≥ 1, got {self.n_bins!r}")


@dataclass
class AuditReport:
    """JSON-ready sections; ``to_dict()`` is what ``accord audit --json`` prints."""

    scope: dict[str, Any]
    counts: dict[str, Any]
    human_human: dict[str, Any]
    annotators: list[dict[str, Any]]
    human_ai: dict[str, Any]
    calibration: list[dict[str, Any]]
    position_consistency: dict[str, Any]
    principle_agreement: list[dict[str, Any]]
    length_bias: list[dict[str, Any]]
    reward_models: list[dict[str, Any]]
    config: dict[str, Any]
    # Per AI judge: shares of unparsable answers and top-k truncated choices (needs the store).
    judge_outputs: list[dict[str, Any]] = field(default_factory=list)
    # Per annotator: accuracy on gold pairs with a Wilson interval (needs the store).
    gold_accuracy: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _counts(data: AuditData) -> dict[str, Any]:
    kind = data.kind
    ai_sources = np.flatnonzero(data.sources.kind == AI)
    return {
        "judgments": len(data.label),
        "human_judgments": int((kind == HUMAN).sum()),
        "ai_judgments": int((kind == AI).sum()),
        "pairs": len(data.pair_ids),
        "pairs_with_human_labels": len(np.unique(data.pair[kind == HUMAN])),
        "annotators": len(
            {data.sources.judge[s] for s in np.flatnonzero(data.sources.kind == HUMAN)}
        ),
        "judges": sorted({data.sources.judge[s] for s in ai_sources}),
        "constitutions": sorted(
            {
                data.constitutions.get(
                    data.sources.constitution_hash[s], data.sources.constitution_hash[s][:12]
                )
                for s in ai_sources
                if data.sources.constitution_hash[s]
            }
        ),
    }


def build_report(
    data: AuditData, *, config: AuditConfig | None = None, engine: Engine | None = None
) -> AuditReport:
    """All sections for already loaded data (reward-model runs need ``engine``)."""
    config = config or AuditConfig()
    views = AuditViews.build(data)
    boot = config.bootstrap
    return AuditReport(
        scope=data.scope.to_dict(),
        counts=_counts(data),
        human_human=human_human_section(views, boot),
        annotators=annotator_section(views),
        human_ai=human_ai_section(views, boot),
        calibration=calibration_section(views, config.n_bins),
        position_consistency=position_section(views, boot),
        principle_agreement=principle_agreement_section(views),
        length_bias=length_bias_section(views, boot),
        reward_models=reward_model_section(engine, data.scope) if engine is not None else [],
        config={
            "n_resamples": boot.n_resamples,
            "confidence_level": boot.confidence_level,
            "seed": boot.seed,
            "n_bins": config.n_bins,
        },
        judge_outputs=judge_output_section(engine, data.scope) if engine is not None else [],
        gold_accuracy=(
            gold_accuracy_section(engine, confidence=boot.confidence_level)
            if engine is not None
            else []
        ),
    )


def run_audit(
    engine: Engine, scope: AuditScope | None = None, *, config: AuditConfig | None = None
) -> AuditReport:
    """Load the scope's judgments and build the report."""
    return build_report(load_audit_data(engine, scope), config=config, engine=engine)
