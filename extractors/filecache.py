"""Parsed configuration files remembered per process while the file is unchanged.

A pass hands every batch of links the watchlist and topics file paths; parsing them again for every batch cost
~50 ms of CPU each time (docs/performance.md). The key is the file's identity and version (inode, size,
modification time in ns), so an edited or replaced file is read again at its next use.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
FileVersion = tuple[int, int, int]


def file_version(path: str | Path) -> FileVersion | None:
    """(inode, size, mtime in ns) of a file, or None when it cannot be read."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def cached_per_version(load: Callable[[Path], T], size: int = 8) -> Callable[[str | Path], T]:
    """`load`, with its result remembered per resolved path and file version; errors are never remembered."""

    @functools.lru_cache(maxsize=size)
    def remembered(path: str, _version: FileVersion) -> T:
        return load(Path(path))

    def load_cached(path: str | Path) -> T:
        version = file_version(path)
        if version is None:
            return load(Path(path))  # the loader reports a missing or unreadable file in its own words
        return remembered(str(Path(path).resolve()), version)

    return load_cached
