"""Fixtures for the Argilla tests: a store with pairs, connections, annotators, REST helpers.

The Argilla server itself is the session fixture ``argilla_server`` from
tests/fixtures/argilla_server.py; every test works in its own dataset (unique names).
"""

from __future__ import annotations

import uuid
import warnings
from dataclasses import dataclass

import httpx
import pytest

from accord.store.crud.pairs import upsert_pair
from accord.store.crud.prompts import upsert_prompt
from accord.store.crud.responses import upsert_response
from accord.store.db import open_store, session_scope

PASSWORD = "annotator-pass-1"


def seed_pairs(engine, n: int, *, tag: str, prompt_source: str = "test") -> list[int]:
    """``n`` pairs of distinct prompts; returns their ids in creation order."""
    ids = []
    with session_scope(engine) as session:
        for i in range(n):
            prompt = upsert_prompt(
                session, text=f"[{tag}] What is {i} + {i}?", source=prompt_source
            )
            right = upsert_response(session, prompt=prompt, text=f"**{2 * i}**: adding {i} twice.")
            wrong = upsert_response(session, prompt=prompt, text=f"It is {2 * i + 1}.")
            ids.append(upsert_pair(session, response_x=right, response_y=wrong, source=tag).id)
    return ids


@pytest.fixture
def store(tmp_path):
    return open_store(f"sqlite:///{tmp_path / 'accord.db'}")


@pytest.fixture
def unique_name() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def connection(argilla_server):
    from accord.feedback.argilla.client import connect

    return connect(api_url=argilla_server.url, api_key=argilla_server.api_key)


@dataclass
class Annotator:
    username: str
    user_id: str
    api_key: str
    http: httpx.Client

    def submit(
        self,
        record_id: str,
        label: str | None,
        *,
        status: str = "submitted",
        strength: int | None = None,
        rationale: str | None = None,
    ) -> dict:
        """POST /api/v1/records/{id}/responses, as the web UI does (fires webhooks)."""
        values = {}
        if label is not None:
            values["preference"] = {"value": label}
        if strength is not None:
            values["strength"] = {"value": strength}
        if rationale is not None:
            values["rationale"] = {"value": rationale}
        body = {"status": status, "values": values}
        response = self.http.post(f"/api/v1/records/{record_id}/responses", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def change(self, response_id: str, label: str, *, status: str = "submitted") -> dict:
        response = self.http.put(
            f"/api/v1/responses/{response_id}",
            json={"status": status, "values": {"preference": {"value": label}}},
        )
        assert response.status_code == 200, response.text
        return response.json()

    def delete(self, response_id: str) -> None:
        response = self.http.delete(f"/api/v1/responses/{response_id}")
        assert response.status_code == 200, response.text


@pytest.fixture
def make_annotator(argilla_server, connection):
    """Create an annotator account through the SDK and sign it in with its own API key."""
    from accord.feedback.argilla.users import create_user, sign_in

    clients = []

    def make(username: str, workspace: str) -> Annotator:
        info = create_user(connection, username=username, password=PASSWORD, workspace=workspace)
        key = sign_in(argilla_server.url, username=username, password=PASSWORD)
        http = httpx.Client(
            base_url=argilla_server.url, headers={"X-Argilla-Api-Key": key}, timeout=60
        )
        clients.append(http)
        return Annotator(username=username, user_id=info.id, api_key=key, http=http)

    yield make
    for http in clients:
        http.close()


def records_by_pair(connection, dataset_id: str) -> dict[int, dict]:
    """The dataset's records keyed by accord pair id (from their metadata)."""
    items = connection.get_json(f"/api/v1/datasets/{dataset_id}/records", limit=1000)["items"]
    return {r["metadata"]["accord_pair_id"]: r for r in items}


@pytest.fixture(autouse=True)
def _quiet_sdk_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


class CuttableProxy:
    """A TCP forwarder to the Argilla server that can be cut, like a network outage."""

    def __init__(self, target_port: int):
        import socket
        import threading

        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list = []
        self.cut_off = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        import socket
        import threading

        while not self.cut_off:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.cut_off:
                client.close()
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self.sockets += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src, dst) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.close()
                except OSError:
                    pass

    def cut(self) -> None:
        import socket

        self.cut_off = True
        try:  # wakes the thread blocked in accept(); close() alone would not
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        for sock in self.sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            except OSError:
                pass
