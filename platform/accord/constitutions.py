"""Constitutions: named, versioned lists of principles that drive critique, revision and judging.

A constitution is a YAML document (``constitutions/*.yaml`` ships three). Each principle has an
id, a critique request, a revision request and a pairwise comparison question; optional
few-shot examples show the model the expected shape of a critique and a revision. Loading
validates with pydantic and reports errors as ``file:line: field.path: message``. A version is
identified by the SHA-256 of its canonical content and stored once in table ``constitution``.

>>> c = load_constitution("tiny-test")
>>> [p.id for p in c.principles]
['harmless', 'helpful']
>>> len(c.content_hash)
64
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlmodel import Session

from .hashing import canonical_json, sha256_hex
from .store.models import ConstitutionRow

# --------------------------------------------------------------------------------------------
# YAML documents with line numbers (shared by constitutions and recipes)
# --------------------------------------------------------------------------------------------


class DocumentError(ValueError):
    """A YAML document that cannot be read or does not fit its schema.

    ``problems`` lists ``(field path, line or None, message)``; ``str()`` names the file.
    """

    def __init__(self, path: str, problems: list[tuple[str, int | None, str]]):
        self.path = path
        self.problems = problems
        lines = []
        for field_path, line, message in problems:
            where = f"{path}:{line}" if line else path
            lines.append(f"{where}: {field_path or '<document>'}: {message}")
        super().__init__("\n".join(lines))


def _line_index(node: yaml.Node, prefix: tuple = (), out: dict | None = None) -> dict[tuple, int]:
    """Map each field path (tuple of keys / list indices) to its 1-based line in the file."""
    out = {} if out is None else out
    out.setdefault(prefix, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            path = prefix + (key_node.value,)
            out[path] = key_node.start_mark.line + 1
            _line_index(value_node, path, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_index(item, prefix + (i,), out)
    return out


def read_yaml_document(path: str | Path, text: str | None = None) -> tuple[Any, dict[tuple, int]]:
    """Parse a YAML file; return its data and a field-path → line index for error messages."""
    path = str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise DocumentError(
                path, [("", None, f"cannot read file: {exc.strerror or exc}")]
            ) from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise DocumentError(
            path, [("", line, f"invalid YAML: {getattr(exc, 'problem', exc)}")]
        ) from exc
    return data, (_line_index(node) if node is not None else {})


def validation_problems(
    exc: ValidationError, lines: dict[tuple, int]
) -> list[tuple[str, int | None, str]]:
    """Turn a pydantic error into ``(dotted field path, line, message)`` triples."""
    problems = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        line = None
        for cut in range(len(loc), -1, -1):  # nearest enclosing node that exists in the file
            if loc[:cut] in lines:
                line = lines[loc[:cut]]
                break
        dotted = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(
            ".[", "["
        )
        problems.append((dotted, line, err["msg"]))
    return problems


def validate_document(model: type[BaseModel], path: str | Path, text: str | None = None) -> Any:
    """Read ``path`` and validate it as ``model``; raise ``DocumentError`` naming
    file/line/field."""
    data, lines = read_yaml_document(path, text)
    if not isinstance(data, dict):
        raise DocumentError(str(path), [("", 1, "expected a mapping at the top of the document")])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise DocumentError(str(path), validation_problems(exc, lines)) from None


# --------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------

_Strict = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Principle(BaseModel):
    """One rule: how to critique a response by it, how to revise, how to compare two."""

    model_config = _Strict

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,99}$", description="Short stable identifier.")
    critique_request: str = Field(
        min_length=1, description="Asks the model to critique a response."
    )
    revision_request: str = Field(
        min_length=1, description="Asks for a revision fixing the critique."
    )
    comparison_question: str = Field(
        min_length=1, description="Pairwise question answered with (A) or (B)."
    )


class FewShotExample(BaseModel):
    """A worked critique → revision that is shown to the model before the real request."""

    model_config = _Strict

    principle: str | None = Field(default=None, description="Principle id this example is for.")
    prompt: str = Field(min_length=1)
    response: str = Field(min_length=1)
    critique: str = Field(min_length=1)
    revision: str = Field(min_length=1)


class Constitution(BaseModel):
    model_config = _Strict

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")
    version: str = Field(min_length=1, max_length=50)
    description: str = ""
    principles: list[Principle] = Field(min_length=1)
    examples: list[FewShotExample] = Field(default_factory=list)

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, v: Any) -> Any:
        # `version: 1.0` in YAML is a float; a version is a label, keep it as written.
        return str(v) if isinstance(v, (int, float)) else v

    @model_validator(mode="after")
    def _unique_ids_and_known_example_principles(self) -> Constitution:
        ids = [p.id for p in self.principles]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"principle ids must be unique; repeated: {dupes}")
        for ex in self.examples:
            if ex.principle is not None and ex.principle not in ids:
                raise ValueError(f"example refers to unknown principle {ex.principle!r}")
        return self

    @property
    def content_hash(self) -> str:
        """SHA-256 of the canonical content: two files that mean the same hash the same."""
        return sha256_hex(canonical_json(self.model_dump(mode="json")))

    def principle(self, principle_id: str) -> Principle:
        for p in self.principles:
            if p.id == principle_id:
                return p
        raise KeyError(f"constitution {self.name!r} has no principle {principle_id!r}")

    def examples_for(self, principle_id: str) -> list[FewShotExample]:
        return [e for e in self.examples if e.principle in (None, principle_id)]

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


# --------------------------------------------------------------------------------------------
# Finding, loading and storing
# --------------------------------------------------------------------------------------------


def bundled_constitutions_dir() -> Path:
    """The shipped constitutions: the repository's folder, or the copy inside the wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent.parent / "constitutions", here / "_data" / "constitutions"):
        if candidate.is_dir():
            return candidate
    return here.parent.parent / "constitutions"


def list_constitution_files() -> list[Path]:
    return sorted(bundled_constitutions_dir().glob("*.yaml"))


def resolve_constitution_path(name_or_path: str | Path, *, base_dir: Path | None = None) -> Path:
    """A file path as given (or relative to ``base_dir``), else a bundled constitution by name."""
    p = Path(name_or_path)
    candidates = [p] if p.is_absolute() else ([base_dir / p] if base_dir else []) + [p]
    for c in candidates:
        if c.is_file():
            return c
    bundled = bundled_constitutions_dir() / f"{p.stem if p.suffix else p.name}.yaml"
    if bundled.is_file():
        return bundled
    known = ", ".join(f.stem for f in list_constitution_files())
    raise FileNotFoundError(
        f"no constitution file or bundled constitution {str(name_or_path)!r} (bundled: {known})"
    )


def load_constitution(name_or_path: str | Path, *, base_dir: Path | None = None) -> Constitution:
    """Load and validate a constitution; errors name the file, line and field."""
    path = resolve_constitution_path(name_or_path, base_dir=base_dir)
    return validate_document(Constitution, path)


def store_constitution(session: Session, constitution: Constitution) -> ConstitutionRow:
    """The stored row of this constitution version, created once per content hash."""
    from .store.crud.constitutions import upsert_constitution

    return upsert_constitution(
        session,
        name=constitution.name,
        version=constitution.version,
        content_hash=constitution.content_hash,
        text=constitution.to_yaml(),
        description=constitution.description,
    )
