"""The trainers accord has, each registered once: its ``*Config`` dataclass and its function.

The faces are generated from this registry and from the config dataclasses, so an option lives
in one place, its ``*Config`` field (type, default, ``help`` metadata, ``__post_init__``
validation):

- ``accord train <name>``: one option per field (``accord.cli.train``);
- the recipe step ``train_<name>``: one step field per field (``accord.train.recipe_steps``);
- the API job kind ``train`` with ``{"trainer": "<name>", ...}`` (``accord.service.job_kinds``).

A new trainer is one ``register_trainer`` call and appears in all three (one registered from a
plug-in module, ``accord.jobs.registry.load_plugins``, appears as a recipe step and an API
trainer; ``accord.cli.train.make_command`` builds its command). A new option is one field of
its config.

>>> from accord.train.trainers import get_trainer, trainers
>>> sorted(trainers())
['dpo', 'grpo', 'ppo', 'rloo', 'rm', 'sft']
>>> grpo = get_trainer("grpo")
>>> grpo.config_class().__name__, dict(grpo.train_kwargs)
('OnlineRLConfig', {'algorithm': 'grpo'})
>>> [o.name for o in config_options(grpo.config_class())][:3]
['snapshot', 'model', 'output_dir']
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, NoneType, UnionType
from typing import Any


def _load(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class Trainer:
    """One trainer: where its config and function are, and how its faces differ from the config.

    ``config`` and ``train`` are ``"module:attribute"`` paths, imported only when used (the
    config modules import no torch). ``train_kwargs`` are passed to the function beside the
    config (RLOO and GRPO share one function). ``cli_names`` gives a field option names other
    than ``--field-name`` (the first name is the one shown; the field's own name is always
    accepted too); ``cli_defaults`` are the command's defaults where they differ from the
    config's.
    """

    name: str
    config: str
    train: str
    summary: str
    train_kwargs: Mapping[str, Any] = field(default_factory=dict)
    cli_names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    cli_defaults: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or self.name != self.name.lower():
            raise ValueError(f"trainer name must be a lower-case identifier, got {self.name!r}")
        for path in (self.config, self.train):
            if ":" not in path:
                raise ValueError(
                    f"trainer {self.name!r}: {path!r} is not a 'module:attribute' path"
                )
        object.__setattr__(self, "train_kwargs", MappingProxyType(dict(self.train_kwargs)))

    def config_class(self) -> type:
        return _load(self.config)

    def train_function(self) -> Callable[..., Any]:
        return _load(self.train)

    def run(self, config: Any, **kwargs: Any) -> Any:
        """Train: ``train_x(config, **train_kwargs, **kwargs)`` (``engine``, ``snapshot``)."""
        return self.train_function()(config, **self.train_kwargs, **kwargs)


_TRAINERS: dict[str, Trainer] = {}


def register_trainer(trainer: Trainer) -> Trainer:
    """Make ``trainer`` a command, a recipe step and an API trainer; the same one twice is fine."""
    existing = _TRAINERS.get(trainer.name)
    if existing is not None and existing != trainer:
        raise ValueError(f"trainer {trainer.name!r} is already registered ({existing.train})")
    _TRAINERS[trainer.name] = trainer
    steps = sys.modules.get("accord.train.recipe_steps")
    if steps is not None and hasattr(steps, "register_train_steps"):  # a plug-in, after accord's
        steps.register_train_steps()
    return trainer


def trainers() -> dict[str, Trainer]:
    return dict(_TRAINERS)


def get_trainer(name: str) -> Trainer:
    try:
        return _TRAINERS[name]
    except KeyError:
        raise KeyError(f"unknown trainer {name!r}; known: {', '.join(sorted(_TRAINERS))}") from None


# -- the fields of a config, as the faces see them ------------------------------------------


@dataclass(frozen=True)
class ConfigOption:
    """One field of a trainer config: name, type (resolved), default, help text."""

    name: str
    type: Any
    default: Any
    help: str

    @property
    def item_type(self) -> type | None:
        """The element type of a list field (``list[str] | None`` → ``str``), else None."""
        for part in _union_parts(self.type):
            if typing.get_origin(part) is list:
                (item,) = typing.get_args(part) or (str,)
                return item
        return None

    @property
    def optional(self) -> bool:
        return NoneType in _union_parts(self.type)

    @property
    def scalar_type(self) -> type | None:
        """bool, int, float or str for a (possibly optional) scalar field, else None."""
        parts = [p for p in _union_parts(self.type) if p is not NoneType]
        return parts[0] if len(parts) == 1 and parts[0] in (bool, int, float, str) else None


def _union_parts(hint: Any) -> tuple[Any, ...]:
    if isinstance(hint, UnionType) or typing.get_origin(hint) is typing.Union:
        return typing.get_args(hint)
    return (hint,)


def _help(cls: type, name: str) -> str:
    """A field's help text: a subclass that only changes a default keeps its base's help."""
    for klass in cls.__mro__:
        f = getattr(klass, "__dataclass_fields__", {}).get(name)
        if f is not None and f.metadata.get("help"):
            return f.metadata["help"]
    return ""


def config_options(cls: type) -> list[ConfigOption]:
    """Every field of the config dataclass ``cls``, in declaration order, with its help text."""
    hints = typing.get_type_hints(cls)
    options = []
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = dataclasses.MISSING
        options.append(ConfigOption(f.name, hints[f.name], default, _help(cls, f.name)))
    return options


# -- accord's trainers -----------------------------------------------------------------------

register_trainer(
    Trainer(
        "sft",
        "accord.train.sft_config:SFTTrainConfig",
        "accord.train.sft:train_sft",
        "Supervised fine-tuning on chosen responses (or critique-revise revisions).",
    )
)
register_trainer(
    Trainer(
        "rm",
        "accord.train.rm_config:RewardTrainConfig",
        "accord.train.rm:train_rm",
        "Bradley–Terry reward model; held-out accuracy and calibration stored on the run.",
        cli_names={"margin_from_score": ("--margin/--no-margin",)},
    )
)
register_trainer(
    Trainer(
        "dpo",
        "accord.train.dpo_config:DPOTrainConfig",
        "accord.train.dpo:train_dpo",
        "DPO (trl loss types, β) with soft labels and cached reference log-probs.",
        cli_names={
            "soft_labels": ("--soft-labels/--hard-labels",),
            "cache_ref_logps": ("--ref-cache/--no-ref-cache",),
        },
    )
)
register_trainer(
    Trainer(
        "ppo",
        "accord.train.ppo.config:PPOTrainConfig",
        "accord.train.ppo.trainer:train_ppo",
        "PPO with a per-token KL penalty to the reference, value model + GAE, adaptive KL.",
        cli_names={"rollout_batch_size": ("--batch-size",), "kl_coef": ("--beta", "--kl-coef")},
    )
)
for _algorithm in ("rloo", "grpo"):
    register_trainer(
        Trainer(
            _algorithm,
            "accord.train.online_config:OnlineRLConfig",
            "accord.train.online:train_online",
            f"{_algorithm.upper()} through trl with the reward model as reward function.",
            train_kwargs={"algorithm": _algorithm},
            cli_names={"use_vllm": ("--vllm/--no-vllm",)},
            cli_defaults={"max_steps": 10, "num_generations": 2},
        )
    )
