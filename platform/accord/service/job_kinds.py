"""What a queued job can be, how its config is checked when it is submitted, and which
function runs it in the worker.

- ``recipe``: ``{"recipe": <recipe document> | "<bundled pipeline name>", "retry_errors": false}``
  runs ``accord.jobs.run_recipe`` on the job's own row (its content-addressed cache makes a
  resumed run exact).
- ``train``: ``{"trainer": "sft" | "rm" | "dpo" | "ppo" | "rloo" | "grpo", "reuse": true,
  ...fields of that trainer's config}`` runs the trainer registered under that name
  (``accord.train.trainers``); like a recipe's training step, a finished run with the same
  snapshot hash and config is reused unless ``reuse`` is false.
- ``snapshot``: ``{"name", "policy", "test_fraction", "seed", "source", "params": {...}}`` runs
  ``accord.snapshots.create_snapshot``.
- ``argilla_push``: ``{"dataset", "workspace", "priority", "gold_rate", "limit",
  "min_submitted", "seed"}`` runs ``accord.feedback.argilla.push.push_pairs``.
- ``argilla_pull``: ``{"dataset", "workspace", "page_size", "withdraw_missing"}`` runs
  ``accord.feedback.argilla.pull.pull_judgments`` (the worker also queues it on a schedule).

A handler takes a ``JobContext`` (``accord.service.jobrun``) and returns the job's result
(a JSON-able dict). Other kinds are added with ``register_kind`` from a plug-in module, the same
mechanism as recipe steps (``accord.jobs.registry.load_plugins``: an ``accord.<area>.recipe_steps``
module or an ``accord.recipe_steps`` entry point).

>>> from accord.service.job_kinds import validate_config
>>> validate_config("snapshot", {"name": "s1", "policy": "majority"})["name"]
's1'
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..names import NAME_RULE, is_safe_name


class JobConfigError(ValueError):
    """A job config that cannot run; ``problems`` lists (field, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{f or 'config'}: {m}" for f, m in problems))


@dataclass(frozen=True)
class JobKind:
    name: str
    validate: Callable[[dict[str, Any]], dict[str, Any]]
    handler: str  # "module:function", imported in the job's own process


_KINDS: dict[str, JobKind] = {}


def register_kind(
    name: str, *, validate: Callable[[dict[str, Any]], dict[str, Any]], handler: str
) -> None:
    """Make ``name`` a job kind: ``validate`` checks a submitted config, ``handler`` is the
    ``"module:function"`` the worker runs. The same registration twice is fine; another is not."""
    kind = JobKind(name, validate, handler)
    existing = _KINDS.get(name)
    if existing is not None and existing != kind:
        raise ValueError(f"job kind {name!r} is already registered (handler {existing.handler})")
    _KINDS[name] = kind


def job_kinds() -> dict[str, JobKind]:
    from ..jobs.registry import load_plugins

    load_plugins()
    return dict(_KINDS)


def get_kind(name: str) -> JobKind:
    if name not in _KINDS:
        from ..jobs.registry import load_plugins

        load_plugins()
    try:
        return _KINDS[name]
    except KeyError:
        known = ", ".join(sorted(_KINDS))
        raise JobConfigError([("kind", f"unknown job kind {name!r}; known: {known}")]) from None


@dataclass(frozen=True)
class ApiJobPolicy:
    """What a job submitted through the API may name: absolute paths only under ``roots``,
    ``trust_remote_code`` only when allowed, no literal secret (see ``accord.secret_values``)."""

    roots: tuple[Path, ...] = ()
    allow_trust_remote_code: bool = False

    @classmethod
    def from_settings(cls, settings) -> ApiJobPolicy:
        return cls(
            roots=settings.path_roots(), allow_trust_remote_code=settings.allow_trust_remote_code
        )


# Options that name a file, folder or local model (and any option ending in _dir/_path/_file).
PATH_OPTIONS = frozenset(
    {
        "file",
        "path",
        "base_dir",
        "out_dir",
        "output_dir",
        "model",
        "model_path",
        "base_model",
        "reward_model",
        "ref_model",
        "tokenizer",
        "constitution",
        "snapshot",
        "chat_template",
        "resume_from_checkpoint",
        "database_url",
        "db_url",
        "template",
        "judge_template",
        "judge_constitution",
        "judge_model",
    }
)


def _is_path_option(name: str) -> bool:
    return name in PATH_OPTIONS or name.endswith(("_dir", "_path", "_file", "_folder"))


def _server_path(value: str) -> str | None:
    """The filesystem path ``value`` names on the server when it is absolute, home-relative,
    ``file:`` or climbs with ``..`` (None for relative names and hub ids)."""
    text = (
        value.removeprefix("file://").removeprefix("file:") if value.startswith("file:") else value
    )
    if (
        value.startswith("file:")
        or text.startswith(("/", "~", "\\"))
        or (len(text) > 1 and text[1] == ":")
        or ".." in Path(text.replace("\\", "/")).parts
    ):
        return text
    return None


def policy_problems(config: Any, policy: ApiJobPolicy, path: str = "") -> list[tuple[str, str]]:
    """Every option of ``config`` (walked through) that ``policy`` refuses."""
    from ..secret_values import literal_secrets

    secret = (
        "a secret in a job config would be stored and shown: set it in the worker's "
        'environment (e.g. OPENAI_API_KEY) or send {"env": "NAME"}'
    )
    problems = [(p, secret) for p in literal_secrets(config, path)]

    remote = (
        "trust_remote_code runs the model's own code in the worker; the service allows "
        "it only with ACCORD_ALLOW_TRUST_REMOTE_CODE=true"
    )

    def walk(value: Any, where: str, key: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{where}.{k}" if where else str(k), str(k))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{where}[{i}]", key)
        elif (
            key == "trust_remote_code" and value is not False and not policy.allow_trust_remote_code
        ):
            problems.append((where, remote))
        elif (
            isinstance(value, str)
            and (_is_path_option(key) or value.startswith("file:"))
            and ("\x00" in value or _server_path(value))
        ):
            target = _server_path(value) if "\x00" not in value else None
            if target is None or not _under_roots(target, policy.roots):
                roots = ", ".join(map(str, policy.roots)) or "none configured"
                message = (
                    f"{value[:200]!r} is a server path outside the folders jobs may use "
                    f"(ACCORD_JOB_PATH_ROOTS: {roots}); use bundled data, the store, or a "
                    "path under one of them"
                )
                problems.append((where, message))

    walk(config, path, "")
    return problems


def _under_roots(text: str, roots: tuple[Path, ...]) -> bool:
    try:
        target = Path(text).expanduser().resolve()
    except (OSError, RuntimeError, ValueError):
        return False
    return any(target == root or root in target.parents for root in roots)


def validate_config(
    kind: str, config: dict[str, Any], *, policy: ApiJobPolicy | None = None
) -> dict[str, Any]:
    """The config as it will be stored, or ``JobConfigError`` naming every bad field.

    ``policy``: the config comes from the API; paths, ``trust_remote_code`` and secrets are
    checked against it (local callers, the CLI, pass none)."""
    if not isinstance(config, dict):
        raise JobConfigError([("config", "must be a JSON object")])
    if policy is not None:
        problems = policy_problems(config, policy)
        if problems:
            raise JobConfigError(problems)
    return get_kind(kind).validate(config)


def resolve_handler(path: str) -> Callable[..., dict[str, Any] | None]:
    module_name, _, attr = path.partition(":")
    return getattr(importlib.import_module(module_name), attr)


# -- recipe ---------------------------------------------------------------------------------
def _validate_recipe(config: dict[str, Any]) -> dict[str, Any]:
    from ..constitutions import DocumentError
    from ..jobs.recipe import bundled_pipelines_dir, parse_recipe

    unknown = set(config) - {"recipe", "retry_errors"}
    if unknown:
        raise JobConfigError(
            [(k, "unknown field (expected recipe, retry_errors)") for k in sorted(unknown)]
        )
    recipe = config.get("recipe")
    retry = config.get("retry_errors", False)
    if not isinstance(retry, bool):
        raise JobConfigError([("retry_errors", "must be true or false")])
    if isinstance(recipe, str):
        # Only bundled pipelines by name: the API never reads arbitrary server paths.
        path = bundled_pipelines_dir() / f"{recipe}.yaml"
        if "/" in recipe or "\\" in recipe or not path.is_file():
            names = sorted(p.stem for p in bundled_pipelines_dir().glob("*.yaml"))
            message = (
                f"no bundled pipeline {recipe!r}; bundled: {', '.join(names)} "
                "(or send the recipe document)"
            )
            raise JobConfigError([("recipe", message)])
        return {"recipe": recipe, "retry_errors": retry}
    if not isinstance(recipe, dict):
        raise JobConfigError(
            [("recipe", "send a recipe document (object) or a bundled pipeline name")]
        )
    try:
        parsed = parse_recipe(recipe, path="recipe")
    except DocumentError as exc:
        raise JobConfigError([("recipe", str(exc).removeprefix("recipe: "))]) from None
    if parsed.database_url:
        message = "jobs run on the service's own store; remove database_url"
        raise JobConfigError([("recipe.database_url", message)])
    return {"recipe": recipe, "retry_errors": retry}


def run_recipe_job(ctx) -> dict[str, Any]:
    from ..jobs import run_recipe
    from ..jobs.recipe import bundled_pipelines_dir
    from ..secret_values import resolve_secret_refs

    recipe = ctx.config["recipe"]
    if isinstance(recipe, str):
        recipe = bundled_pipelines_dir() / f"{recipe}.yaml"
    else:  # {"env": NAME} secret references become values in this process only
        recipe = resolve_secret_refs(recipe)
    result = run_recipe(
        ctx.engine,
        recipe,
        job_id=ctx.job_id,
        progress=False,
        retry_errors=ctx.config.get("retry_errors", False),
        worker_id=ctx.worker_id,
    )
    return result.to_dict()


# -- train ----------------------------------------------------------------------------------
def trainer_for(name: str) -> tuple[type, Callable]:
    """The config dataclass and function of the registered trainer ``name``."""
    from ..train.trainers import get_trainer

    trainer = get_trainer(name)
    return trainer.config_class(), trainer.train_function()


def _validate_train(config: dict[str, Any]) -> dict[str, Any]:
    from ..train.trainers import get_trainer, trainers

    names = sorted(trainers())
    trainer = config.get("trainer")
    if trainer not in names:
        raise JobConfigError([("trainer", f"must be one of {', '.join(names)}; got {trainer!r}")])
    try:
        config_cls = get_trainer(trainer).config_class()
    except (ImportError, AttributeError) as exc:
        raise JobConfigError(
            [("trainer", f"trainer {trainer!r} is not available: {exc}")]
        ) from None
    fields = {k: v for k, v in config.items() if k not in ("trainer", "reuse")}
    reuse = config.get("reuse", True)
    if not isinstance(reuse, bool):
        raise JobConfigError([("reuse", "must be true or false")])
    known = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise JobConfigError([(k, f"not a field of {config_cls.__name__}") for k in unknown])
    if "db_url" in fields:
        raise JobConfigError([("db_url", "jobs run on the service's own store; remove db_url")])
    try:
        config_cls(**fields)
    except (TypeError, ValueError) as exc:
        raise JobConfigError([("config", str(exc))]) from None
    return {"trainer": trainer, "reuse": reuse, **fields}


def _stored_snapshot_hash(engine, name: str) -> str | None:
    """The content hash of the store's snapshot ``name`` (None for an export folder)."""
    from sqlmodel import Session, select

    from ..store.models import Snapshot

    with Session(engine) as session:
        return session.exec(select(Snapshot.content_hash).where(Snapshot.name == name)).first()


def run_train_job(ctx) -> dict[str, Any]:
    from ..train.trainers import get_trainer
    from ..workflows.run_reuse import find_finished_run

    trainer = ctx.config["trainer"]
    spec = get_trainer(trainer)
    config = spec.config_class()(
        **{k: v for k, v in ctx.config.items() if k not in ("trainer", "reuse")}
    )
    snapshot_hash = _stored_snapshot_hash(ctx.engine, config.snapshot)
    if ctx.config.get("reuse", True) and snapshot_hash:
        # Training is content-addressed, as in a recipe: a job queued again (or retried after
        # its worker died past the end of training) reuses the finished run, adding no run.
        run = find_finished_run(
            ctx.engine, kind=trainer, snapshot_hash=snapshot_hash, config=config.to_dict()
        )
        if run is not None:
            ctx.progress(1, 1, f"reused finished {trainer} run {run.id}")
            return {
                "run_id": run.id,
                "reused": True,
                "output_dir": run.artifact_path,
                "metrics": _jsonable(dict(run.metrics or {})),
            }
    ctx.progress(0, 1, f"training {trainer}")
    result = spec.run(config, engine=ctx.engine)
    ctx.progress(1, 1, "trained")
    return {**_jsonable(result), "reused": False}


def _jsonable(value: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(value):
        value = dataclasses.asdict(value)
    if hasattr(value, "to_dict"):
        value = value.to_dict()
    if not isinstance(value, dict):
        return {"value": str(value)}
    import json

    return json.loads(json.dumps(value, default=str))


# -- snapshot -------------------------------------------------------------------------------
SNAPSHOT_FIELDS = (
    "name",
    "policy",
    "test_fraction",
    "seed",
    "source",
    "params",
    "min_gold_accuracy",
)


def _validate_snapshot(config: dict[str, Any]) -> dict[str, Any]:
    from ..snapshots import POLICIES, PolicyParams

    problems = [
        (k, f"unknown field (expected {', '.join(SNAPSHOT_FIELDS)})")
        for k in sorted(set(config) - set(SNAPSHOT_FIELDS))
    ]
    name = config.get("name")
    if not is_safe_name(name):
        problems.append(("name", f"a snapshot name is required: {NAME_RULE}"))
    policy = config.get("policy")
    if policy not in POLICIES:
        problems.append(("policy", f"must be one of {', '.join(POLICIES)}; got {policy!r}"))
    fraction = config.get("test_fraction", 0.1)
    if (
        isinstance(fraction, bool)
        or not isinstance(fraction, (int, float))
        or not 0 <= fraction < 1
    ):
        problems.append(("test_fraction", "must be a number in [0, 1)"))
    seed = config.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        problems.append(("seed", "must be an integer"))
    if config.get("source") is not None and not isinstance(config.get("source"), str):
        problems.append(("source", "must be a string"))
    params = config.get("params", {})
    if not isinstance(params, dict):
        problems.append(("params", "must be an object"))
    else:
        try:
            PolicyParams(**params)
        except (TypeError, ValueError) as exc:
            problems.append(("params", str(exc)))
    gold = config.get("min_gold_accuracy")
    if gold is not None and (
        isinstance(gold, bool) or not isinstance(gold, (int, float)) or not 0 <= gold <= 1
    ):
        problems.append(("min_gold_accuracy", "must be a number in [0, 1]"))
    if problems:
        raise JobConfigError(problems)
    return {
        "name": name,
        "policy": policy,
        "test_fraction": float(fraction),
        "seed": seed,
        "source": config.get("source"),
        "params": params,
        **({"min_gold_accuracy": float(gold)} if gold is not None else {}),
    }


def run_snapshot_job(ctx) -> dict[str, Any]:
    from ..snapshots import PolicyParams, create_snapshot

    c = ctx.config
    ctx.progress(0, 1, f"building snapshot {c['name']}")
    snap = create_snapshot(
        ctx.engine,
        name=c["name"],
        policy=c["policy"],
        test_fraction=c["test_fraction"],
        seed=c["seed"],
        source=c.get("source"),
        params=PolicyParams(**c.get("params", {})),
        min_gold_accuracy=c.get("min_gold_accuracy"),
    )
    ctx.progress(1, 1, "snapshot ready")
    return {
        "snapshot_id": snap.id,
        "name": snap.name,
        "content_hash": snap.content_hash,
        "n_train": snap.n_train,
        "n_test": snap.n_test,
    }


# -- argilla pull ---------------------------------------------------------------------------
MAX_ARGILLA_PAGE_SIZE = 1000
ARGILLA_PULL_FIELDS = {"dataset": str, "workspace": str, "page_size": int, "withdraw_missing": bool}


def _validate_argilla_pull(config: dict[str, Any]) -> dict[str, Any]:
    problems = [
        (k, f"unknown field (expected {', '.join(ARGILLA_PULL_FIELDS)})")
        for k in sorted(set(config) - set(ARGILLA_PULL_FIELDS))
    ]
    for name, kind in ARGILLA_PULL_FIELDS.items():
        value = config.get(name)
        if value is not None and (
            not isinstance(value, kind) or (kind is int and isinstance(value, bool))
        ):
            problems.append((name, f"must be a {kind.__name__}"))
    if not isinstance(config.get("dataset"), str) or not config["dataset"]:
        problems.append(("dataset", "the Argilla dataset to pull is required"))
    for name in ("dataset", "workspace"):
        value = config.get(name)
        if isinstance(value, str) and value and not is_safe_name(value):
            problems.append((name, f"an Argilla {name} name: {NAME_RULE}"))
    page_size = config.get("page_size")
    if (
        isinstance(page_size, int)
        and not isinstance(page_size, bool)
        and not 1 <= page_size <= MAX_ARGILLA_PAGE_SIZE
    ):
        problems.append(("page_size", f"must be 1 to {MAX_ARGILLA_PAGE_SIZE}; got {page_size}"))
    if problems:
        raise JobConfigError(problems)
    return dict(config)


def run_argilla_pull_job(ctx) -> dict[str, Any]:
    """Pull submitted answers from Argilla (server and key from ARGILLA_API_URL/_KEY)."""
    from ..feedback.argilla.pull import pull_judgments

    ctx.progress(0, 0, f"pulling {ctx.config['dataset']} from Argilla")
    result = pull_judgments(
        ctx.engine,
        **ctx.config,
        progress=lambda done, total: ctx.progress(done, total, "records pulled"),
    )
    return _jsonable(result)


# -- argilla push ---------------------------------------------------------------------------
ARGILLA_PUSH_FIELDS = {
    "dataset": str,
    "workspace": str,
    "priority": str,
    "gold_rate": float,
    "limit": int,
    "min_submitted": int,
    "seed": int,
}


def _validate_argilla_push(config: dict[str, Any]) -> dict[str, Any]:
    from ..feedback.argilla.priority import PRIORITIES

    problems = [
        (k, f"unknown field (expected {', '.join(ARGILLA_PUSH_FIELDS)})")
        for k in sorted(set(config) - set(ARGILLA_PUSH_FIELDS))
    ]
    for name, kind in ARGILLA_PUSH_FIELDS.items():
        value = config.get(name)
        numeric = kind is float and isinstance(value, int)
        if value is not None and (
            isinstance(value, bool) or not (isinstance(value, kind) or numeric)
        ):
            problems.append((name, f"must be a {kind.__name__}"))
    if not isinstance(config.get("dataset"), str) or not config["dataset"]:
        problems.append(("dataset", "the Argilla dataset to push to is required"))
    for name in ("dataset", "workspace"):
        value = config.get(name)
        if isinstance(value, str) and value and not is_safe_name(value):
            problems.append((name, f"an Argilla {name} name: {NAME_RULE}"))
    if config.get("priority") is not None and config["priority"] not in PRIORITIES:
        problems.append(("priority", f"must be one of {', '.join(PRIORITIES)}"))
    rate = config.get("gold_rate")
    if isinstance(rate, (int, float)) and not isinstance(rate, bool) and not 0 <= rate < 1:
        problems.append(("gold_rate", "must be in [0, 1)"))
    for name in ("limit", "min_submitted"):
        value = config.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value < 1:
            problems.append((name, "must be at least 1"))
    if problems:
        raise JobConfigError(problems)
    return dict(config)


def run_argilla_push_job(ctx) -> dict[str, Any]:
    """Push unlabelled pairs to Argilla (server and key from ARGILLA_API_URL/_KEY)."""
    from ..feedback.argilla.push import push_pairs

    ctx.progress(0, 0, f"pushing to {ctx.config['dataset']} on Argilla")
    result = push_pairs(
        ctx.engine,
        **ctx.config,
        progress=lambda done, total: ctx.progress(done, total, "records pushed"),
    )
    return _jsonable(result)


register_kind(
    "argilla_push", validate=_validate_argilla_push, handler=f"{__name__}:run_argilla_push_job"
)
register_kind("recipe", validate=_validate_recipe, handler=f"{__name__}:run_recipe_job")
register_kind("train", validate=_validate_train, handler=f"{__name__}:run_train_job")
register_kind("snapshot", validate=_validate_snapshot, handler=f"{__name__}:run_snapshot_job")
register_kind(
    "argilla_pull", validate=_validate_argilla_pull, handler=f"{__name__}:run_argilla_pull_job"
)
