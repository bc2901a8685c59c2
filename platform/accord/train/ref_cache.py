"""Reference log-probabilities cached on disk per (snapshot hash, reference model, tokenisation).

DPO needs log π_ref(chosen|x) and log π_ref(rejected|x) for every example. They depend only on
the snapshot's content, the frozen reference model and how sequences are tokenised and cut, so
accord computes them once and reuses them across runs and β sweeps: with a cache hit no reference
model is loaded at all. Files live in ``<cache>/reflogps/<key>-<split>.json``, keyed by example
hash so a reordered dataset still lines up.

The key covers everything the numbers depend on:

- the reference weights: ``model_fingerprint`` hashes every weight file whole (sha256, computed
  once per file and remembered in ``<cache>/fingerprints/sha256-index.json`` by path, size and
  mtime, so a 14 GB checkpoint is read once, not per run), its config and tokenizer files, and
  the hub revision when the folder is a hub snapshot;
- the tokenizer that tokenises the pairs (``tokenizer_fingerprint``: its full serialisation,
  special tokens and chat template), trl's version, max lengths, truncation and precision.

trl drops pairs whose prompt alone fills ``max_length`` before the reference pass. The cache is
stored after that filtering, with the dropped hashes listed, so the next identical run (which
offers the whole split again) still hits.

>>> from accord.train.ref_cache import RefLogpCache
>>> cache = RefLogpCache.for_run(snapshot_hash="ab" * 32, model_fingerprint="m",
...                              settings={"max_length": 512}, cache_dir="reflogps")
>>> cache.load("train") is None
True
>>> _ = cache.store("train", ["h1"], [-1.5], [-2.5], dropped=["h2"])
>>> cache.load("train"), cache.dropped("train")
({'h1': (-1.5, -2.5)}, {'h2'})
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accord.hashing import content_hash
from accord.settings import get_settings

CACHE_VERSION = 2
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".h5", ".msgpack")
SMALL_FILE_SUFFIXES = (".json", ".jinja", ".txt", ".model", ".py", ".tiktoken")
_INDEX_NAME = "sha256-index.json"
_READ_BYTES = 1 << 24


def _index_path(index_dir: str | Path | None) -> Path:
    return Path(index_dir) if index_dir else get_settings().cache_dir / "fingerprints"


def file_sha256(path: str | Path, *, index_dir: str | Path | None = None) -> str:
    """sha256 of the whole file, hashed once: the digest is remembered in a small index keyed by
    resolved path, size and mtime (ns), so any rewrite of the file (new mtime or size) is
    hashed again and an unchanged file costs one ``stat``."""
    path = Path(path).resolve()
    stat = path.stat()
    entry_key = f"{path}|{stat.st_size}|{stat.st_mtime_ns}"
    index_file = _index_path(index_dir) / _INDEX_NAME
    try:
        index = json.loads(index_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        index = {}
    if entry_key in index:
        return index[entry_key]
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_READ_BYTES):
            digest.update(block)
    index = {k: v for k, v in index.items() if not k.startswith(f"{path}|")}
    index[entry_key] = digest.hexdigest()
    index_file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=index_file.parent, prefix=".sha256-index-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(index, f)
    os.replace(tmp, index_file)
    return index[entry_key]


def hub_revision(folder: Path) -> str | None:
    """The commit of a hub snapshot folder (``…/models--org--name/snapshots/<commit>``)."""
    folder = folder.resolve()
    if folder.parent.name == "snapshots" and folder.parent.parent.name.startswith("models--"):
        return folder.name
    return None


def model_fingerprint(
    model_path: str | Path, *, revision: str | None = None, index_dir: str | Path | None = None
) -> str:
    """Identity of a saved model: every weight file's whole sha256 (``file_sha256``), the
    config, tokenizer and chat-template files, and the hub revision (given, or read from a hub
    snapshot folder). A hub id that is not a local folder is identified by name and revision."""
    folder = Path(model_path)
    if not folder.is_dir():
        return content_hash("hub", str(model_path), revision or "")
    parts: list[Any] = [CACHE_VERSION, "revision", revision or hub_revision(folder) or ""]
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        name = path.name
        if path.name.endswith(WEIGHT_SUFFIXES):
            parts.append((name, path.stat().st_size, file_sha256(path, index_dir=index_dir)))
        elif path.name.endswith(SMALL_FILE_SUFFIXES):
            parts.append((name, hashlib.sha256(path.read_bytes()).hexdigest()))
    return content_hash(*parts)


def tokenizer_fingerprint(tokenizer) -> str:
    """Identity of a loaded tokenizer as it tokenises: its full serialisation (vocabulary,
    merges, normaliser, pre-tokeniser, post-processor: BOS/EOS added or not), special tokens,
    padding and truncation sides, and chat template."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    serialised = (
        backend.to_str()
        if backend is not None
        else json.dumps(tokenizer.get_vocab(), sort_keys=True)
    )
    return content_hash(
        type(tokenizer).__name__,
        serialised,
        tokenizer.special_tokens_map,
        [tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id],
        tokenizer.padding_side,
        tokenizer.truncation_side,
        tokenizer.chat_template or "",
    )


