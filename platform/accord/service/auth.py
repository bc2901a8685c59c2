"""Bearer tokens and roles.

A token is shown once when its user is created; the store keeps only its SHA-256. Each route
declares the roles allowed to call it with ``allow(...)``; the permissions below are the
role matrix of the API (``docs/service.md`` lists it per route).

>>> from accord.service.auth import hash_token, new_token, OPERATE
>>> token = new_token()
>>> len(hash_token(token)), token.startswith("acc_")
(64, True)
>>> sorted(OPERATE.roles)
['admin', 'engineer']
"""

from __future__ import annotations

import hashlib
import hmac
import secrets as _secrets
from dataclasses import dataclass

from ..store.models.user import ROLES

TOKEN_PREFIX = "acc_"


def new_token() -> str:
    """A fresh random bearer token (256 bits)."""
    return TOKEN_PREFIX + _secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


@dataclass(frozen=True)
class Permission:
    """A named set of roles; a route guarded by it admits exactly these roles."""

    name: str
    roles: frozenset[str]

    def __post_init__(self) -> None:
        unknown = set(self.roles) - set(ROLES)
        if unknown:
            raise ValueError(f"permission {self.name!r} names unknown roles {sorted(unknown)}")


def permission(name: str, *roles: str) -> Permission:
    return Permission(name, frozenset(roles))


# Reading the labelled data: everyone signed in (annotators need pairs, prompts, responses).
READ_DATA = permission("read_data", "admin", "engineer", "annotator", "viewer")
# Reading operations (jobs, snapshots, runs): not annotators, who only label.
READ_OPS = permission("read_ops", "admin", "engineer", "viewer")
# Human labels through the API.
ANNOTATE = permission("annotate", "admin", "annotator")
# Starting and stopping work: jobs, snapshots, training, adding prompts.
OPERATE = permission("operate", "admin", "engineer")
# Users and tokens.
ADMIN = permission("admin", "admin")

PERMISSIONS = (READ_DATA, READ_OPS, ANNOTATE, OPERATE, ADMIN)
