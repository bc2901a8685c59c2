"""Constitutions: bundled files load, hashes are canonical, errors name file, line and field,
and each version is stored once."""

from __future__ import annotations

import pytest

from accord.constitutions import (
    Constitution,
    DocumentError,
    list_constitution_files,
    load_constitution,
    store_constitution,
    validate_document,
)
from accord.store.db import session_scope
from accord.store.models import ConstitutionRow


def test_bundled_constitutions_load():
    names = {load_constitution(p).name for p in list_constitution_files()}
    assert {"harmlessness", "helpfulness-honesty", "tiny-test"} <= names
    tiny = load_constitution("tiny-test")
    assert len(tiny.principles) == 2
    for c in map(load_constitution, list_constitution_files()):
        for p in c.principles:
            assert p.critique_request and p.revision_request and p.comparison_question


def test_hash_ignores_formatting_but_not_content(tmp_path):
    c = load_constitution("tiny-test")
    reformatted = tmp_path / "same.yaml"
    reformatted.write_text("# comment\n" + c.to_yaml())
    assert load_constitution(reformatted).content_hash == c.content_hash
    changed = c.model_copy(update={"version": "2"})
    assert changed.content_hash != c.content_hash


def test_errors_name_file_line_and_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\nversion: 1\nprinciples:\n"
        "  - id: ok\n    critique_request: c\n    revision_request: r\n    comparison_question: q\n"
        "  - id: ok\n    critique_request: c\n    revision_request: ''\n    comparison_question: "
        "q\n"
        "    surprise: 1\n"
    )
    with pytest.raises(DocumentError) as err:
        validate_document(Constitution, bad)
    text = str(err.value)
    assert f"{bad}:10: principles[1].revision_request" in text
    assert f"{bad}:12: principles[1].surprise" in text


def test_duplicate_ids_and_yaml_syntax_errors(tmp_path):
    dup = tmp_path / "dup.yaml"
    dup.write_text(
        "name: d\nversion: '1'\nprinciples:\n"
        + "  - {id: x, critique_request: c, revision_request: r, comparison_question: q}\n" * 2
    )
    with pytest.raises(DocumentError, match="repeated"):
        validate_document(Constitution, dup)
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    with pytest.raises(DocumentError, match=rf"{broken}:\d+: <document>: invalid YAML"):
        validate_document(Constitution, broken)


def test_stored_once_per_version(store):
    c = load_constitution("harmlessness")
    with session_scope(store) as s:
        first = store_constitution(s, c).id
        assert store_constitution(s, c).id == first
        store_constitution(s, c.model_copy(update={"version": "9"}))
    with session_scope(store) as s:
        rows = s.query(ConstitutionRow).all()
        assert len(rows) == 2 and {r.content_hash for r in rows} == {
            c.content_hash,
            c.model_copy(update={"version": "9"}).content_hash,
        }