@dataclass
class RefLogpCache:
    """The cache entry for one snapshot × reference model × tokenisation setting.

    ``hits`` and ``misses`` count ``attach`` outcomes; ``offered`` remembers, per split, the
    example hashes offered before trl's filtering, so ``store`` can list the dropped ones.
    """

    folder: Path
    key: str
    hits: int = 0
    misses: int = 0
    offered: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def for_run(
        cls,
        *,
        snapshot_hash: str,
        model_fingerprint: str,
        settings: dict[str, Any],
        cache_dir: str | Path | None = None,
    ) -> RefLogpCache:
        folder = Path(cache_dir) if cache_dir else get_settings().cache_dir / "reflogps"
        key = content_hash(CACHE_VERSION, snapshot_hash, model_fingerprint, settings)
        return cls(folder=folder, key=key)

    def path(self, split: str) -> Path:
        return self.folder / f"{self.key[:40]}-{split}.json"

    def _read(self, split: str) -> dict[str, Any] | None:
        path = self.path(split)
        if not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if data.get("key") == self.key else None

    def load(self, split: str) -> dict[str, tuple[float, float]] | None:
        """``{example_hash: (ref_chosen_logp, ref_rejected_logp)}`` or None on a miss."""
        data = self._read(split)
        if data is None:
            return None
        return {h: (float(c), float(r)) for h, c, r in data["rows"]}

    def dropped(self, split: str) -> set[str]:
        """Hashes trl filtered out of ``split`` before its reference pass (empty on a miss)."""
        data = self._read(split)
        return set(data.get("dropped", [])) if data else set()

    def store(
        self,
        split: str,
        hashes: list[str],
        chosen: list[float],
        rejected: list[float],
        *,
        dropped: list[str] | None = None,
    ) -> Path:
        """Write atomically (a concurrent reader sees the old file or the whole new one).
        ``dropped`` defaults to the hashes ``attach`` was offered that are not in ``hashes``."""
        if dropped is None:
            kept = set(hashes)
            dropped = [h for h in self.offered.get(split, []) if h not in kept]
        self.folder.mkdir(parents=True, exist_ok=True)
        payload = {
            "key": self.key,
            "dropped": sorted(set(dropped)),
            "rows": [
                [h, float(c), float(r)] for h, c, r in zip(hashes, chosen, rejected, strict=True)
            ],
        }
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".reflogps-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(payload, f)
        os.replace(tmp, self.path(split))
        return self.path(split)

    def attach(self, dataset, split: str):
        """``dataset`` with ``ref_chosen_logps``/``ref_rejected_logps`` columns from the cache, or
        None when any of its example hashes is neither cached nor one trl dropped last time
        (then everything is recomputed). Dropped examples get NaN, which trl filters out again
        (``check_no_placeholders`` makes sure)."""
        hashes = list(dataset["example_hash"])
        self.offered[split] = hashes
        cached = self.load(split)
        dropped = self.dropped(split) if cached is not None else set()
        if cached is None or any(h not in cached and h not in dropped for h in hashes):
            self.misses += 1
            return None
        self.hits += 1
        nan = (math.nan, math.nan)
        dataset = dataset.add_column("ref_chosen_logps", [cached.get(h, nan)[0] for h in hashes])
        return dataset.add_column("ref_rejected_logps", [cached.get(h, nan)[1] for h in hashes])

    def check_no_placeholders(self, dataset, split: str) -> None:
        """After trl's filtering no NaN placeholder may remain: if one does, trl kept a pair it
        dropped last time, which the key should have made impossible."""
        values = dataset["ref_chosen_logps"]
        if any(isinstance(v, float) and math.isnan(v) for v in values):
            raise RuntimeError(
                f"reference log-prob cache {self.path(split)} lists pairs as dropped that trl kept "
                "this time; delete that file (or run with --no-ref-cache) and run again"
            )
