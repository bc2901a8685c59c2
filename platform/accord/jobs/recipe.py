"""Recipes: declarative YAML pipelines run by ``accord run pipelines/<name>.yaml``.

A recipe names its models once (alias → backend, model, options) and lists steps; each step
has a registered ``kind`` (see ``accord.jobs.registry``) and that kind's fields. Validation
errors name the file, the line and the field path (``steps[2].temperature``), and nothing runs
until the whole recipe is valid.

>>> recipe = parse_recipe({"name": "demo", "models": {"policy": {"backend": "transformers",
...     "model": "accord/tiny"}}, "steps": [{"kind": "import_prompts", "bundled": "quickstart"},
...     {"kind": "generate", "n": 2}]})
>>> [s.name for s in recipe.steps]
['import_prompts', 'generate']
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, ValidationError

from ..constitutions import DocumentError, read_yaml_document, validation_problems
from .model_refs import reference_problems
from .registry import StepConfig, get_step


class ModelSpec(BaseModel):
    """A model a step can use, by alias."""

    model_config = ConfigDict(extra="forbid")

    backend: Literal["transformers", "openai", "vllm"] = Field(description="Backend name.")
    model: str = Field(
        min_length=1, description="Hub id, folder, served model name or accord/tiny."
    )
    options: dict[str, Any] = Field(default_factory=dict, description="Backend options.")


class _RecipeDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")
    description: str = ""
    seed: int = 0
    database_url: str | None = Field(
        default=None,
        description="Store URL (the CLI's --db and ACCORD_DATABASE_URL take precedence).",
    )
    models: dict[str, ModelSpec] = Field(default_factory=dict)
    steps: list[dict[str, Any]] = Field(min_length=1)
    base_dir: str | None = Field(
        default=None,
        description="Folder that relative paths are "
        "resolved against (default: the recipe file's folder).",
    )


class Recipe(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    seed: int = 0
    database_url: str | None = None
    models: dict[str, ModelSpec] = Field(default_factory=dict)
    steps: list[SerializeAsAny[StepConfig]]
    base_dir: str | None = None
    source_path: str | None = Field(default=None, exclude=True)

    def config_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def parse_recipe(
    data: Any, *, path: str | Path = "<recipe>", lines: dict[tuple, int] | None = None
) -> Recipe:
    """Validate a recipe document; raise ``DocumentError`` listing every problem found."""
    lines = lines or {}
    path = str(path)
    if not isinstance(data, dict):
        raise DocumentError(path, [("", 1, "expected a mapping at the top of the recipe")])
    try:
        doc = _RecipeDocument.model_validate(data)
    except ValidationError as exc:
        raise DocumentError(path, validation_problems(exc, lines)) from None
    problems: list[tuple[str, int | None, str]] = []
    steps: list[StepConfig] = []
    seen: dict[str, int] = {}
    earlier: dict[str, StepConfig] = {}
    for i, raw in enumerate(doc.steps):
        loc = ("steps", i)
        kind = raw.get("kind")
        if not isinstance(kind, str):
            problems.append((f"steps[{i}].kind", lines.get(loc), "every step needs a kind"))
            continue
        try:
            step_kind = get_step(kind)
        except KeyError as exc:
            problems.append((f"steps[{i}].kind", lines.get(loc + ("kind",)), exc.args[0]))
            continue
        try:
            config = step_kind.config_model.model_validate(raw)
        except ValidationError as exc:
            problems.extend(validation_problems(_Relocated(exc, loc), lines))
            continue
        if config.name is None:
            n = sum(1 for s in steps if s.kind == kind)
            config.name = kind if n == 0 else f"{kind}-{n + 1}"
        if config.name in seen:
            problems.append(
                (
                    f"steps[{i}].name",
                    lines.get(loc + ("name",), lines.get(loc)),
                    f"step name {config.name!r} is already used by steps[{seen[config.name]}]",
                )
            )
        seen.setdefault(config.name, i)
        refs = [config.input] if isinstance(config.input, str) else (config.input or [])
        for ref in refs:
            if ref not in seen or seen[ref] >= i:
                problems.append(
                    (
                        f"steps[{i}].input",
                        lines.get(loc + ("input",), lines.get(loc)),
                        f"input {ref!r} is not the name of an earlier step",
                    )
                )
        later = {r.get("name") or r.get("kind") for r in doc.steps[i + 1 :] if isinstance(r, dict)}
        for field, message in reference_problems(config, earlier=earlier, later=later):
            problems.append(
                (f"steps[{i}].{field}", lines.get(loc + (field,), lines.get(loc)), message)
            )
        earlier.setdefault(config.name, config)
        model = getattr(config, "model", None)
        if isinstance(model, str) and model not in doc.models:
            problems.append(
                (
                    f"steps[{i}].model",
                    lines.get(loc + ("model",), lines.get(loc)),
                    (
                        f"unknown model alias {model!r}; define it under models: "
                        f"(known: {sorted(doc.models) or 'none'})"
                    ),
                )
            )
        steps.append(config)
    if problems:
        raise DocumentError(path, problems)
    return Recipe(
        name=doc.name,
        description=doc.description,
        seed=doc.seed,
        database_url=doc.database_url,
        models=doc.models,
        steps=steps,
        base_dir=doc.base_dir or (str(Path(path).resolve().parent) if path != "<recipe>" else None),
        source_path=None if path == "<recipe>" else path,
    )


class _Relocated:
    """A ValidationError look-alike whose errors carry the step's location prefix."""

    def __init__(self, exc: ValidationError, prefix: tuple):
        self._errors = [{**err, "loc": prefix + tuple(err["loc"])} for err in exc.errors()]

    def errors(self) -> list[dict[str, Any]]:
        return self._errors


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe file."""
    data, lines = read_yaml_document(path)
    return parse_recipe(data, path=path, lines=lines)


def bundled_pipelines_dir() -> Path:
    here = Path(__file__).resolve().parent.parent
    for candidate in (here.parent.parent / "pipelines", here / "_data" / "pipelines"):
        if candidate.is_dir():
            return candidate
    return here.parent.parent / "pipelines"


def resolve_recipe_path(path_or_name: str | Path) -> Path:
    """A recipe file as given, else a bundled recipe by name (``quickstart``)."""
    p = Path(path_or_name)
    if p.is_file():
        return p
    bundled = bundled_pipelines_dir() / (p.name if p.suffix else f"{p.name}.yaml")
    if bundled.is_file():
        return bundled
    raise FileNotFoundError(
        f"no recipe file {str(path_or_name)!r} (bundled: "
        f"{', '.join(f.stem for f in sorted(bundled_pipelines_dir().glob('*.yaml')))})"
    )
