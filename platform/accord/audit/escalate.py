"""Trust or escalate, on the store: certify a judge's threshold on its human-labelled pairs and
list the AI-only pairs below it, most uncertain first, for humans to label.

``certify_judge`` reads the judge's soft labels (``accord.audit.calibration_data``), maps them
through a stored calibration when one is given, takes each pair's confidence
``max(p, 1 - p)`` and whether the AI label (p > 0.5 → a, p < 0.5 → b; exactly 0.5 counts as
disagreeing) matches the human majority, and certifies the threshold with
``accord.audit.escalation.certify_escalation``. Pairs without a human label are split into kept
(confidence ≥ threshold) and escalated; ``coverage`` is the share of those AI-only pairs kept.

On the guarantee with a calibration: a temperature map keeps the order of confidences, so the
certified set is the same with or without it. Platt and isotonic maps can reorder pairs; when
they were fitted on the same human labels the certificate rests on, the guarantee is
approximate (fit them on other human labels for the exact promise).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sqlalchemy.engine import Engine
from sqlmodel import Session

from accord.audit.calibrate import calibration_map
from accord.audit.calibration_data import (
    CalibrationDataError,
    JudgeSelection,
    load_labelled_pairs,
    resolve_constitution,
)
from accord.audit.escalation import EscalationCertificate, certify_escalation, escalation_order
from accord.store.crud.calibrations import get_calibration


@dataclass
class JudgeCertificate:
    """A judge's certificate and what it means for the store's AI-only pairs."""

    selection: JudgeSelection
    certificate: EscalationCertificate
    human_label_hash: str
    calibration_id: int | None
    n_ai_only: int
    kept_pair_ids: list[int] = field(default_factory=list)
    escalate_pair_ids: list[int] = field(default_factory=list)  # most uncertain first
    escalate_confidence: list[float] = field(default_factory=list)

    @property
    def coverage(self) -> float:
        """Share of the AI-only pairs whose AI label is kept."""
        return len(self.kept_pair_ids) / self.n_ai_only if self.n_ai_only else 0.0

    def to_dict(self) -> dict:
        return {
            "judge": self.selection.judge,
            "constitution_hash": self.selection.constitution_hash,
            "principle": self.selection.principle,
            "calibration_id": self.calibration_id,
            "human_label_hash": self.human_label_hash,
            "certificate": self.certificate.to_dict(),
            "threshold": self.certificate.threshold,
            "target": self.certificate.target,
            "delta": self.certificate.delta,
            "n_ai_only": self.n_ai_only,
            "kept": len(self.kept_pair_ids),
            "escalated": len(self.escalate_pair_ids),
            "coverage": round(self.coverage, 6),
        }


def certify_judge(
    engine: Engine,
    *,
    judge: str,
    target: float,
    delta: float,
    constitution: str | None = None,
    principle: str = "",
    calibration_id: int | None = None,
) -> JudgeCertificate:
    """Certify ``judge``'s confidence threshold on the store's human labels (see module)."""
    selection = JudgeSelection(
        judge=judge,
        constitution_hash=resolve_constitution(engine, constitution),
        principle=principle or "",
    )
    data = load_labelled_pairs(engine, selection)
    prob = data.prob
    if calibration_id is not None:
        with Session(engine) as session:
            calibration = get_calibration(session, calibration_id=calibration_id)
        if calibration is None:
            raise CalibrationDataError(f"no calibration {calibration_id}")
        if calibration.judge != judge or calibration.principle != selection.principle:
            raise CalibrationDataError(
                f"calibration {calibration_id} is for judge {calibration.judge!r} "
                f"(principle {calibration.principle or 'aggregate'!r}), not {selection.describe()}"
            )
        prob = calibration_map(calibration).apply(prob)
    confidence = np.maximum(prob, 1.0 - prob)
    labelled = data.labelled
    if not labelled.any():
        raise CalibrationDataError(
            f"{selection.describe()}: none of its pairs has a human label "
            "to certify a threshold on (collect some: accord argilla push)"
        )
    ai_label_a = prob > 0.5
    agrees = np.where(prob == 0.5, False, ai_label_a == (data.outcome == 1))
    cert = certify_escalation(confidence[labelled], agrees[labelled], target=target, delta=delta)
    ai_only = np.flatnonzero(~labelled)
    conf_ai = confidence[ai_only]
    kept = ai_only[conf_ai >= cert.threshold] if cert.threshold is not None else ai_only[:0]
    order = escalation_order(conf_ai, cert.threshold)
    return JudgeCertificate(
        selection=selection,
        certificate=cert,
        human_label_hash=data.human_label_hash(),
        calibration_id=calibration_id,
        n_ai_only=int(ai_only.size),
        kept_pair_ids=data.pair_ids[kept].tolist(),
        escalate_pair_ids=data.pair_ids[ai_only[order]].tolist(),
        escalate_confidence=np.round(conf_ai[order], 6).tolist(),
    )
