"""``accord argilla push --mode demonstration`` and ``pull --mode demonstration``: annotators
write the response to a prompt; pulled answers become human demonstrations.

    accord argilla push --mode demonstration --dataset demos-v1 --constitution harmlessness
    accord argilla pull --mode demonstration --dataset demos-v1
"""

from __future__ import annotations

from pathlib import Path

from rich.progress import Progress

from .common import console, engine_for, fail, print_json


def push_demonstrations_command(
    *,
    dataset: str,
    workspace: str | None,
    min_submitted: int,
    job: int | None,
    prompt_source: str | None,
    prompt_id: list[int] | None,
    limit: int | None,
    guidelines: Path | None,
    constitution: str | None,
    draft: bool,
    db,
    connection_for,
    errors,
    progress_callback,
    json_out: bool,
    pair_options: bool,
) -> None:
    from ..feedback.argilla.demonstrations import guidelines_from_constitution, push_demonstrations
    from ..feedback.argilla.schema import guidelines_from_file

    if pair_options:
        fail(
            "--mode demonstration pushes prompts: --pair-source, --snapshot, --pair-id, "
            "--disagreements, --include-labelled, --suggestions, --force, --priority, "
            "--gold-rate and --k apply to other modes only",
            2,
        )
    if guidelines and constitution:
        fail("give --guidelines or --constitution, not both", 2)
    try:
        text = (
            guidelines_from_file(guidelines)
            if guidelines
            else guidelines_from_constitution(constitution)
            if constitution
            else None
        )
    except (ValueError, OSError) as exc:
        fail(str(exc))
    engine = engine_for(db)
    connection = connection_for()
    with errors(), Progress(console=console, transient=True, disable=json_out) as progress:
        result = push_demonstrations(
            engine,
            dataset=dataset,
            workspace=workspace,
            prompt_source=prompt_source,
            job_id=job,
            prompt_ids=prompt_id or None,
            limit=limit,
            min_submitted=min_submitted,
            guidelines=text,
            draft=draft,
            connection=connection,
            progress=progress_callback(progress, "pushing"),
        )
    if json_out:
        print_json(result.to_dict())
        return
    console.print(
        f"[bold]{result.dataset}[/] ({result.workspace}): {result.selected} prompts to answer, "
        f"{result.sent} records sent"
        + (f", {result.with_draft} with a model's draft" if draft else "")
    )
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}")
    console.print(f"annotate at {result.url}")


def pull_demonstrations_command(
    *, dataset: str, workspace: str | None, db, connection_for, errors, json_out: bool
) -> None:
    from ..feedback.argilla.demonstrations import pull_demonstrations

    engine = engine_for(db)
    connection = connection_for()
    with errors():
        result = pull_demonstrations(
            engine, dataset=dataset, workspace=workspace, connection=connection
        )
    if json_out:
        print_json(result.to_dict())
        return
    console.print(
        f"[bold]{dataset}[/]: {result.records} records, {result.responses} answers → "
        f"{result.created} new demonstrations, {result.revised} revised, {result.unchanged} "
        f"unchanged, {result.restored} restored, {result.withdrawn} withdrawn, "
        f"{result.discarded} discarded, {result.empty} empty (refused), {result.skipped} skipped"
    )
    for problem in result.problems[:20]:
        console.print(f"[yellow]refused:[/] {problem}")
