"""Step kinds a recipe can use: ``register_step(kind, config_model, run_fn)``; and the one
plug-in mechanism for every kind of thing accord has.

accord's own steps (import_prompts, generate, critique_revise, make_pairs, judge) register
themselves from ``accord.rlaif``. Other packages add kinds without touching this module:
either call ``register_step`` in a module named ``accord.<area>.recipe_steps`` (imported
automatically when a recipe is loaded), or expose it through the ``accord.recipe_steps``
entry-point group (the entry point names a module to import).

``load_plugins`` imports those modules once; a plug-in module may register any kind there:
recipe steps (``register_step``), queued job kinds (``accord.service.job_kinds.register_kind``,
whose lookups load plug-ins too), trainers (``accord.train.trainers.register_trainer``: a recipe
step and an API trainer), snapshot policies (``accord.snapshots.policies.register_policy``)
and export formats (``accord.snapshots.export_formats.register_export_format``).

>>> from accord.jobs.registry import StepConfig, register_step, step_kinds
>>> class EchoConfig(StepConfig):
...     message: str = "hi"
>>> register_step("echo-doc", EchoConfig, lambda ctx, cfg: None)
>>> "echo-doc" in step_kinds()
True
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

BUILTIN_MODULES = ("accord.rlaif.recipe_steps",)
# Packages that may contribute steps through an ``<area>.recipe_steps`` module.
PLUGIN_AREAS = (
    "audit",
    "snapshots",
    "train",
    "feedback",
    "feedback.argilla",
    "formats",
    "workflows",
    "service",
)
ENTRY_POINT_GROUP = "accord.recipe_steps"


class StepConfig(BaseModel):
    """Fields every step has. Subclasses add their own, each with a description."""

    model_config = ConfigDict(extra="forbid")
    # Whether the step hands a model to later steps (``{from_step: NAME}`` may name it).
    produces_model: ClassVar[bool] = False

    kind: str = Field(description="Registered step kind.")
    name: str | None = Field(
        default=None,
        description="Unique step name (default: the kind, "
        "numbered if repeated). Later steps refer to it in `input`.",
    )
    input: str | list[str] | None = Field(
        default=None,
        description="Step name(s) whose output this step consumes "
        "(default: the nearest earlier step that produced what it needs).",
    )


@dataclass(frozen=True)
class StepKind:
    kind: str
    config_model: type[StepConfig]
    run: Callable[[Any, Any], Any]
    description: str = ""


_REGISTRY: dict[str, StepKind] = {}
_PLUGIN_ERRORS: dict[str, str] = {}
_loaded = False


def _origin(fn: Callable) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def register_step(
    kind: str,
    config_model: type[StepConfig],
    run_fn: Callable[[Any, Any], Any],
    *,
    description: str = "",
) -> None:
    """Make ``kind`` usable in recipes. ``run_fn(ctx, config)`` returns a ``StepOutput``."""
    if not issubclass(config_model, StepConfig):
        raise TypeError(
            f"step {kind!r}: config model must subclass accord.jobs.registry.StepConfig"
        )
    existing = _REGISTRY.get(kind)
    # The same function registering again (a module imported twice) is fine; another is not.
    if existing is not None and _origin(existing.run) != _origin(run_fn):
        raise ValueError(f"step kind {kind!r} is already registered by {_origin(existing.run)}")
    _REGISTRY[kind] = StepKind(
        kind, config_model, run_fn, description or (config_model.__doc__ or "").strip()
    )


def is_registered(kind: str) -> bool:
    """Whether ``kind`` is registered now (loads no plug-ins)."""
    return kind in _REGISTRY


def load_plugins() -> None:
    """Import the built-in steps, ``accord.<area>.recipe_steps`` modules and entry points."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in BUILTIN_MODULES:
        importlib.import_module(module)
    for area in PLUGIN_AREAS:
        name = f"accord.{area}.recipe_steps"
        try:  # find_spec imports the area's package itself, which may be absent or broken
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:
            found = False
        except Exception as exc:  # noqa: BLE001 - reported by _plugin_failed
            _plugin_failed(name, exc)
            continue
        if found:
            _import_plugin(name)
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        _import_plugin(ep.value.split(":")[0])


load_step_plugins = load_plugins  # the name recipes' callers have used


def _import_plugin(name: str) -> None:
    """A broken plug-in must not stop recipes that do not use it: warn, and name it when one
    of its kinds is asked for."""
    try:
        importlib.import_module(name)
    except Exception as exc:  # noqa: BLE001 - reported, never swallowed silently
        _plugin_failed(name, exc)


def _plugin_failed(name: str, exc: Exception) -> None:
    _PLUGIN_ERRORS[name] = f"{type(exc).__name__}: {exc}"
    warnings.warn(f"recipe steps from {name} are unavailable: {exc}", stacklevel=3)


def get_step(kind: str) -> StepKind:
    load_step_plugins()
    if kind not in _REGISTRY:
        broken = "".join(f"; {m} failed to load ({e})" for m, e in _PLUGIN_ERRORS.items())
        raise KeyError(f"unknown step kind {kind!r}; known: {', '.join(sorted(_REGISTRY))}{broken}")
    return _REGISTRY[kind]


def step_kinds() -> dict[str, StepKind]:
    load_step_plugins()
    return dict(_REGISTRY)
