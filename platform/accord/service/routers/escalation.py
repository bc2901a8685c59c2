"""``POST /api/escalation`` (engineer role): certify a judge's confidence threshold on the
store's human labels (``accord.audit.escalate.certify_judge``) and, with ``push_dataset``,
send the AI-only pairs below it to Argilla, most uncertain first. The answer is the
certificate with coverage and the pairs to escalate; bad options or missing labels answer
422 with the reason, an unreachable Argilla 502.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException

from ...store.models import EscalationPublic, EscalationRequest
from ..auth import OPERATE
from ..deps import EngineDep, allow

router = APIRouter(prefix="/escalation", tags=["trust"])


@router.post("", response_model=EscalationPublic, dependencies=[Depends(allow(OPERATE))])
def escalate(body: EscalationRequest, engine: EngineDep):
    from ...audit.escalate import certify_judge

    try:
        result = certify_judge(
            engine,
            judge=body.judge,
            target=body.target,
            delta=body.delta,
            constitution=body.constitution,
            principle=body.principle,
            calibration_id=body.calibration_id,
        )
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    ids = result.escalate_pair_ids[: body.limit] if body.limit else result.escalate_pair_ids
    pushed = None
    if body.push_dataset and ids:
        try:
            from ...feedback.argilla.push import push_pairs

            pushed = push_pairs(
                engine, pair_ids=ids, dataset=body.push_dataset, workspace=body.workspace
            ).to_dict()
        except ImportError as exc:
            raise HTTPException(501, f"pushing needs the Argilla extra: {exc}") from None
        except ValueError as exc:
            raise HTTPException(422, f"push to {body.push_dataset!r}: {exc}") from None
        except (RuntimeError, OSError) as exc:
            raise HTTPException(502, f"push to {body.push_dataset!r} failed: {exc}") from None
    return EscalationPublic(
        **result.to_dict(),
        escalate_pair_ids=ids,
        escalate_confidence=result.escalate_confidence[: len(ids)],
        pushed=pushed,
    )
