"""Prompt template files: a bundled name or a YAML file, read, validated and cached.

Every task that asks a model through a template (the pairwise judge, the listwise ranker,
critique and revision) reads its file here, so a bad file fails the same way everywhere:
naming its file, line and field.

>>> check_placeholders("Q: {request}", allowed=("request",), required=("request",))
'Q: {request}'
>>> sorted(p.stem for p in PROMPTS_DIR.glob("*.yaml"))[:2]
['critique', 'judge']
"""

from __future__ import annotations

import functools
import string
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ..backends.base import GenerationRequest

PROMPTS_DIR = Path(__file__).parent / "prompts"


def placeholders(text: str) -> list[str]:
    """The ``{name}`` fields of a format string (``ValueError`` for a malformed one)."""
    return [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]


def check_placeholders(text: str, *, allowed: tuple[str, ...], required: tuple[str, ...]) -> str:
    try:
        names = placeholders(text)
    except ValueError as exc:
        raise ValueError(
            f"malformed placeholder ({exc}); write a literal brace as {{{{ or }}}}"
        ) from None
    unknown = sorted({n for n in names if n not in allowed})
    if unknown:
        raise ValueError(
            f"unknown placeholder {', '.join('{' + n + '}' for n in unknown)}; "
            f"known: {', '.join('{' + n + '}' for n in allowed)}"
        )
    missing = [n for n in required if n not in names]
    if missing:
        raise ValueError(f"missing placeholder {', '.join('{' + n + '}' for n in missing)}")
    return text


def resolve_prompt_path(
    name_or_path: str | Path, *, kind: str, base_dir: Path | None = None
) -> Path:
    """A bundled template name (``judge``, ``critique``) or a YAML file (relative paths are
    read from ``base_dir``)."""
    bundled = PROMPTS_DIR / f"{name_or_path}.yaml"
    if "/" not in str(name_or_path) and not str(name_or_path).endswith((".yaml", ".yml")):
        if bundled.is_file():
            return bundled
        names = ", ".join(sorted(p.stem for p in PROMPTS_DIR.glob("*.yaml")))
        raise FileNotFoundError(
            f"no bundled {kind} template {name_or_path!r} (bundled: {names}); or give a YAML file"
        )
    path = Path(name_or_path)
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    return path


@functools.lru_cache(maxsize=32)
def _load(model: type[BaseModel], path: str, mtime: float) -> Any:
    from ..constitutions import validate_document

    return validate_document(model, path)


def load_prompt(
    model: type[BaseModel], name_or_path: str | Path, *, kind: str, base_dir: Path | None = None
) -> Any:
    """Read and validate a template file (``DocumentError`` naming file, line and field)."""
    from ..constitutions import DocumentError

    path = resolve_prompt_path(name_or_path, kind=kind, base_dir=base_dir)
    try:
        mtime = path.stat().st_mtime
    except OSError as exc:
        raise DocumentError(
            str(path), [("", None, f"cannot read file: {exc.strerror or exc}")]
        ) from None
    return _load(model, str(path), mtime)


def render_messages(messages: list[dict[str, str]], assistant_prefix: str | None) -> str:
    """Messages as plain text, one ``[role]`` block each, the assistant's prefix last."""
    blocks = [f"[{m['role']}]\n{m['content']}" for m in messages]
    return "\n".join(blocks + [f"[assistant]\n{assistant_prefix or ''}"])


def render_exact(requests: list[GenerationRequest], model: str | None) -> list[str]:
    """The text the model continues: its chat template plus the assistant prefix (as the
    local backends render it), or plain role blocks without a model."""
    if model is None:
        return [render_messages(r.messages, r.assistant_prefix) for r in requests]
    from ..models.loading import load_tokenizer

    tokenizer = load_tokenizer(model)
    if not tokenizer.chat_template:
        raise ValueError(f"{model} has no chat template")
    return [
        tokenizer.apply_chat_template(r.messages, tokenize=False, add_generation_prompt=True)
        + (r.assistant_prefix or "")
        for r in requests
    ]
