"""Secrets in configs: recognised by their option name, never stored, never shown.

An option whose name says it holds a secret (``api_key``, ``token``, ``password``,
``secret``, ``authorization``, ``credentials``…) must not carry the secret itself in a job
config: the worker's environment does (``OPENAI_API_KEY`` for the OpenAI backend), or the
config names an environment variable with a secret reference ``{"env": "NAME"}``, which
``resolve_secret_refs`` replaces in the job's own process only. ``redact`` hides any literal
secret in a config before it is stored, returned or logged.

>>> redact({"model": "m", "options": {"api_key": "sk-123", "pad_token": "<pad>"}})
{'model': 'm', 'options': {'api_key': '<redacted>', 'pad_token': '<pad>'}}
>>> literal_secrets({"options": {"api_key": {"env": "OPENAI_API_KEY"}, "token": "t"}})
['options.token']
>>> import os; os.environ["DOC_KEY"] = "s3"
>>> resolve_secret_refs({"api_key": {"env": "DOC_KEY"}})
{'api_key': 's3'}
"""

from __future__ import annotations

import os
import re
from typing import Any

REDACTED = "<redacted>"
_SECRET_NAME = re.compile(
    r"(api_?key|access_?key|secret_?key|private_?key|client_?secret|secret|password|passwd"
    r"|authorization|credentials?|webhook_secret"
    r"|^(api_|auth_|access_|bearer_|hf_|refresh_|id_)?token)$",
    re.IGNORECASE,
)


def is_secret_name(name: object) -> bool:
    """True for an option name that holds a secret (``pad_token``, ``max_tokens`` do not)."""
    return isinstance(name, str) and _SECRET_NAME.search(name) is not None


def is_secret_ref(value: object) -> bool:
    """``{"env": "NAME"}``: a reference to an environment variable of the job's process."""
    return isinstance(value, dict) and set(value) == {"env"} and isinstance(value["env"], str)


def redact(value: Any) -> Any:
    """``value`` with every literal secret replaced by ``"<redacted>"`` (references kept)."""
    if isinstance(value, dict):
        return {
            k: (
                REDACTED
                if is_secret_name(k) and v not in (None, "") and not is_secret_ref(v)
                else redact(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def literal_secrets(value: Any, path: str = "") -> list[str]:
    """The dotted paths of options holding a literal secret (not a reference, not empty)."""
    found: list[str] = []
    if isinstance(value, dict):
        for k, v in value.items():
            here = f"{path}.{k}" if path else str(k)
            if is_secret_name(k) and v not in (None, "", REDACTED) and not is_secret_ref(v):
                found.append(here)
            else:
                found += literal_secrets(v, here)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += literal_secrets(v, f"{path}[{i}]")
    return found


def resolve_secret_refs(value: Any) -> Any:
    """``value`` with each ``{"env": "NAME"}`` replaced by that variable (KeyError naming it)."""
    if value == REDACTED:  # a secret redacted when stored: the backend's own default applies
        return None
    if is_secret_ref(value):
        name = value["env"]
        if name not in os.environ:
            raise KeyError(f"secret reference: environment variable {name} is not set")
        return os.environ[name]
    if isinstance(value, dict):
        return {k: resolve_secret_refs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_secret_refs(v) for v in value]
    return value
