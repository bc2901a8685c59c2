"""``accord escalate``: keep the AI labels a certificate vouches for, send the rest to humans.

    accord escalate --judge J --target 0.85 --delta 0.1
    accord escalate --judge J --target 0.8 --delta 0.05 --calibration 3 --push-dataset escalated

Certifies, on the pairs that carry human labels, the lowest confidence threshold whose AI
labels agree with humans at ≥ --target with probability ≥ 1 − --delta (fixed-sequence testing
with an exact binomial bound; docs/trust.md). Reports coverage (the share of AI-only pairs
kept) and, with --push-dataset, sends every AI-only pair below the threshold to Argilla, most
uncertain first.
"""

from __future__ import annotations

from typing import Annotated

import typer

from .common import DbOption, JsonOption, console, engine_for, fail, print_json


def escalate(
    judge: Annotated[str, typer.Option("--judge", help="Judge model id.")],
    target: Annotated[
        float,
        typer.Option(
            "--target", min=0.0, max=1.0, help="Agreement with humans the kept labels must reach."
        ),
    ],
    delta: Annotated[
        float,
        typer.Option(
            "--delta", min=0.0, max=1.0, help="Allowed probability that the promise fails."
        ),
    ] = 0.1,
    constitution: Annotated[
        str | None, typer.Option("--constitution", help="Constitution name or hash.")
    ] = None,
    principle: Annotated[str, typer.Option("--principle", help="One principle's labels.")] = "",
    calibration: Annotated[
        int | None,
        typer.Option("--calibration", help="Apply this stored calibration before thresholding."),
    ] = None,
    push_dataset: Annotated[
        str | None,
        typer.Option(
            "--push-dataset", help="Push the pairs below the threshold to this Argilla dataset."
        ),
    ] = None,
    workspace: Annotated[str | None, typer.Option("--workspace", help="Argilla workspace.")] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Push at most this many (most uncertain).")
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Certify a confidence threshold for --judge and escalate the AI labels below it."""
    from ..audit.calibration_data import CalibrationDataError
    from ..audit.escalate import certify_judge

    engine = engine_for(db)
    try:
        result = certify_judge(
            engine,
            judge=judge,
            target=target,
            delta=delta,
            constitution=constitution,
            principle=principle,
            calibration_id=calibration,
        )
    except (CalibrationDataError, ValueError) as exc:
        fail(str(exc))
    pushed = None
    to_push = result.escalate_pair_ids[:limit] if limit else result.escalate_pair_ids
    if push_dataset and to_push:
        try:
            from ..feedback.argilla.push import push_pairs
        except ImportError as exc:
            fail(f"pushing needs the Argilla extra (pip install 'accord[argilla]'): {exc}")
        try:
            pushed = push_pairs(
                engine, pair_ids=to_push, dataset=push_dataset, workspace=workspace
            ).to_dict()
        except (ValueError, RuntimeError, OSError) as exc:
            fail(f"push to Argilla dataset {push_dataset!r} failed: {exc}")
    summary = result.to_dict()
    if json_out:
        print_json(
            {
                **summary,
                "escalate_pair_ids": to_push,
                "escalate_confidence": result.escalate_confidence[: len(to_push)],
                "pushed": pushed,
            }
        )
        return
    cert = result.certificate
    console.print(
        f"[bold]{result.selection.describe()}[/]: {cert.n_calibration} human-labelled "
        f"pairs, target {target:g}, delta {delta:g}",
        soft_wrap=True,
    )
    if cert.threshold is None:
        console.print(
            f"[yellow]no threshold can be certified[/]: its labels cannot be shown to "
            f"agree with humans at {target:.0%} with {1 - delta:.0%} confidence. "
            f"All {result.n_ai_only} AI-only pairs go to humans."
        )
    else:
        console.print(
            f"certified threshold {cert.threshold:.3f}: AI labels at or above it agree with "
            f"humans at ≥ {target:.0%} with probability ≥ {1 - delta:.0%} (observed "
            f"{cert.agreement:.1%} on {cert.n_kept} labelled pairs, lower bound "
            f"{cert.agreement_lower:.1%})."
        )
        console.print(
            f"coverage: {len(result.kept_pair_ids)} of {result.n_ai_only} AI-only pairs "
            f"kept ({result.coverage:.1%}); {len(result.escalate_pair_ids)} to escalate."
        )
    if pushed:
        console.print(
            f"pushed {pushed['selected']} pairs to Argilla dataset "
            f"[bold]{pushed['dataset']}[/] ({pushed['created']} new) {pushed['url']}",
            soft_wrap=True,
        )
