"""The watchlist and topics files are parsed once per process while they stay unchanged, and read again after."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from extractors.topics import cached_topics, load_topics
from extractors.watchlist import cached_watchlist
from presswatch.errors import ConfigError

SEEDS = Path(__file__).resolve().parents[2] / "seeds"

EXTRA_ENTITY = """
  - id: presswatch-test-co
    name: Presswatch Test Co
    kind: company
"""


def copy_of(name: str, folder: Path) -> Path:
    """A copy of a shipped seed file that a test may edit."""
    path = folder / name
    path.write_bytes((SEEDS / name).read_bytes())
    return path


def test_an_unchanged_watchlist_is_parsed_once(tmp_path: Path) -> None:
    path = copy_of("watchlist.yaml", tmp_path)
    first = cached_watchlist(path)
    assert cached_watchlist(str(path)) is first  # the same object: not parsed again, whatever the path's type
    assert "alibaba" in {entity.id for entity in first.entities}


def test_an_edited_watchlist_is_read_again_at_its_next_use(tmp_path: Path) -> None:
    path = copy_of("watchlist.yaml", tmp_path)
    before = cached_watchlist(path)
    stat = path.stat()
    path.write_text(path.read_text(encoding="utf-8") + EXTRA_ENTITY, encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # a different version even on coarse clocks
    after = cached_watchlist(path)
    assert "presswatch-test-co" not in {entity.id for entity in before.entities}
    assert "presswatch-test-co" in {entity.id for entity in after.entities}
    assert cached_watchlist(path) is after


def test_a_watchlist_replaced_by_another_file_is_read_again(tmp_path: Path) -> None:
    path = copy_of("watchlist.yaml", tmp_path)
    before = cached_watchlist(path)
    replacement = tmp_path / "new.yaml"
    replacement.write_text(path.read_text(encoding="utf-8") + EXTRA_ENTITY, encoding="utf-8")
    replacement.replace(path)  # an atomic save: a new inode under the same name
    assert len(cached_watchlist(path).entities) == len(before.entities) + 1


def test_a_broken_or_missing_watchlist_is_an_error_every_time_until_it_is_fixed(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.yaml"
    with pytest.raises(ConfigError, match="watchlist.yaml"):
        cached_watchlist(path)
    path.write_text("entities: [", encoding="utf-8")
    with pytest.raises(ConfigError):
        cached_watchlist(path)
    path.write_bytes((SEEDS / "watchlist.yaml").read_bytes())
    assert "alibaba" in {entity.id for entity in cached_watchlist(path).entities}


def test_topics_are_parsed_once_and_read_again_after_an_edit(tmp_path: Path) -> None:
    path = copy_of("topics.yaml", tmp_path)
    first = cached_topics(path)
    assert cached_topics(path) is first
    assert first == load_topics(path)
    stat = path.stat()
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(first.topics[0].name, first.topics[0].name + " (edited)", 1), encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert cached_topics(path).topics[0].name == first.topics[0].name + " (edited)"
