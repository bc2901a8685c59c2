"""``accord train``: train on a snapshot (sft, rm, dpo, ppo, rloo, grpo); every run is recorded.

Why: one command per trainer, so a run is reproducible from its command line alone. The
commands are generated from the trainer registry (``accord.train.trainers``): every field of
the trainer's ``*Config`` dataclass is an option (``--field-name``, its help text and default
from the field), so a new field is a new option with no edit here. List fields take
comma-separated values (``--loss-type sigmoid,sft``). Fields of other types are set through
recipes or the API only.

Single process (CPU or one GPU)::

    accord train dpo --snapshot helpful-v1 --model accord/tiny --max-steps 20 --beta 0.1

Several GPUs (one process per device; the main process records the run)::

    accelerate launch --config_file platform/accord/train/accelerate_configs/ddp.yaml \\
        -m accord.cli.main train dpo --snapshot helpful-v1 --model Qwen/Qwen2.5-0.5B-Instruct

Departures from trl's scripts (``trl/scripts/dpo.py`` …): options are accord's config fields,
not ``TrainingArguments`` (trl arguments accord does not set keep trl's defaults, see
``accord.train.common.trl_arguments``); the snapshot comes from the store or a ``--format trl``
export, never from the Hub; names kept from before the generation are aliases (``--batch-size``,
``--lr``, ``--margin``, ``--ref-cache``, ``--hard-labels``, ``--beta`` for PPO's ``kl_coef``,
``--vllm``), and RLOO/GRPO default to 10 steps and groups of 2.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any

import typer

from ..train.trainers import ConfigOption, Trainer, config_options, trainers
from .common import DbOption, JsonOption, console, fail, print_json

app = typer.Typer(
    help="Train on a curated snapshot; runs are recorded in the store.", no_args_is_help=True
)

# Option names of the fields every trainer shares (``TrainConfig``), beside ``--field-name``.
COMMON_NAMES: dict[str, tuple[str, ...]] = {
    "snapshot": ("--snapshot", "-s"),
    "learning_rate": ("--learning-rate", "--lr"),
    "per_device_train_batch_size": ("--batch-size",),
    "output_dir": ("--output-dir", "-o"),
}
REQUIRED = ("snapshot",)
# Set by the command itself (``--db``), not generated.
NOT_OPTIONS = ("db_url",)


def _flag(name: str, bool_flag: bool) -> str:
    dashed = name.replace("_", "-")
    return f"--{dashed}/--no-{dashed}" if bool_flag else f"--{dashed}"


def option_names(trainer: Trainer, option: ConfigOption) -> tuple[str, ...]:
    """The option's names: the trainer's or the shared ones first, then ``--field-name``."""
    bool_flag = option.scalar_type is bool
    taken = {n.split("/")[0] for names in trainer.cli_names.values() for n in names}
    names = [*trainer.cli_names.get(option.name, ())]
    if not names:
        names = [n for n in COMMON_NAMES.get(option.name, ()) if n not in taken]
    own = _flag(option.name, bool_flag)
    if own.split("/")[0] not in {n.split("/")[0] for n in names}:
        names.append(own)
    return tuple(names)


def _parameter(trainer: Trainer, option: ConfigOption) -> inspect.Parameter | None:
    default = trainer.cli_defaults.get(option.name, option.default)
    if option.scalar_type is not None:
        kind: Any = option.scalar_type | None if option.optional else option.scalar_type
    elif option.item_type in (str, int, float):
        kind = str | None
        default = None if default is None else ",".join(str(v) for v in default)
    else:
        return None
    help_text = option.help + (" (comma-separated)" if option.item_type else "")
    info = typer.Option(*option_names(trainer, option), help=help_text)
    required = option.name in REQUIRED or default is inspect.Parameter.empty
    return inspect.Parameter(
        option.name,
        inspect.Parameter.KEYWORD_ONLY,
        default=inspect.Parameter.empty if required else default,
        annotation=Annotated[kind, info],
    )


def _split(option: ConfigOption, value: str | None) -> list[Any] | None:
    if value is None:
        return None if option.optional else []
    items = [v.strip() for v in value.split(",") if v.strip()]
    try:
        return [option.item_type(v) for v in items]
    except ValueError:
        fail(
            f"bad option: --{option.name.replace('_', '-')}: {value!r} is not a comma-separated "
            f"list of {option.item_type.__name__}",
            code=2,
        )


def _run(make_config, trainer: Trainer, json_out: bool) -> None:
    try:
        config = make_config()
    except (TypeError, ValueError) as e:
        fail(f"bad option: {e}", code=2)
    with console.status(f"training ({type(config).__name__}) …", spinner="dots"):
        try:
            result = trainer.run(config)
        except (ValueError, LookupError, FileNotFoundError) as e:
            fail(str(e))
    out = {
        "run_id": result.run_id,
        "output_dir": str(result.output_dir),
        "metrics": result.metrics,
        "warnings": result.warnings,
    }
    if json_out:
        print_json(out)
        return
    if result.run_id is None:  # a non-main process of a distributed launch
        console.print("done (this process's figures; the main process records the run)")
        return
    console.print(f"[bold green]run {result.run_id}[/] done → {result.output_dir}")
    for k, v in result.metrics.items():
        console.print(f"  {k}: {v:.4g}" if isinstance(v, float) else f"  {k}: {v}")
    for w in result.warnings:
        console.print(f"[yellow]warning:[/] {w}")


def make_command(trainer: Trainer):
    """The ``accord train <name>`` command of ``trainer``, its options from the config's fields."""
    config_cls = trainer.config_class()
    options = {o.name: o for o in config_options(config_cls) if o.name not in NOT_OPTIONS}
    params = [p for o in options.values() if (p := _parameter(trainer, o)) is not None]
    params.sort(key=lambda p: p.default is not inspect.Parameter.empty)  # required ones first
    params += [
        inspect.Parameter("db", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=DbOption),
        inspect.Parameter(
            "json_out", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=JsonOption
        ),
    ]

    def command(**values: Any) -> None:
        json_out = values.pop("json_out")
        kwargs: dict[str, Any] = {"db_url": values.pop("db")}
        for name, value in values.items():
            option = options[name]
            kwargs[name] = _split(option, value) if option.item_type else value
        _run(lambda: config_cls(**kwargs), trainer, json_out)

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    command.__doc__ = trainer.summary
    command.__name__ = command.__qualname__ = trainer.name
    return command


for _trainer in trainers().values():
    app.command(_trainer.name)(make_command(_trainer))
