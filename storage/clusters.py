"""Syndication clusters: copies of one story (a wire story on several outlets, an update under a new URL).

A story joins every stored story that counts within `WINDOW` of it (`COALESCE(published_at, fetched_at)`,
the moment a story counts for, indexed by migration 0004) whose text is the same story: the 64-bit SimHash
(`articles.simhash`) within `MAX_SIMHASH_DISTANCE` bits picks candidates cheaply in Python, and the Jaccard
similarity of the two texts' word 3-gram sets (`extractors.similarity.jaccard`, exact: both texts are at hand,
so no MinHash estimate is needed) decides, at `MIN_RESEMBLANCE` (0.5), for texts of `MIN_CLUSTER_WORDS` or
more. Clusters are the connected groups of that relation; `cluster_id` is the id of the member that counts
earliest (ties: the lowest id), the only one with `is_original` true. Every copy is kept.

`assign_clusters` re-derives the clusters of the stories it is given: their current clusters are dissolved and
rebuilt from each member's own neighbours, so a story whose text changed (re-extraction) can also leave a
cluster, and running it again changes nothing. It runs in one transaction; on PostgreSQL it also takes a
transaction-scoped advisory lock, so two calls at once run one after the other and the second sees what the
first wrote (SQLite's BEGIN IMMEDIATE serializes them already).

The thresholds are measured (`benchmarks/syndication.py`, docs/extraction.md "Syndication").
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, select, text, update

from extractors.similarity import (
    MIN_RESEMBLANCE,
    distance,
    from_signed,
    jaccard,
    shingles,
    shingles_of,
    simhash,
    to_signed,
    words,
)
from storage.db import transaction
from storage.models import Article

WINDOW = timedelta(days=3)
# SimHash bits a pair may differ in to be compared on text. Measured on the 181 real article bodies of the
# extraction benchmark (benchmarks/syndication.py): every copy the text comparison accepts (headline and credit
# changed, 15 % of sentences rewritten, 30 % trimmed, 25 % added by an update, a fifth dropped and replaced)
# measures at most 22 bits from its source. Two more bits of margin for copies near the 0.5 resemblance
# threshold, where SimHash is noisiest (a pair at resemblance 0.5 measures 17 +/- 3.6 bits: missed by 24
# with probability 2 %, by 22 with 7 %). The cost: 3 % of pairs of different stories measure 24 bits or
# closer (10 % when both carry the same boilerplate block) and are compared on text; none passes.
MAX_SIMHASH_DISTANCE = 24
# Shorter texts are never grouped: two texts of N words sharing a block of B words of furniture resemble
# each other at about B / (2N - B), which reaches the 0.5 threshold once N <= 1.5 B; a newsletter box plus a
# copyright line is 30-40 words.
MIN_CLUSTER_WORDS = 60
_CHUNK = 500
# Any fixed 64-bit number, the same in every presswatch process: the key of the clustering lock.
_CLUSTER_LOCK_KEY = 7_305_847_411_203_551_312


@dataclass
class ClusterReport:
    """What one call did: stories examined, pairs compared and confirmed, stories whose cluster changed."""

    examined: int = 0
    fingerprinted: int = 0  # SimHash computed and stored because the row had none (stored by an older version)
    compared: int = 0  # candidate pairs within the SimHash distance, compared on text
    confirmed: int = 0  # pairs found to be the same story
    relabelled: list[int] = field(default_factory=list)  # ids whose cluster_id or is_original changed


@dataclass
class _Story:
    id: int
    when: datetime
    cluster_id: int | None
    is_original: bool
    simhash: int | None = None
    text: str | None = None
    _words: int = 0
    _shingles: set[str] | None = None

    def shingles(self) -> set[str]:
        """The text's word 3-grams (computed once; the text must be loaded)."""
        if self._shingles is None:
            assert self.text is not None
            tokens = words(self.text)
            self._words, self._shingles = len(tokens), shingles_of(tokens)
        return self._shingles

    def long_enough(self) -> bool:
        """Whether the text has the words grouping needs."""
        self.shingles()
        return self._words >= MIN_CLUSTER_WORDS


