"""Readers (and the accord writer) for preference data files.

Each format module turns one source row into a ``PreferenceRecord`` (or, for the lossless
accord format, an ``AccordExample``), lazily and with the row's line number;
``accord.formats.registry`` picks the reader for a format name.

>>> from accord.formats.registry import FORMATS
>>> sorted(FORMATS)
['accord', 'csv', 'hf', 'hh-rlhf', 'ranking', 'trl', 'ultrafeedback-binarized']
"""

from .base import InvalidRecordError, ReadItem, ReadOptions

__all__ = ["InvalidRecordError", "ReadItem", "ReadOptions"]
