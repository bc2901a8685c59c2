"""Reference log-probabilities cached on disk per (snapshot hash, reference model, tokenisation).

DPO needs log π_ref(chosen|x) and log π_ref(rejected|x) for every example. They depend only on
the snapshot's content, the frozen reference model and how sequences are tokenised and cut, so
accord computes them once and reuses them across runs and β sweeps: with a cache hit no reference
model is loaded at all. Files live in ``<cache>/reflogps/<key>.json``, one per split, keyed by
example hash so a filtered or reordered dataset still lines up.

>>> from accord.train.ref_cache import RefLogpCache
>>> cache = RefLogpCache.for_run(snapshot_hash="ab" * 32, model_fingerprint="m", settings={"max_length": 512})
>>> cache.load("train") is None    # doctest: +SKIP
True
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accord.hashing import content_hash
from accord.settings import get_settings

CACHE_VERSION = 1
_SAMPLE_BYTES = 1 << 20


def model_fingerprint(model_path: str | Path) -> str:
    """A cheap identity of a saved model: config, tokenizer files, and each weight file's size
    with sha256 of its first and last MiB (a full hash of a 14 GB checkpoint would cost minutes).
    Hub ids that are not local folders are identified by name."""
    folder = Path(model_path)
    if not folder.is_dir():
        return content_hash("hub", str(model_path))
    parts: list[Any] = [CACHE_VERSION]
    for path in sorted(folder.iterdir()):
        if not path.is_file():
            continue
        if path.suffix in (".json", ".jinja", ".txt", ".model"):
            parts.append((path.name, hashlib.sha256(path.read_bytes()).hexdigest()))
        elif path.suffix in (".safetensors", ".bin", ".pt"):
            size = path.stat().st_size
            h = hashlib.sha256()
            with open(path, "rb") as f:
                h.update(f.read(_SAMPLE_BYTES))
                if size > 2 * _SAMPLE_BYTES:
                    f.seek(size - _SAMPLE_BYTES)
                h.update(f.read(_SAMPLE_BYTES))
            parts.append((path.name, size, h.hexdigest()))
    return content_hash(*parts)


@dataclass
class RefLogpCache:
    """The cache entry for one snapshot × reference model × tokenisation setting."""

    folder: Path
    key: str

    @classmethod
    def for_run(cls, *, snapshot_hash: str, model_fingerprint: str, settings: dict[str, Any],
                cache_dir: str | Path | None = None) -> RefLogpCache:
        folder = Path(cache_dir) if cache_dir else get_settings().cache_dir / "reflogps"
        key = content_hash(CACHE_VERSION, snapshot_hash, model_fingerprint, settings)
        return cls(folder=folder, key=key)

    def path(self, split: str) -> Path:
        return self.folder / f"{self.key[:40]}-{split}.json"

    def load(self, split: str) -> dict[str, tuple[float, float]] | None:
        """``{example_hash: (ref_chosen_logp, ref_rejected_logp)}`` or None on a miss."""
        path = self.path(split)
        if not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("key") != self.key:
            return None
        return {h: (float(c), float(r)) for h, c, r in data["rows"]}

    def store(self, split: str, hashes: list[str], chosen: list[float], rejected: list[float]) -> Path:
        """Write atomically (a concurrent reader sees the old file or the whole new one)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        payload = {"key": self.key, "rows": [[h, float(c), float(r)] for h, c, r in zip(hashes, chosen, rejected, strict=True)]}
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".reflogps-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(payload, f)
        os.replace(tmp, self.path(split))
        return self.path(split)

    def attach(self, dataset, split: str):
        """``dataset`` with ``ref_chosen_logps``/``ref_rejected_logps`` columns from the cache, or
        None when any of its example hashes is missing (then everything is recomputed)."""
        cached = self.load(split)
        if cached is None:
            return None
        hashes = dataset["example_hash"]
        if any(h not in cached for h in hashes):
            return None
        dataset = dataset.add_column("ref_chosen_logps", [cached[h][0] for h in hashes])
        return dataset.add_column("ref_rejected_logps", [cached[h][1] for h in hashes])
