"""``accord judge preview`` / ``accord critique preview``: the exact prompts the AI judge and the
critique → revision step send, from the same task objects the recipes, trainers and API use.

    accord judge preview --prompt "Hi?" --response-a "Hello!" --response-b "Go away."
    accord judge preview --pair 12 --constitution tiny-test --cot --model accord/tiny
    accord critique preview --prompt "Hi?" --response "Go away." --template my-critique.yaml

Without ``--model`` the messages are printed as ``[role]`` blocks; with it, the model's chat
template is applied (the text the local backends score or continue).
"""

from __future__ import annotations

from typing import Annotated

import typer

from .common import DbOption, JsonOption, engine_for, fail, print_json

judge_app = typer.Typer(help="The AI judge's prompts.", no_args_is_help=True)
critique_app = typer.Typer(help="The critique → revision prompts.", no_args_is_help=True)

ModelOption = Annotated[
    str | None,
    typer.Option("--model", help="Apply this model's chat template (id, folder or alias)."),
]
PrinciplesOption = Annotated[
    str | None, typer.Option("--principles", help="Comma-separated principle ids (default: all).")
]


def _principles(value: str | None) -> list[str] | None:
    return [p.strip() for p in value.split(",") if p.strip()] if value else None


def _pair_texts(pair_id: int, db: str | None) -> tuple[str, str, str]:
    from sqlmodel import Session

    from ..store.crud.pairs import pair_texts

    with Session(engine_for(db)) as session:
        texts = pair_texts(session, pair_id=pair_id)
    if texts is None:
        fail(f"--pair: no pair {pair_id} in the store")
    return texts


def _emit(text: str, json_out: bool, **extra) -> None:
    if json_out:
        print_json({**extra, "preview": text})
    else:
        typer.echo(text)


@judge_app.command("preview")
def judge_preview(
    prompt: Annotated[str | None, typer.Option("--prompt", help="The request.")] = None,
    response_a: Annotated[
        str | None, typer.Option("--response-a", help="Response shown as (A) in order ab.")
    ] = None,
    response_b: Annotated[
        str | None, typer.Option("--response-b", help="Response shown as (B) in order ab.")
    ] = None,
    pair: Annotated[
        int | None, typer.Option("--pair", help="A stored pair's id instead of the texts.")
    ] = None,
    constitution: Annotated[str, typer.Option(help="Bundled name or YAML path.")] = "harmlessness",
    principles: PrinciplesOption = None,
    template: Annotated[str, typer.Option(help="Bundled template name or YAML file.")] = "judge",
    answer_prefix: Annotated[
        str | None, typer.Option(help="Override the template's answer prefix.")
    ] = None,
    orders: Annotated[str, typer.Option(help="both or one.")] = "both",
    cot: Annotated[bool, typer.Option("--cot/--no-cot", help="Chain of thought.")] = False,
    model: ModelOption = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Print the exact prompt of every (principle, order) question the judge asks about a pair."""
    from ..constitutions import DocumentError
    from ..rlaif.judge_task import JudgeTask

    if pair is not None:
        prompt, response_a, response_b = _pair_texts(pair, db)
    elif None in (prompt, response_a, response_b):
        fail("give --prompt, --response-a and --response-b, or --pair", code=2)
    try:
        task = JudgeTask(
            constitution=constitution,
            principles=_principles(principles),
            template=template,
            answer_prefix=answer_prefix,
            orders=orders,
            cot=cot,
        )
        text = task.preview(prompt, response_a, response_b, model=model)
    except (DocumentError, FileNotFoundError, KeyError, ValueError) as exc:
        fail(str(exc))
    _emit(text, json_out, answer_prefix=task.prefix)


@critique_app.command("preview")
def critique_preview(
    prompt: Annotated[str, typer.Option("--prompt", help="The request.")],
    response: Annotated[str, typer.Option("--response", help="The response to critique.")],
    critique: Annotated[
        str, typer.Option(help="Critique text shown in the revision prompt.")
    ] = "<the model's critique>",
    constitution: Annotated[str, typer.Option(help="Bundled name or YAML path.")] = "harmlessness",
    principles: PrinciplesOption = None,
    template: Annotated[str, typer.Option(help="Bundled template name or YAML file.")] = "critique",
    few_shot: Annotated[
        bool, typer.Option("--few-shot/--no-few-shot", help="Constitution's examples first.")
    ] = True,
    model: ModelOption = None,
    json_out: JsonOption = False,
) -> None:
    """Print the exact critique and revision prompts for each principle."""
    from ..constitutions import DocumentError
    from ..rlaif.critique_task import CritiqueReviseTask

    try:
        task = CritiqueReviseTask(
            constitution=constitution,
            principles=_principles(principles),
            template=template,
            few_shot=few_shot,
        )
        text = task.preview(prompt, response, critique=critique, model=model)
    except (DocumentError, FileNotFoundError, KeyError, ValueError) as exc:
        fail(str(exc))
    _emit(text, json_out)
