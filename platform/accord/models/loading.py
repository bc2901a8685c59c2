"""Model ids to loaded models: the tiny offline ids, hub ids and local folders alike.

``accord/tiny`` and ``accord/tiny-reward`` name the models accord builds itself (see
``accord.models.tiny``); ``accord/NAME`` names a catalogue model installed by
``accord models pull NAME`` (see ``accord.models.catalogue``; pulled on first use); any other
id is a hub id or a local path and is passed unchanged to ``from_pretrained``, so real models
load through exactly the same functions.

>>> from accord.models.loading import resolve_model_path
>>> resolve_model_path("Qwen/Qwen2.5-0.5B-Instruct")
'Qwen/Qwen2.5-0.5B-Instruct'
>>> tok = load_tokenizer("accord/tiny")              # doctest: +SKIP
>>> model = load_causal_lm("accord/tiny", dtype="float32")  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

TINY_MODEL_ID = "accord/tiny"
TINY_REWARD_MODEL_ID = "accord/tiny-reward"
TINY_MODEL_KINDS = {TINY_MODEL_ID: "causal", TINY_REWARD_MODEL_ID: "reward"}


def is_tiny_model_id(model_id: str) -> bool:
    return model_id in TINY_MODEL_KINDS


def resolve_model_path(model_id: str | Path, *, cache_dir: str | Path | None = None) -> str:
    """What to hand to ``from_pretrained`` (or vLLM) for ``model_id``.

    The tiny ids are built and catalogue aliases pulled on first use; everything else is
    returned unchanged.
    """
    model_id = str(model_id)
    kind = TINY_MODEL_KINDS.get(model_id)
    if kind is None:
        from accord.models.catalogue import ALIAS_PREFIX, catalogue_name

        if model_id.startswith(ALIAS_PREFIX) and catalogue_name(model_id) is not None:
            from accord.models.pull import ensure_model

            return str(ensure_model(model_id))
        return model_id
    from accord.models.tiny import ensure_tiny_model

    return str(ensure_tiny_model(kind, cache_dir=cache_dir))


def resolve_dtype(dtype: Any):
    """``"auto"``/``None`` stay as they are; names like ``"bfloat16"`` become ``torch`` dtypes."""
    import torch

    if dtype is None or dtype == "auto" or isinstance(dtype, torch.dtype):
        return dtype
    aliases = {
        "bf16": "bfloat16",
        "fp16": "float16",
        "half": "float16",
        "fp32": "float32",
        "float": "float32",
    }
    name = aliases.get(str(dtype), str(dtype))
    if name not in {"float32", "bfloat16", "float16", "float64"}:
        raise ValueError(f"unknown dtype {dtype!r}; use auto, float32, bfloat16 or float16")
    return getattr(torch, name)


def load_tokenizer(model_id: str | Path, *, padding_side: str | None = None, **kwargs: Any):
    """``AutoTokenizer`` for ``model_id``; a missing pad token falls back to the eos token."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(model_id), **kwargs)
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    if padding_side is not None:
        tokenizer.padding_side = padding_side
    return tokenizer


def _model_kwargs(dtype: Any, device_map: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    out = dict(kwargs)
    if dtype is not None:
        out["dtype"] = resolve_dtype(dtype)
    if device_map is not None:
        out["device_map"] = device_map
    return out


def load_causal_lm(
    model_id: str | Path, *, dtype: Any = None, device_map: Any = None, **kwargs: Any
):
    """``AutoModelForCausalLM`` for ``model_id`` (tiny id, hub id or folder)."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(
        resolve_model_path(model_id), **_model_kwargs(dtype, device_map, kwargs)
    )


def load_reward_model(
    model_id: str | Path, *, dtype: Any = None, device_map: Any = None, **kwargs: Any
):
    """``AutoModelForSequenceClassification`` with one label (a scalar reward head)."""
    from transformers import AutoModelForSequenceClassification

    kwargs.setdefault("num_labels", 1)
    return AutoModelForSequenceClassification.from_pretrained(
        resolve_model_path(model_id), **_model_kwargs(dtype, device_map, kwargs)
    )
