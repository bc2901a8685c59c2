"""Format names and their readers.

``read_records(path, fmt)`` yields one ``ReadItem`` per source row: a ``PreferenceRecord``
(a ``StoreBundle`` for the lossless ``accord`` format) or the row's ``InvalidRecordError``.
Text formats read line by line; the trl, ultrafeedback-binarized and hh-rlhf readers also
take a parquet file or a ``save_to_disk`` folder in that column layout, and ``hf`` detects
the layout itself.

>>> sorted(FORMATS)
['accord', 'csv', 'hf', 'hh-rlhf', 'trl', 'ultrafeedback-binarized']
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from . import accord_jsonl, csv_format, hf, hh_rlhf, trl, ultrafeedback
from .base import ReadItem, ReadOptions, source_size

Reader = Callable[[Path, ReadOptions], Iterator[ReadItem]]

FORMATS: dict[str, Reader] = {
    "hh-rlhf": hh_rlhf.read,
    "trl": trl.read,
    "ultrafeedback-binarized": ultrafeedback.read,
    "accord": accord_jsonl.read,
    "csv": csv_format.read,
    "hf": hf.read,
}
# Formats whose rows can also come from a parquet file or a saved dataset folder.
TABLE_LAYOUTS = {"hh-rlhf", "trl", "ultrafeedback-binarized", "hf"}
ALIASES = {
    "ultrafeedback": "ultrafeedback-binarized",
    "hh": "hh-rlhf",
    "jsonl": "accord",
    "parquet": "hf",
}


def format_name(fmt: str) -> str:
    """The canonical name of ``fmt`` (aliases accepted); ValueError for an unknown one."""
    name = ALIASES.get(fmt, fmt)
    if name not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(sorted(FORMATS))}")
    return name


def uses_table_reader(path: Path, fmt: str) -> bool:
    return format_name(fmt) == "hf" or (
        format_name(fmt) in TABLE_LAYOUTS and hf.is_table_source(path)
    )


def progress_total(path: Path, fmt: str) -> tuple[int, str]:
    """What a reader's ``position`` counts up to, and its unit ("bytes" or "rows")."""
    if uses_table_reader(path, fmt):
        return hf.total_rows(path), "rows"
    return source_size(path), "bytes"


def read_records(
    path: str | Path,
    fmt: str,
    *,
    label_kind: str = "human",
    source: str = "",
    soft_labels: bool = False,
) -> Iterator[ReadItem]:
    """Every row of ``path`` read as ``fmt``, lazily, in file order."""
    path = Path(path)
    name = format_name(fmt)
    opts = ReadOptions(label_kind=label_kind, source=source or path.name, soft_labels=soft_labels)
    if uses_table_reader(path, name):
        return hf.read(path, opts, layout=None if name == "hf" else name)
    if path.is_dir():
        raise ValueError(f"{path} is a folder: format {name!r} reads a file")
    return FORMATS[name](path, opts)