def same_story(a: str, b: str) -> bool:
    """Whether two texts are copies of one story: both long enough, sharing half their word 3-grams or more."""
    long_enough = len(words(a)) >= MIN_CLUSTER_WORDS and len(words(b)) >= MIN_CLUSTER_WORDS
    return long_enough and jaccard(shingles(a), shingles(b)) >= MIN_RESEMBLANCE


def story_time() -> Any:
    """The moment a story counts for, written as migration 0004's expression index is."""
    return func.coalesce(Article.published_at, Article.fetched_at)


def assign_clusters(engine: Engine, article_ids: Iterable[int]) -> ClusterReport:
    """Group the given stored stories with their copies (within ±3 days) and relabel every cluster touched."""
    ids = sorted(set(article_ids))
    report = ClusterReport(examined=len(ids))
    if not ids:
        return report
    with transaction(engine) as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CLUSTER_LOCK_KEY})
        given = _load(connection, Article.id.in_, ids)
        # Dissolve the clusters the given stories are in: every member is re-examined from its own neighbours.
        members = _load(connection, Article.cluster_id.in_, sorted({s.cluster_id or s.id for s in given.values()}))
        seeds = {**members, **given}
        _fill_texts(connection, list(seeds.values()))
        # Every writer of a text writes its fingerprint with it (store_batch, reextract); only rows stored before
        # fingerprints were kept have none.
        _refresh_fingerprints(connection, [s for s in seeds.values() if s.simhash is None], report)
        window = _window(connection, seeds.values(), report)
        edges = _confirmed_pairs(connection, seeds, window, report)
        outsiders = {b for _, b in edges if b not in seeds}
        kept = {i: window[i] for i in outsiders}  # with their whole clusters, which stay together
        kept.update(_load(connection, Article.cluster_id.in_, sorted({window[i].cluster_id or i for i in outsiders})))
        groups = _groups(seeds, kept, edges)
        report.relabelled = _relabel(connection, groups, {**kept, **seeds})
    return report


def _load(connection: Connection, where: Any, values: Sequence[int]) -> dict[int, _Story]:
    """Stories whose column is in `values` (in chunks: backends cap a statement's parameters), without text."""
    columns = [Article.id, story_time().label("when"), Article.cluster_id, Article.is_original, Article.simhash]
    found: dict[int, _Story] = {}
    for start in range(0, len(values), _CHUNK):
        for row in connection.execute(select(*columns).where(where(values[start : start + _CHUNK]))):
            found[row.id] = _row_story(row)
    return found


def _row_story(row: Any) -> _Story:
    simhash = None if row.simhash is None else from_signed(row.simhash)
    return _Story(row.id, row.when, row.cluster_id, bool(row.is_original), simhash)


def _fill_texts(connection: Connection, stories: Sequence[_Story]) -> None:
    """Load the text of stories read without it."""
    by_id = {s.id: s for s in stories}
    keys = sorted(by_id)
    for start in range(0, len(keys), _CHUNK):
        rows = connection.execute(select(Article.id, Article.text).where(Article.id.in_(keys[start : start + _CHUNK])))
        for row in rows:
            by_id[row.id].text = row.text


def _refresh_fingerprints(connection: Connection, stories: Iterable[_Story], report: ClusterReport) -> None:
    """Compute and store the SimHash of each story's text (the stories given have none, or a stale one)."""
    changed = []
    for story in stories:
        value = simhash(story.shingles())
        if story.simhash != value:
            story.simhash = value
            changed.append({"b_id": story.id, "b_simhash": to_signed(value)})
    if changed:
        changed.sort(key=lambda change: change["b_id"])  # rows in id order, as every writer here takes them
        statement = update(Article).where(Article.id == bindparam("b_id")).values(simhash=bindparam("b_simhash"))
        connection.execute(statement.execution_options(synchronize_session=False), changed)
        report.fingerprinted += len(changed)


