"""Shared fixtures. Real services (PostgreSQL, Argilla, the vLLM OpenAI server, Chromium)
start once per session in their fixture modules under tests/fixtures/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tests never reach a model hub: everything they load is built offline by accord itself.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.models",
    "tests.fixtures.vllm_server",
    "tests.fixtures.argilla_server",
]

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests keep screenshots and reports for people to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session", autouse=True)
def _accord_home(tmp_path_factory) -> None:
    """Caches and reports of the tests go to a session folder; the tiny models are shared
    across sessions (built once, keyed by their recipe) unless ACCORD_TEST_MODELS_DIR says
    otherwise."""
    home = tmp_path_factory.mktemp("accord-home")
    os.environ.setdefault("ACCORD_HOME", str(home))
    from accord.settings import get_settings

    get_settings.cache_clear()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'accord.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:
    """The store suite runs on both SQLite and a real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'accord.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def engine(db_url):
    from accord.store.db import open_store

    return open_store(db_url)
