"""Fixtures of the job tests: the real tiny model behind the transformers backend, a fresh
SQLite store per test, and a recorder that wraps a real backend to count its calls."""

from __future__ import annotations

import pytest


class RecordingBackend:
    """Passes every call to a real backend and remembers each batch it was given."""

    def __init__(self, inner):
        self.inner = inner
        self.name = inner.name
        self.model_id = inner.model_id
        self.calls: list[list] = []

    def generate(self, requests):
        self.calls.append(list(requests))
        return self.inner.generate(requests)

    def close(self) -> None:
        pass


@pytest.fixture(scope="session")
def tiny_backend():
    from accord.backends import make_backend

    backend = make_backend("transformers", "accord/tiny", batch_size=16)
    yield backend
    backend.close()


@pytest.fixture
def recorder(tiny_backend):
    return RecordingBackend(tiny_backend)


@pytest.fixture
def store(tmp_path):
    from accord.store.db import open_store

    return open_store(f"sqlite:///{tmp_path / 'store.db'}")
