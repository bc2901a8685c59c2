"""Annotator accounts and workspaces on the Argilla server.

    accord argilla users create alice --password 's3cret-pass' --workspace labels
    accord argilla users list --workspace labels --json

>>> ArgillaUserInfo(id="u1", username="alice", role="annotator", workspaces=["labels"]).username
'alice'
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field

import httpx

from .client import ArgillaConnection

ROLES = ("annotator", "admin", "owner")


@dataclass
class ArgillaUserInfo:
    id: str
    username: str
    role: str
    workspaces: list[str] = field(default_factory=list)
    created: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def resolve_workspace_name(connection: ArgillaConnection, workspace: str | None) -> str:
    """``workspace`` created if missing; without one, the key's only workspace (or 'accord')."""
    import argilla as rg

    client = connection.client
    if workspace:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = connection.call(lambda: client.workspaces(workspace), what="workspace lookup")
        if found is None:
            connection.call(
                lambda: rg.Workspace(name=workspace, client=client).create(),
                what="workspace creation",
            )
        return workspace
    names = [w["name"] for w in connection.get_json("/api/v1/me/workspaces")["items"]]
    if len(names) == 1:
        return names[0]
    if not names:
        connection.call(
            lambda: rg.Workspace(name="accord", client=client).create(), what="workspace creation"
        )
        return "accord"
    raise ValueError(
        f"this API key sees several workspaces ({', '.join(sorted(names))}): pass --workspace"
    )


def _user_workspaces(connection: ArgillaConnection, user_id: str) -> list[str]:
    items = connection.get_json(f"/api/v1/users/{user_id}/workspaces")["items"]
    return sorted(w["name"] for w in items)


def list_users(
    connection: ArgillaConnection, *, workspace: str | None = None
) -> list[ArgillaUserInfo]:
    """Every user the key may see, with their workspaces (only ``workspace``'s when given)."""
    users = []
    for item in connection.get_json("/api/v1/users")["items"]:
        spaces = _user_workspaces(connection, item["id"])
        if workspace is not None and workspace not in spaces:
            continue
        users.append(
            ArgillaUserInfo(
                id=item["id"], username=item["username"], role=item["role"], workspaces=spaces
            )
        )
    return sorted(users, key=lambda u: u.username)


def create_user(
    connection: ArgillaConnection,
    *,
    username: str,
    password: str,
    role: str = "annotator",
    workspace: str | None = None,
    first_name: str | None = None,
) -> ArgillaUserInfo:
    """Create the account (or find it) and add it to ``workspace``; idempotent."""
    import argilla as rg

    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    if len(password) < 8:
        raise ValueError("Argilla passwords need at least 8 characters")
    client = connection.client
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        user = connection.call(lambda: client.users(username=username), what="user lookup")
    created = user is None
    if created:
        user = rg.User(
            username=username,
            password=password,
            role=role,
            first_name=first_name or username,
            client=client,
        )
        connection.call(user.create, what="user creation")
    if workspace:
        name = resolve_workspace_name(connection, workspace)
        if name not in _user_workspaces(connection, str(user.id)):
            ws = client.workspaces(name)
            connection.call(lambda: ws.add_user(user), what="adding the user to the workspace")
    return ArgillaUserInfo(
        id=str(user.id),
        username=user.username,
        role=str(user.role.value),
        workspaces=_user_workspaces(connection, str(user.id)),
        created=created,
    )


def sign_in(api_url: str, *, username: str, password: str, timeout: float = 30.0) -> str:
    """The API key of a user, from their username and password (as the web UI signs in)."""
    api_url = api_url.rstrip("/")
    with httpx.Client(base_url=api_url, timeout=timeout) as http:
        token = http.post("/api/v1/token", data={"username": username, "password": password})
        if token.status_code in (401, 403, 422):
            raise ValueError(f"Argilla at {api_url} refused the sign-in of {username!r}")
        token.raise_for_status()
        me = http.get(
            "/api/v1/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"}
        )
        me.raise_for_status()
        return me.json()["api_key"]