def _window(connection: Connection, seeds: Iterable[_Story], report: ClusterReport) -> dict[int, _Story]:
    """Every story counting within WINDOW of a seed, one range query per run of overlapping windows."""
    ranges: list[list[datetime]] = []
    for when in sorted(s.when for s in seeds):
        if ranges and when - WINDOW <= ranges[-1][1]:
            ranges[-1][1] = when + WINDOW
        else:
            ranges.append([when - WINDOW, when + WINDOW])
    found: dict[int, _Story] = {}
    when_column = story_time()
    for low, high in ranges:
        query = select(Article.id, when_column.label("when"), Article.cluster_id, Article.is_original, Article.simhash)
        for row in connection.execute(query.where(when_column >= low, when_column <= high)):
            found[row.id] = _row_story(row)
    legacy = [s for s in found.values() if s.simhash is None]  # stored before fingerprints were kept
    if legacy:
        _fill_texts(connection, legacy)
        _refresh_fingerprints(connection, legacy, report)
    return found


def _confirmed_pairs(
    connection: Connection, seeds: dict[int, _Story], window: dict[int, _Story], report: ClusterReport
) -> list[tuple[int, int]]:
    """(seed, other) pairs within WINDOW and the SimHash distance whose texts are the same story."""
    ordered = sorted(window.values(), key=lambda s: (s.when, s.id))
    times = [s.when for s in ordered]
    pairs: list[tuple[int, int]] = []
    for seed in seeds.values():
        assert seed.simhash is not None
        low = bisect.bisect_left(times, seed.when - WINDOW)
        high = bisect.bisect_right(times, seed.when + WINDOW)
        for other in ordered[low:high]:
            assert other.simhash is not None  # _window fingerprints the stories that had none
            if other.id != seed.id and distance(seed.simhash, other.simhash) <= MAX_SIMHASH_DISTANCE:
                pairs.append((seed.id, other.id))
    report.compared = len(pairs)
    _fill_texts(connection, [window[b] for _, b in pairs if b not in seeds and window[b].text is None])
    stories = {**window, **seeds}

    confirmed = []
    for a, b in pairs:
        story_a, story_b = stories[a], stories[b]
        long_enough = story_a.long_enough() and story_b.long_enough()
        if long_enough and jaccard(story_a.shingles(), story_b.shingles()) >= MIN_RESEMBLANCE:
            confirmed.append((a, b))
    report.confirmed = len({tuple(sorted(pair)) for pair in confirmed})
    return confirmed


def _groups(seeds: dict[int, _Story], kept: dict[int, _Story], edges: list[tuple[int, int]]) -> list[list[int]]:
    """Connected groups: the confirmed pairs, plus the intact clusters of stories outside the seeds."""
    parent: dict[int, int] = {}

    def find(node: int) -> int:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    def union(a: int, b: int) -> None:
        parent[find(a)] = find(b)

    for story_id in seeds:
        find(story_id)
    for a, b in edges:
        union(a, b)
    first_of_cluster: dict[int, int] = {}
    for story in kept.values():
        if story.id not in seeds:
            union(story.id, first_of_cluster.setdefault(story.cluster_id or story.id, story.id))
    groups: dict[int, list[int]] = {}
    for node in list(parent):
        groups.setdefault(find(node), []).append(node)
    return list(groups.values())


def _relabel(connection: Connection, groups: list[list[int]], stories: dict[int, _Story]) -> list[int]:
    """Give each group its original's id and flag; write only the rows that change; return their ids."""
    changes = []
    for group in groups:
        original = min(group, key=lambda i: (stories[i].when, i))
        for story_id in group:
            story = stories[story_id]
            if story.cluster_id != original or story.is_original != (story_id == original):
                changes.append({"b_id": story_id, "b_cluster": original, "b_original": story_id == original})
    if changes:
        changes.sort(key=lambda change: change["b_id"])
        statement = (
            update(Article)
            .where(Article.id == bindparam("b_id"))
            .values(cluster_id=bindparam("b_cluster"), is_original=bindparam("b_original"))
        )
        connection.execute(statement.execution_options(synchronize_session=False), changes)
    return [change["b_id"] for change in changes]
