"""``accord argilla``: push pairs to Argilla, pull human labels, manage annotators, webhooks
and a local Argilla server.

    accord argilla local start
    export ARGILLA_API_URL=http://127.0.0.1:6900 ARGILLA_API_KEY=argilla.apikey
    accord argilla users create alice --password 's3cret-pass' --workspace labels
    accord argilla push --dataset prefs-v1 --workspace labels --min-submitted 2
    accord argilla pull --dataset prefs-v1
    accord argilla push --mode demonstration --dataset demos-v1 --constitution harmlessness
    accord argilla pull --mode demonstration --dataset demos-v1
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from .common import DbOption, JsonOption, console, engine_for, fail, print_json

app = typer.Typer(help="Human preference labels through Argilla.", no_args_is_help=True)
users_app = typer.Typer(help="Annotator accounts on the Argilla server.", no_args_is_help=True)
local_app = typer.Typer(
    help="A local Argilla server (installed on first use).", no_args_is_help=True
)
app.add_typer(users_app, name="users")
app.add_typer(local_app, name="local")

ApiUrl = Annotated[
    str | None, typer.Option("--api-url", help="Argilla URL (default: $ARGILLA_API_URL).")
]
ApiKey = Annotated[
    str | None, typer.Option("--api-key", help="API key (default: $ARGILLA_API_KEY).")
]
Dataset = Annotated[str, typer.Option("--dataset", "-d", help="Argilla dataset name.")]
Workspace = Annotated[str | None, typer.Option("--workspace", "-w", help="Argilla workspace.")]
MODES = ("pairs", "ranking", "demonstration")


@contextmanager
def _argilla_errors() -> Iterator[None]:
    """Turn what Argilla or bad input raise into one clear line and exit code 1."""
    import httpx
    from argilla._exceptions import ArgillaError

    try:
        yield
    except typer.Exit:
        raise
    except httpx.HTTPStatusError as exc:
        fail(
            f"Argilla answered HTTP {exc.response.status_code} to {exc.request.method} "
            f"{exc.request.url.path}: {exc.response.text[:300]}"
        )
    except (ValueError, RuntimeError, OSError, ArgillaError) as exc:
        fail(str(exc))


def _connect(api_url: str | None, api_key: str | None):
    from ..feedback.argilla.client import ArgillaConfigError, ArgillaUnavailableError, connect

    try:
        return connect(api_url=api_url, api_key=api_key)
    except (ArgillaConfigError, ArgillaUnavailableError) as exc:
        fail(str(exc))


def _progress_callback(progress: Progress, description: str):
    task = progress.add_task(description, total=None)

    def update(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    return update


@app.command()
def push(
    dataset: Dataset,
    workspace: Workspace = None,
    min_submitted: Annotated[int, typer.Option(help="Annotators per record (overlap).")] = 1,
    job: Annotated[int | None, typer.Option(help="Only pairs made by this job id.")] = None,
    prompt_source: Annotated[
        str | None, typer.Option(help="Only prompts from this source.")
    ] = None,
    pair_source: Annotated[str | None, typer.Option(help="Only pairs with this source.")] = None,
    snapshot: Annotated[str | None, typer.Option(help="Only pairs in this snapshot.")] = None,
    pair_id: Annotated[
        list[int] | None, typer.Option("--pair-id", help="These pairs (repeat).")
    ] = None,
    disagreements: Annotated[
        bool, typer.Option(help="Pairs where judges disagree (audit queue).")
    ] = False,
    include_labelled: Annotated[
        bool, typer.Option(help="Also pairs that already have human labels.")
    ] = False,
    limit: Annotated[int | None, typer.Option(help="At most this many pairs.")] = None,
    guidelines: Annotated[
        Path | None,
        typer.Option(help="Guidelines from a text/Markdown file (used verbatim; any mode)."),
    ] = None,
    constitution: Annotated[
        str | None,
        typer.Option(
            help="Guidelines from a constitution (name or YAML): pairs get its comparison "
            "questions, demonstration its revision requests (what a good response satisfies)."
        ),
    ] = None,
    suggestions: Annotated[
        bool, typer.Option(help="Show the AI judgment as a suggestion (biases annotators).")
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of the per-record A/B shuffle.")] = 0,
    force: Annotated[
        bool, typer.Option(help="Re-send records the store says are up to date.")
    ] = False,
    priority: Annotated[
        str | None,
        typer.Option(
            help="Most informative first: uncertainty | disagreement | position-inconsistent | "
            "random (record metadata accord_priority; sort it descending)."
        ),
    ] = None,
    gold_rate: Annotated[
        float,
        typer.Option(
            min=0.0, max=0.99, help="Share of the records that are gold pairs (accord gold add)."
        ),
    ] = 0.0,
    mode: Annotated[
        str,
        typer.Option(
            help="pairs: label pairs; ranking: rank K responses of each prompt "
            "(RankingQuestion); demonstration: write the response to each prompt "
            "(TextQuestion; prompts chosen by --prompt-source, --job, --prompt-id, --limit)."
        ),
    ] = "pairs",
    prompt_id: Annotated[
        list[int] | None,
        typer.Option("--prompt-id", help="--mode demonstration: these prompts (repeat)."),
    ] = None,
    draft: Annotated[
        bool,
        typer.Option(
            help="--mode demonstration: show a model's answer beside the prompt as a reference "
            "(field draft; anchors annotators, off by default)."
        ),
    ] = False,
    k: Annotated[
        int, typer.Option("--k", help="--mode ranking: responses per record (2 to 16).")
    ] = 4,
    db: DbOption = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
    json_out: JsonOption = False,
) -> None:
    """Push pairs (all unlabelled ones by default) to an Argilla dataset, with ``--mode
    ranking`` K responses per prompt to rank, or with ``--mode demonstration`` prompts for
    annotators to answer; safe to repeat (no duplicate records)."""
    from ..feedback.argilla.priority import PRIORITIES

    if mode not in MODES:
        fail(f"--mode must be one of {', '.join(MODES)}, got {mode!r}", 2)
    pair_options = bool(
        pair_source
        or snapshot
        or pair_id
        or disagreements
        or include_labelled
        or suggestions
        or force
        or priority
        or gold_rate
    )
    if (prompt_id or draft) and mode != "demonstration":
        fail("--prompt-id and --draft apply to --mode demonstration only", 2)
    if mode == "demonstration":
        from .argilla_demonstrations import push_demonstrations_command

        push_demonstrations_command(
            dataset=dataset,
            workspace=workspace,
            min_submitted=min_submitted,
            job=job,
            prompt_source=prompt_source,
            prompt_id=prompt_id,
            limit=limit,
            guidelines=guidelines,
            constitution=constitution,
            draft=draft,
            db=db,
            connection_for=lambda: _connect(api_url, api_key),
            errors=_argilla_errors,
            progress_callback=_progress_callback,
            json_out=json_out,
            pair_options=pair_options or k != 4,
        )
        return
    if mode == "ranking":
        _push_rankings(
            dataset=dataset,
            workspace=workspace,
            k=k,
            min_submitted=min_submitted,
            job=job,
            prompt_source=prompt_source,
            limit=limit,
            guidelines=guidelines,
            constitution=constitution,
            seed=seed,
            db=db,
            api_url=api_url,
            api_key=api_key,
            json_out=json_out,
            pair_options=pair_options,
        )
        return

    if priority is not None and priority not in PRIORITIES:
        fail(f"--priority must be one of {', '.join(PRIORITIES)}, got {priority!r}", 2)
    from ..feedback.argilla.push import push_pairs
    from ..feedback.argilla.schema import guidelines_from_constitution, guidelines_from_file

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
    connection = _connect(api_url, api_key)
    with _argilla_errors(), Progress(console=console, transient=True, disable=json_out) as progress:
        result = push_pairs(
            engine,
            dataset=dataset,
            workspace=workspace,
            pair_ids=pair_id or None,
            job_id=job,
            prompt_source=prompt_source,
            pair_source=pair_source,
            snapshot=snapshot,
            disagreements=disagreements,
            unlabelled_only=False if include_labelled else None,
            limit=limit,
            min_submitted=min_submitted,
            guidelines=text,
            with_suggestions=suggestions,
            seed=seed,
            force=force,
            connection=connection,
            progress=_progress_callback(progress, "pushing"),
            priority=priority,
            gold_rate=gold_rate,
        )
    if json_out:
        print_json(result.to_dict())
        return
    console.print(
        f"[bold]{result.dataset}[/] ({result.workspace}): {result.selected} selected, "
        f"{result.created} new, {result.updated} updated, {result.unchanged} unchanged"
        + (f", {result.resumed} resumed from an interrupted push" if result.resumed else "")
        + (f"; {result.gold} gold pairs mixed in" if result.gold else "")
        + (
            f"; ordered by {result.priority} (sort accord_priority descending)"
            if result.priority
            else ""
        )
    )
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}")
    console.print(f"annotate at {result.url}")


def _push_rankings(
    *,
    dataset,
    workspace,
    k,
    min_submitted,
    job,
    prompt_source,
    limit,
    guidelines,
    constitution,
    seed,
    db,
    api_url,
    api_key,
    json_out,
    pair_options,
) -> None:
    from ..feedback.argilla.rankings import push_rankings
    from ..feedback.argilla.schema import guidelines_from_file
    from ..store.models.ranking import MAX_K, MIN_K

    if pair_options:
        fail(
            "--mode ranking pushes prompts: --pair-source, --snapshot, --pair-id, "
            "--disagreements, --include-labelled, --suggestions, --force, --priority and "
            "--gold-rate apply to pairs only",
            2,
        )
    if not MIN_K <= k <= MAX_K:
        fail(f"--k must be between {MIN_K} and {MAX_K}, got {k}", 2)
    if constitution:
        fail("--mode ranking takes --guidelines FILE (no constitution questions)", 2)
    try:
        text = guidelines_from_file(guidelines) if guidelines else None
    except (ValueError, OSError) as exc:
        fail(str(exc))
    engine = engine_for(db)
    connection = _connect(api_url, api_key)
    with _argilla_errors(), Progress(console=console, transient=True, disable=json_out) as progress:
        result = push_rankings(
            engine,
            dataset=dataset,
            workspace=workspace,
            k=k,
            min_submitted=min_submitted,
            job_id=job,
            prompt_source=prompt_source,
            limit=limit,
            guidelines=text,
            seed=seed,
            connection=connection,
            progress=_progress_callback(progress, "pushing"),
        )
    if json_out:
        print_json(result.to_dict())
        return
    console.print(
        f"[bold]{result.dataset}[/] ({result.workspace}): {result.selected} prompts to rank "
        f"(k={result.k}), {result.sent} records sent"
        + (
            f"; {result.skipped_prompts} prompts have fewer than {result.k} responses"
            if result.skipped_prompts
            else ""
        )
    )
    console.print(f"annotate at {result.url}")


@app.command()
def pull(
    dataset: Dataset,
    workspace: Workspace = None,
    mode: Annotated[
        str,
        typer.Option(
            help="pairs: pairwise labels; ranking: a --mode ranking dataset; demonstration: "
            "a --mode demonstration dataset (answers become human demonstrations)."
        ),
    ] = "pairs",
    db: DbOption = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
    json_out: JsonOption = False,
) -> None:
    """Store every submitted (or discarded) answer of a dataset as a human judgment (with
    ``--mode ranking``: as a human ranking and its pairwise judgments; with ``--mode
    demonstration``: as a human demonstration, an edited answer as a new revision)."""
    from ..feedback.argilla.pull import pull_judgments

    if mode not in MODES:
        fail(f"--mode must be one of {', '.join(MODES)}, got {mode!r}", 2)
    if mode == "demonstration":
        from .argilla_demonstrations import pull_demonstrations_command

        pull_demonstrations_command(
            dataset=dataset,
            workspace=workspace,
            db=db,
            connection_for=lambda: _connect(api_url, api_key),
            errors=_argilla_errors,
            json_out=json_out,
        )
        return
    if mode == "ranking":
        from ..feedback.argilla.rankings import pull_rankings

        engine = engine_for(db)
        connection = _connect(api_url, api_key)
        with _argilla_errors():
            ranked = pull_rankings(
                engine, dataset=dataset, workspace=workspace, connection=connection
            )
        if json_out:
            print_json(ranked.to_dict())
            return
        console.print(
            f"[bold]{dataset}[/]: {ranked.records} records, {ranked.responses} responses → "
            f"{ranked.created} new rankings, {ranked.updated} changed, {ranked.unchanged} "
            f"unchanged, {ranked.discarded} discarded, {ranked.skipped} skipped"
        )
        for problem in ranked.problems[:20]:
            console.print(f"[yellow]skipped:[/] {problem}")
        return

    engine = engine_for(db)
    connection = _connect(api_url, api_key)
    with _argilla_errors(), Progress(console=console, transient=True, disable=json_out) as progress:
        result = pull_judgments(
            engine,
            dataset=dataset,
            workspace=workspace,
            connection=connection,
            progress=_progress_callback(progress, "pulling"),
        )
    if json_out:
        print_json(result.to_dict())
        return
    console.print(
        f"[bold]{dataset}[/]: {result.records} records, {result.responses} responses → "
        f"{result.created} new, {result.updated} changed, {result.unchanged} unchanged, "
        f"{result.discarded} discarded, {result.withdrawn} withdrawn, {result.skipped} skipped"
    )
    for problem in result.problems[:20]:
        console.print(f"[yellow]skipped:[/] {problem}")


@app.command()
def webhook(
    url: Annotated[str, typer.Option(help="accord service URL of POST /api/argilla/webhook.")],
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
    json_out: JsonOption = False,
) -> None:
    """Register (or reuse) an Argilla webhook sending response events to the accord service."""
    from ..feedback.argilla.webhooks import register_webhook

    if not url.rstrip("/").endswith("/api/argilla/webhook"):
        url = url.rstrip("/") + "/api/argilla/webhook"
    with _argilla_errors():
        info = register_webhook(_connect(api_url, api_key), url=url)
    if json_out:
        print_json(info.to_dict())
        return
    console.print(
        f"webhook {'created' if info.created else 'already registered'}: {info.url} "
        f"({', '.join(info.events)})"
    )
    console.print(f"set ACCORD_WEBHOOK_SECRET={info.secret} for the accord service")


@users_app.command("list")
def users_list(
    workspace: Workspace = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
    json_out: JsonOption = False,
) -> None:
    """Users of the Argilla server (of one workspace with --workspace)."""
    from ..feedback.argilla.users import list_users

    with _argilla_errors():
        users = list_users(_connect(api_url, api_key), workspace=workspace)
    if json_out:
        print_json([u.to_dict() for u in users])
        return
    table = Table("username", "role", "workspaces", "id")
    for user in users:
        table.add_row(user.username, user.role, ", ".join(user.workspaces), user.id)
    console.print(table)


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Argument(help="Login name.")],
    password: Annotated[
        str, typer.Option(help="At least 8 characters.", prompt=True, hide_input=True)
    ],
    role: Annotated[str, typer.Option(help="annotator | admin | owner.")] = "annotator",
    workspace: Workspace = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
    json_out: JsonOption = False,
) -> None:
    """Create an annotator account (or find it) and add it to a workspace."""
    from ..feedback.argilla.users import create_user

    with _argilla_errors():
        info = create_user(
            _connect(api_url, api_key),
            username=username,
            password=password,
            role=role,
            workspace=workspace,
        )
    if json_out:
        print_json(info.to_dict())
        return
    console.print(
        f"{'created' if info.created else 'found'} {info.role} [bold]{info.username}[/] "
        f"in {', '.join(info.workspaces) or 'no workspace'}"
    )


def _local(home: Path | None, port: int, search_port: int, redis_port: int, venv: Path | None):
    from ..feedback.argilla.local import LocalArgilla, LocalArgillaConfig

    kwargs = {"port": port, "search_port": search_port, "redis_port": redis_port, "venv": venv}
    if home is not None:
        kwargs["home"] = home
    try:
        config = LocalArgillaConfig(**kwargs)
    except ValueError as exc:
        fail(str(exc), 2)
    return LocalArgilla(config, echo=lambda message: console.print(f"[dim]{message}[/]"))


Home = Annotated[
    Path | None, typer.Option(help="Folder for venv, data, logs (default: <ACCORD_HOME>/argilla).")
]
Port = Annotated[int, typer.Option(help="Argilla API and UI port.")]
SearchPort = Annotated[int, typer.Option(help="Search engine port.")]
RedisPort = Annotated[int, typer.Option(help="Redis port.")]
Venv = Annotated[Path | None, typer.Option(help="Server venv (default: <home>/venv).")]


@local_app.command("start")
def local_start(
    home: Home = None,
    port: Port = 6900,
    search_port: SearchPort = 9200,
    redis_port: RedisPort = 6379,
    venv: Venv = None,
    json_out: JsonOption = False,
) -> None:
    """Install on first use, then start Redis, the search engine, the server and a worker."""
    from ..feedback.argilla.local import LocalArgillaError

    launcher = _local(home, port, search_port, redis_port, venv)
    try:
        status = launcher.start()
    except LocalArgillaError as exc:
        fail(str(exc))
    if json_out:
        print_json(status.to_dict())
        return
    console.print(
        f"Argilla ready at [bold]{status.api_url}[/] — owner 'argilla', "
        f"password '{launcher.config.owner_password}', api key '{status.api_key}'"
    )
    console.print(f"export ARGILLA_API_URL={status.api_url} ARGILLA_API_KEY={status.api_key}")


@local_app.command("stop")
def local_stop(
    home: Home = None,
    port: Port = 6900,
    search_port: SearchPort = 9200,
    redis_port: RedisPort = 6379,
    venv: Venv = None,
    wipe: Annotated[bool, typer.Option(help="Also delete the server's data.")] = False,
) -> None:
    """Stop the processes named by the PID files (TERM, then KILL after 10 s)."""
    outcome = _local(home, port, search_port, redis_port, venv).stop(wipe=wipe)
    for name, what in outcome.items():
        console.print(f"{name}: {what}")


@local_app.command("status")
def local_status(
    home: Home = None,
    port: Port = 6900,
    search_port: SearchPort = 9200,
    redis_port: RedisPort = 6379,
    venv: Venv = None,
    json_out: JsonOption = False,
) -> None:
    """Which components run, and whether the API answers."""
    status = _local(home, port, search_port, redis_port, venv).status()
    if json_out:
        print_json(status.to_dict())
    else:
        table = Table("component", "pid", "running", "port", "log")
        for c in status.components:
            table.add_row(
                c.name, str(c.pid or "-"), "yes" if c.alive else "no", str(c.port or "-"), c.log
            )
        console.print(table)
        console.print(f"{status.api_url}: {'ready' if status.ready else 'not ready'}")
    if not status.ready:
        raise typer.Exit(1)
