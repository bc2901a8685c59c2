"""A step field naming the model an earlier step produced: ``model: {from_step: sl}``.

Generation and judge steps (``model``) and training steps (``base_model``, ``ref_model``,
``reward_model``, ``eval_reward_model``) accept ``{from_step: NAME}``: at run time it becomes
the folder of the model that step NAME produced (a training step's run, the loop's last
policy). Generation and judge steps may add ``backend`` and ``options`` (default: the
transformers backend, no options). The recipe is refused before anything runs when NAME is no
step, comes later, or is a kind of step that produces no model; a step that produced several
models (a β sweep) is refused when the reference is resolved. The folder of a reused training
run is the same folder, so backend calls keep their cache keys and a rerun recomputes nothing.

>>> from_step_of({"from_step": "sl"})
'sl'
>>> from_step_of("policy") is None
True
>>> print(check_from_step({"from_step": "sl", "temperature": 1}))
model reference {from_step: ...} takes only from_step, backend, options; not temperature
"""

from __future__ import annotations

from typing import Any

# Keys of a reference; ``backend`` and ``options`` only matter where a backend is built.
REF_KEYS = ("from_step", "backend", "options")
BACKENDS = ("transformers", "openai", "vllm")


def from_step_of(value: Any) -> str | None:
    """The step a field's value names with ``{from_step: NAME}``; None for any other value."""
    if isinstance(value, dict) and "from_step" in value:
        return value["from_step"]
    return None


def check_from_step(value: dict[str, Any]) -> str | None:
    """What is wrong with a ``{from_step: ...}`` mapping's shape (None: nothing)."""
    extra = sorted(set(value) - set(REF_KEYS))
    if extra:
        return (
            "model reference {from_step: ...} takes only from_step, backend, options; "
            f"not {', '.join(extra)}"
        )
    if not isinstance(value["from_step"], str) or not value["from_step"]:
        return "from_step must be the name of an earlier step"
    if value.get("backend", "transformers") not in BACKENDS:
        return f"backend must be one of {', '.join(BACKENDS)}"
    if not isinstance(value.get("options", {}), dict):
        return "options must be a mapping"
    return None


def model_ref_fields(config: Any) -> list[tuple[str, dict[str, Any]]]:
    """(field name, reference) for each top-level field of a step config that holds one."""
    out = []
    for name in type(config).model_fields:
        value = getattr(config, name, None)
        if from_step_of(value) is not None:
            out.append((name, value))
    return out


def reference_problems(
    config: Any, *, earlier: dict[str, Any], later: set[str] = frozenset()
) -> list[tuple[str, str]]:
    """(field, message) for each bad ``from_step`` reference of a step; ``earlier`` maps the
    names of the steps before it to their configs, ``later`` holds the names after it."""
    problems = []
    for field, ref in model_ref_fields(config):
        shape = check_from_step(ref)
        if shape is not None:
            problems.append((field, shape))
            continue
        name = ref["from_step"]
        if name in earlier:
            if not getattr(type(earlier[name]), "produces_model", False):
                problems.append(
                    (
                        field,
                        f"from_step {name!r} is a step of kind {earlier[name].kind}, "
                        "which produces no model (name a training or loop step)",
                    )
                )
        elif name in later or name == getattr(config, "name", None):
            problems.append(
                (
                    field,
                    f"from_step {name!r} does not run before this step (a step "
                    "can only use a model made before it)",
                )
            )
        else:
            problems.append((field, f"from_step {name!r} is not the name of a step"))
    return problems


def produced_model(ctx: Any, *, field: str, name: str) -> str:
    """The model folder the earlier step ``name`` produced (for ``field`` of the running step)."""
    out = ctx.outputs.get(name)
    if out is None:
        raise ValueError(
            f"step {ctx.step_name!r}: {field}: from_step {name!r} has not run before this step"
        )
    path = getattr(out, "model", None)
    if not path:
        why = getattr(out, "no_model_reason", "") or "it produced no model"
        raise ValueError(f"step {ctx.step_name!r}: {field}: from_step {name!r}: {why}")
    return path
