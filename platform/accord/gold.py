"""Gold pairs: pairs with a known right answer, to measure how accurate each annotator is.

``accord gold add FILE`` reads JSON lines, each one of

- ``{"prompt": ..., "chosen": ..., "rejected": ...}``: the pair is stored (created if new)
  and ``chosen`` is its gold answer;
- ``{"pair_id": 12, "answer": "a"}``: an existing pair, with its better canonical side.

The whole file is stored or nothing (the first bad line stops it with an error naming file,
line and field). Gold answers are not judgments: they never count as a label in snapshots;
what annotators answer on gold pairs does, and their accuracy on them is in the audit
(``accord.audit.gold``). ``accord argilla push --gold-rate R`` mixes gold pairs into a push.

>>> import json, tempfile, pathlib
>>> from accord.store.db import open_store
>>> engine = open_store("sqlite://")
>>> path = pathlib.Path(tempfile.mkdtemp()) / "gold.jsonl"
>>> _ = path.write_text(json.dumps({"prompt": "2+2?", "chosen": "4", "rejected": "5"}) + "\\n")
>>> add_gold_file(engine, path).to_dict()["created"]
1
>>> add_gold_file(engine, path).to_dict()["unchanged"]
1
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from .formats.base import InvalidRecordError
from .store.crud.gold import set_gold
from .store.crud.pairs import upsert_pair
from .store.crud.prompts import upsert_prompt
from .store.crud.responses import upsert_response
from .store.db import session_scope
from .store.models import Pair
from .store.models.gold import ANSWERS


@dataclass
class GoldAddResult:
    file: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    new_pairs: int = 0
    pair_ids: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _text(row: dict, name: str, path: Path, line: int) -> str:
    value = row.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidRecordError(path, line, name, "must be a non-empty string")
    return value


def _gold_row(
    session: Session, row: Any, *, path: Path, line: int, source: str, result: GoldAddResult
) -> None:
    if not isinstance(row, dict):
        raise InvalidRecordError(path, line, "<record>", "each line must be a JSON object")
    if "pair_id" in row:
        pair_id = row["pair_id"]
        if not isinstance(pair_id, int) or isinstance(pair_id, bool):
            raise InvalidRecordError(path, line, "pair_id", f"must be an integer, got {pair_id!r}")
        pair = session.get(Pair, pair_id)
        if pair is None:
            raise InvalidRecordError(
                path, line, "pair_id", f"no pair with id {pair_id} in the store"
            )
        answer = row.get("answer")
        if answer not in ANSWERS:
            raise InvalidRecordError(
                path, line, "answer", f"must be one of {', '.join(ANSWERS)}, got {answer!r}"
            )
        _, outcome = set_gold(session, pair=pair, answer=answer, source=source)
    else:
        prompt_text = _text(row, "prompt", path, line)
        chosen, rejected = _text(row, "chosen", path, line), _text(row, "rejected", path, line)
        if chosen == rejected:
            raise InvalidRecordError(path, line, "rejected", "is the same text as chosen")
        prompt = upsert_prompt(session, text=prompt_text)
        good = upsert_response(session, prompt=prompt, text=chosen)
        bad = upsert_response(session, prompt=prompt, text=rejected)
        before = _pair_exists(session, good, bad)
        pair = upsert_pair(session, response_x=good, response_y=bad)
        result.new_pairs += not before
        _, outcome = set_gold(session, pair=pair, chosen_id=good.id, source=source)
    setattr(result, outcome, getattr(result, outcome) + 1)
    result.pair_ids.append(pair.id)


def _pair_exists(session: Session, x, y) -> bool:
    from sqlmodel import select

    from .store.keys import pair_key

    key = pair_key(x.content_hash, y.content_hash)
    return session.exec(select(Pair.id).where(Pair.content_hash == key)).first() is not None


def add_gold_rows(engine: Engine, rows: list[Any], *, origin: str, source: str) -> GoldAddResult:
    """Store parsed rows as gold pairs, all or nothing; errors name ``origin`` and the row
    (1-based) like a file line."""
    result = GoldAddResult(file=origin)
    with session_scope(engine) as session:
        for line, row in enumerate(rows, start=1):
            _gold_row(session, row, path=Path(origin), line=line, source=source, result=result)
            result.rows += 1
    return result


def add_gold_file(engine: Engine, path: str | Path, *, source: str | None = None) -> GoldAddResult:
    """Store every line of ``path`` as a gold pair (all or nothing; see the module)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the gold file: {exc.strerror or exc}") from exc
    result = GoldAddResult(file=str(path))
    source = source if source is not None else f"gold:{path.name}"
    with session_scope(engine) as session:
        for line, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InvalidRecordError(path, line, "<record>", f"not JSON: {exc.msg}") from None
            _gold_row(session, row, path=path, line=line, source=source, result=result)
            result.rows += 1
    if not result.rows:
        raise ValueError(f"{path}: the gold file has no rows")
    return result
