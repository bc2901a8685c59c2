"""Generation backends behind one interface, chosen by name.

``make_backend(name, model, **options)`` returns a ``Backend``: ``transformers`` (local,
CPU or GPU), ``openai`` (any OpenAI-compatible server) or ``vllm`` (in-process vLLM). Each
backend module is imported only when asked for, so ``vllm`` need not be installed to use
the others.

>>> from accord.backends import BACKEND_NAMES
>>> BACKEND_NAMES
('transformers', 'openai', 'vllm')
>>> backend = make_backend("transformers", "accord/tiny", batch_size=4)   # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

from accord.backends.base import (
    Backend,
    BackendError,
    GenerationRequest,
    GenerationResult,
    SamplingParams,
    TokenLogprob,
)

_IMPLEMENTATIONS = {
    "transformers": ("accord.backends.transformers_backend", "TransformersBackend"),
    "openai": ("accord.backends.openai_backend", "OpenAIBackend"),
    "vllm": ("accord.backends.vllm_backend", "VLLMBackend"),
}
BACKEND_NAMES: tuple[str, ...] = tuple(_IMPLEMENTATIONS)


def backend_class(name: str) -> type:
    """The class implementing backend ``name`` (imports its module)."""
    try:
        module_name, class_name = _IMPLEMENTATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown backend {name!r}; choose one of {', '.join(BACKEND_NAMES)}"
        ) from None
    return getattr(importlib.import_module(module_name), class_name)


def make_backend(name: str, model: str, **options: Any) -> Backend:
    """Build backend ``name`` serving ``model`` with backend-specific ``options``."""
    return backend_class(name)(model, **options)


__all__ = [
    "BACKEND_NAMES",
    "Backend",
    "BackendError",
    "GenerationRequest",
    "GenerationResult",
    "SamplingParams",
    "TokenLogprob",
    "backend_class",
    "make_backend",
]
