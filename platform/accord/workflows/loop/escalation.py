"""Escalation inside a loop round: the round's uncertain kept pairs go to humans in Argilla
before the round's snapshot is frozen, and the snapshot policy picks up their labels.

After the round's pairs are judged (and West-of-N has kept its pairs), a kept pair is
*uncertain* when the judge's confidence ``max(p, 1 − p)`` (calibrated when the loop has a
calibration) is below a threshold: given (``threshold``), or certified on the judge's
human-labelled pairs in the store so that the kept AI labels agree with humans at least
``target`` of the time with probability 1 − ``delta`` (``accord.audit.escalate.certify_judge``,
the ``escalate`` step's rule). Those pairs, most uncertain first (at most ``limit``), are pushed
with ``accord.feedback.argilla.push.push_pairs`` (idempotent: a rerun updates the same
records). Then the round either waits (``wait: true``): it pulls the dataset
(``accord.feedback.argilla.pull.pull_judgments``) every ``poll`` seconds until every escalated
pair has ``min_submitted`` submitted human labels or ``timeout`` seconds passed (then it goes on
with the labels there are, or fails with ``on_timeout: fail``); or it proceeds at once with the
labels already there (one pull). The snapshot then resolves each pair by ``snapshot_policy``
(``human-over-ai``: a human label wins).

A round whose snapshot is already frozen (a rerun) pushes and waits no more: its snapshot keeps
the labels it was frozen with, so a rerun trains on the same data.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator


class EscalateOptions(BaseModel):
    """``escalate:`` of a loop step: which pairs go to humans, where, and whether to wait."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(
        min_length=1,
        max_length=200,
        description="Argilla dataset the pairs "
        "go to; {recipe}, {step} and {round} are replaced (one dataset for "
        "all rounds when none is given).",
    )
    workspace: str | None = Field(default=None, description="Argilla workspace.")
    threshold: float | None = Field(
        default=None,
        gt=0.5,
        le=1.0,
        description="Escalate the kept pairs whose judge confidence max(p, 1−p) is below this.",
    )
    target: float | None = Field(
        default=None,
        gt=0.0,
        lt=1.0,
        description="Instead of threshold: certify the "
        "threshold on the judge's human-labelled pairs so that the AI labels "
        "kept agree with humans at least this often.",
    )
    delta: float = Field(
        default=0.1, gt=0.0, lt=1.0, description="With target: allowed failure probability."
    )
    limit: int | None = Field(
        default=None, ge=1, description="Escalate at most this many pairs per round."
    )
    min_submitted: int = Field(
        default=1, ge=1, le=50, description="Human labels each escalated pair needs."
    )
    wait: bool = Field(
        default=False,
        description="true: wait for the labels (up "
        "to timeout); false: go on with the labels already there.",
    )
    timeout: float = Field(
        default=3600.0, gt=0.0, description="Longest wait for labels, in seconds."
    )
    poll: float = Field(default=15.0, gt=0.0, description="Seconds between pulls while waiting.")
    on_timeout: Literal["proceed", "fail"] = Field(
        default="proceed",
        description="When the wait times out: proceed with the labels there are, or fail the step.",
    )

    @model_validator(mode="after")
    def _one_rule(self) -> EscalateOptions:
        if (self.threshold is None) == (self.target is None):
            raise ValueError("escalate: give exactly one of threshold or target")
        return self

    def dataset_name(self, *, recipe: str, step: str, round_: int) -> str:
        return self.dataset.format(recipe=recipe, step=step, round=round_)


def uncertain_pairs(
    labels: list[tuple[int, int, int, int, float]],
    kept: list[int],
    threshold: float | None,
    limit: int | None = None,
) -> list[tuple[int, float]]:
    """(pair id, confidence) of the kept pairs below ``threshold`` (all when None), most
    uncertain first (ties: lower pair id first).

    >>> labels = [(1, 0, 0, 0, 0.9), (2, 0, 0, 0, 0.45), (3, 0, 0, 0, 0.3), (4, 0, 0, 0, 0.55)]
    >>> uncertain_pairs(labels, [1, 2, 3, 4], 0.8)
    [(2, 0.55), (4, 0.55), (3, 0.7)]
    """
    from ...audit.escalation import escalation_order

    prob = {pid: p for pid, *_, p in labels}
    ids = sorted(pid for pid in kept if pid in prob)
    confidence = np.array([max(prob[i], 1.0 - prob[i]) for i in ids], dtype=float)
    order = escalation_order(np.round(confidence, 12), threshold)
    out = [(ids[i], round(float(confidence[i]), 6)) for i in order]
    return out[:limit] if limit else out


