"""Small data files shipped with accord (the sample the README imports first).

>>> sample_path("sample_preferences.jsonl").name
'sample_preferences.jsonl'
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def sample_path(name: str) -> Path:
    """The path of a bundled data file (FileNotFoundError when there is none by that name)."""
    path = Path(str(resources.files(__name__).joinpath(name)))
    if not path.is_file():
        raise FileNotFoundError(f"no bundled data file named {name!r}")
    return path
