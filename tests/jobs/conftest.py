"""Fixtures of the job tests: the real tiny model behind the transformers backend, a fresh
SQLite store per test, and a recorder that wraps a real backend to count its calls (all from
tests/fixtures/tiny_backend.py)."""

from __future__ import annotations

from tests.fixtures.tiny_backend import recorder, store, tiny_backend  # noqa: F401