def human_labelled(engine, pair_ids: list[int], min_submitted: int) -> int:
    """How many of ``pair_ids`` have at least ``min_submitted`` submitted human labels."""
    from sqlalchemy import func
    from sqlmodel import Session, select

    from ...store.models import Judgment

    if not pair_ids:
        return 0
    with Session(engine) as session:
        rows = session.exec(
            select(Judgment.pair_id, func.count(Judgment.id))
            .where(
                Judgment.pair_id.in_(pair_ids),
                Judgment.kind == "human",
                Judgment.status == "submitted",
                Judgment.is_aggregate == False,  # noqa: E712
            )
            .group_by(Judgment.pair_id)
        ).all()
    return sum(1 for _, n in rows if n >= min_submitted)


def _certified_threshold(
    ctx, options: EscalateOptions, config, judgment_ids: list[int]
) -> tuple[float | None, str | None]:
    """(threshold certified on the judge's human-labelled pairs, why none was): with no human
    label of this judge in the store nothing is certified, and every kept pair is escalated."""
    from sqlmodel import Session, select

    from ...audit.calibration_data import CalibrationDataError
    from ...audit.escalate import certify_judge
    from ...store.models import Judgment

    with Session(ctx.engine) as session:
        judge = session.exec(
            select(Judgment.judge).where(Judgment.id.in_(judgment_ids)).limit(1)
        ).first()
    if judge is None:
        return None, "no judgment of this round"
    try:
        result = certify_judge(
            ctx.engine,
            judge=judge,
            target=options.target,
            delta=options.delta,
            constitution=config.constitution,
            calibration_id=config.calibration_id,
        )
    except CalibrationDataError as exc:
        return None, str(exc)
    if result.certificate.threshold is None:
        return None, f"no threshold reaches agreement {options.target:g} (target)"
    return result.certificate.threshold, None


def escalate_round(
    ctx,
    config,
    *,
    dataset: str,
    labels: list[tuple[int, int, int, int, float]],
    kept: list[int],
    judgment_ids: list[int],
    frozen: bool,
) -> dict[str, Any]:
    """Push round's uncertain kept pairs, then wait or proceed (see module); the record."""
    from ...feedback.argilla.pull import pull_judgments
    from ...feedback.argilla.push import push_pairs

    options: EscalateOptions = config.escalate
    threshold, uncertified = options.threshold, None
    if options.target is not None:
        threshold, uncertified = _certified_threshold(ctx, options, config, judgment_ids)
    chosen = uncertain_pairs(labels, kept, threshold, options.limit)
    ids = [pid for pid, _ in chosen]
    record: dict[str, Any] = {
        "dataset": dataset,
        "threshold": threshold,
        "escalated": len(ids),
        "pair_ids": ids,
        "wait": options.wait,
    }
    if uncertified:
        record["uncertified"] = uncertified  # so every kept pair is escalated
    if frozen or not ids:
        record["labelled"] = human_labelled(ctx.engine, ids, options.min_submitted)
        record["frozen"] = frozen
        return record
    pushed = push_pairs(
        ctx.engine,
        pair_ids=ids,
        dataset=dataset,
        workspace=options.workspace,
        min_submitted=options.min_submitted,
        seed=ctx.seed,
    )
    record["pushed"] = pushed.created + pushed.updated + pushed.unchanged + pushed.resumed
    record["url"] = pushed.url
    started = time.monotonic()
    ctx.progress.note(f"{ctx.step_name}: {len(ids)} uncertain pairs sent to Argilla {dataset!r}")
    while True:
        pull_judgments(ctx.engine, dataset=dataset, workspace=options.workspace)
        labelled = human_labelled(ctx.engine, ids, options.min_submitted)
        waited = time.monotonic() - started
        if not options.wait or labelled == len(ids):
            break
        if waited >= options.timeout:
            record["timed_out"] = True
            if options.on_timeout == "fail":
                raise TimeoutError(
                    f"step {ctx.step_name!r}: escalate: {labelled} of {len(ids)} pairs in "
                    f"Argilla dataset {dataset!r} have {options.min_submitted}+ human "
                    f"label(s) after {options.timeout:g} s; label them at {pushed.url} and "
                    "rerun (every finished piece is reused)"
                )
            break
        ctx.check_cancel()
        time.sleep(min(options.poll, max(0.0, options.timeout - waited)))
    record["labelled"] = labelled
    record["waited_s"] = round(time.monotonic() - started, 2)
    return record
