"""Every module's docstring example runs: the examples are documentation users copy.

Each module runs in a fresh working folder (examples may create ``accord.db`` or export
folders there). Examples that need a running service or a large model carry
``# doctest: +SKIP`` in the module itself.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import accord

# Alembic's env.py only runs inside alembic; migration scripts have no examples.
_NOT_IMPORTABLE_ALONE = ("accord.store.migrations",)

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(accord.__path__, "accord.")
    if not info.name.startswith(_NOT_IMPORTABLE_ALONE)
)
_SLOW = {"accord.train.bandit"}


@pytest.mark.parametrize(
    "module_name",
    [pytest.param(name, marks=pytest.mark.slow) if name in _SLOW else name for name in MODULES],
)
def test_docstring_examples_run(module_name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(module_name)
    result = doctest.testmod(
        module,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        report=True,
        verbose=False,
    )
    assert result.failed == 0, (
        f"{result.failed} of {result.attempted} examples failed in {module_name}"
    )
