"""Hugging Face datasets on disk: ``save_to_disk`` folders (a Dataset or a DatasetDict,
every split read) and parquet files (one file, or a folder of them), in the trl,
ultrafeedback-binarized or hh-rlhf column layouts.

Rows are read in small record batches (memory-mapped Arrow / parquet row batches), so a
large dataset is never loaded whole. A row's "line" is its 1-based row number in its split
or file; the reported file is ``PATH[split]`` for DatasetDict splits.

>>> import pathlib, tempfile, pyarrow as pa, pyarrow.parquet as pq
>>> path = pathlib.Path(tempfile.mkdtemp()) / "prefs.parquet"
>>> pq.write_table(pa.table({"prompt": ["2+2?"], "chosen": ["4"], "rejected": ["5"]}), path)
>>> detect_layout(table_columns(path), first_row(path))
'trl'
>>> [i.value.chosen for i in read(path, ReadOptions())]
['4']
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from . import hh_rlhf, trl, ultrafeedback
from .base import InvalidRecordError, ReadItem, ReadOptions, convert_rows

BATCH_ROWS = 512
LAYOUTS: dict[str, Callable[[dict[str, Any], ReadOptions], Any]] = {
    "trl": trl.record_from_row,
    "ultrafeedback-binarized": ultrafeedback.record_from_row,
    "hh-rlhf": hh_rlhf.record_from_row,
}


def is_table_source(path: Path) -> bool:
    """True for what this module reads (a parquet file or a folder of data)."""
    return path.is_dir() or path.suffix == ".parquet"


def _is_saved_dataset(path: Path) -> bool:
    return path.is_dir() and any(
        (path / n).exists() for n in ("dataset_dict.json", "state.json", "dataset_info.json")
    )


def _parquet_files(path: Path) -> list[Path]:
    files = [path] if path.is_file() else sorted(path.rglob("*.parquet"))
    if not files:
        raise InvalidRecordError(path, 0, "<file>", "no parquet files and no saved dataset here")
    return files


def _parts(path: Path) -> Iterator[tuple[str, int, Callable[[], Iterator[list[dict]]]]]:
    """(name used in errors, number of rows, batch iterator) for each split or file."""
    if _is_saved_dataset(path):
        from datasets import Dataset, load_from_disk

        loaded = load_from_disk(str(path))
        splits = {"": loaded} if isinstance(loaded, Dataset) else dict(loaded)
        for split, ds in splits.items():

            def batches(ds=ds):
                for batch in ds.iter(batch_size=BATCH_ROWS):
                    names = list(batch)
                    yield [dict(zip(names, values)) for values in zip(*batch.values())]

            yield (f"{path}[{split}]" if split else str(path)), ds.num_rows, batches
        return
    import pyarrow.parquet as pq

    for file in _parquet_files(path):
        pf = pq.ParquetFile(file)

        def batches(pf=pf):
            for batch in pf.iter_batches(batch_size=BATCH_ROWS):
                yield batch.to_pylist()

        yield str(file), pf.metadata.num_rows, batches


def total_rows(path: Path) -> int:
    return sum(n for _, n, _ in _parts(path))


def table_columns(path: Path) -> list[str]:
    if _is_saved_dataset(path):
        from datasets import Dataset, load_from_disk

        loaded = load_from_disk(str(path))
        ds = loaded if isinstance(loaded, Dataset) else next(iter(loaded.values()))
        return list(ds.column_names)
    import pyarrow.parquet as pq

    return list(pq.ParquetFile(_parquet_files(path)[0]).schema_arrow.names)


def first_row(path: Path) -> dict[str, Any] | None:
    for _, _, batches in _parts(path):
        for batch in batches():
            if batch:
                return batch[0]
    return None


def detect_layout(columns: list[str], row: dict[str, Any] | None) -> str:
    """Which column layout a table has: ultrafeedback (per-side scores), hh-rlhf (bare
    transcripts) or trl."""
    cols = set(columns)
    if {"score_chosen", "score_rejected"} <= cols:
        return "ultrafeedback-binarized"
    if (
        "prompt" not in cols
        and row is not None
        and isinstance(row.get("chosen"), str)
        and row["chosen"].lstrip(" ").startswith("\n\nHuman:")
    ):
        return "hh-rlhf"
    return "trl"


def iter_table_rows(path: Path) -> Iterator[tuple[str, ReadItem]]:
    """(source name, row item) for every row of every split or parquet file."""
    position = 0
    for name, _, batches in _parts(path):
        line = 0
        for batch in batches():
            for row in batch:
                line += 1
                position += 1
                yield name, ReadItem(line, position, value=row, raw=row)


def read(path: Path, opts: ReadOptions, layout: str | None = None) -> Iterator[ReadItem]:
    """Records of a dataset on disk; ``layout`` None detects it from the columns."""
    if layout is None:
        layout = detect_layout(table_columns(path), first_row(path))
    convert = LAYOUTS[layout]
    for name, item in iter_table_rows(path):
        yield from convert_rows(Path(name), iter([item]), lambda row: convert(row, opts))
