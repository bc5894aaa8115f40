"""Idempotent writes: a re-run, or two runs at once, never duplicates a story or half-writes one."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError, StatementError

from extractors.analysis import StoryAnalysis
from extractors.models import EntityTag, ExtractedArticle, Watchlist
from extractors.similarity import fingerprint, to_signed
from fetcher.schedule import FeedSchedule
from storage.db import transaction
from storage.models import Article, ArticleLink, Entity, Feed, FetchEvent, Mention, utcnow
from storage.rawpages import compress_page
from storage.tags import write_analysis

IN_CLAUSE_CHUNK = 500


@dataclass(frozen=True)
class Story:
    """A page that became a story: what was fetched, what was extracted, what was tagged."""

    link: str
    article: ExtractedArticle
    tags: Sequence[EntityTag]
    feed_id: int | None
    fetched_at: datetime
    analysis: StoryAnalysis | None = None  # tags plus topics, quotes and discovered names
    raw_page: bytes | None = None  # the page as downloaded, kept compressed for re-extraction
    content_type: str | None = None


@dataclass(frozen=True)
class LinkFailure:
    """A link that could not become a story, with a fixed outcome code and a human reason."""

    link: str
    feed_id: int | None
    outcome: str
    reason: str
    status_code: int | None = None


@dataclass(frozen=True)
class StoredStory:
    """Where a story landed: its row id, and whether this write created it."""

    article_id: int
    canonical_url: str
    created: bool
    link: str


@dataclass(frozen=True)
class FeedState:
    """A watched feed's row id and its conditional-GET validators."""

    id: int
    url: str
    name: str | None
    etag: str | None
    last_modified: str | None
    body_hash: str | None = None
    ttl_minutes: int | None = None
    schedule: FeedSchedule = FeedSchedule()


@dataclass(frozen=True)
class FeedPoll:
    """The result of reading one feed, to be recorded once its links have been dealt with."""

    feed_id: int
    url: str
    outcome: str
    reason: str | None
    status_code: int | None
    fetched_at: datetime
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None  # sha256 of the feed body, for servers that answer 200 with the same feed
    ttl_minutes: int | None = None
    new_items: int = 0
    schedule: FeedSchedule | None = None  # when to read it next (fetcher/schedule.py)
    retry_after: float | None = None  # seconds a 429/503 asked us to wait before the next read


def _insert(connection: Connection, table: Any) -> Any:
    """An INSERT that supports ON CONFLICT on this connection's backend."""
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    return insert(table)


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


def sync_watchlist(engine: Engine, watchlist: Watchlist) -> None:
    """Insert or update every watchlist entity; entities dropped from the list keep their rows and mentions."""
    parents_first = sorted(watchlist.entities, key=lambda entity: entity.parent is not None)
    with transaction(engine) as connection:
        for entity in parents_first:
            values = {"id": entity.id, "name": entity.name, "kind": entity.kind, "parent_id": entity.parent}
            statement = _insert(connection, _table(Entity)).values(**values)
            statement = statement.on_conflict_do_update(
                index_elements=["id"], set_={"name": entity.name, "kind": entity.kind, "parent_id": entity.parent}
            )
            connection.execute(statement)


def upsert_feeds(engine: Engine, feeds: Iterable[tuple[str, str | None]]) -> list[FeedState]:
    """Make sure each (url, name) feed has a row; return their states in the order given.

    Batched for thousands of feeds: one read of the rows there are, one executemany for the new or renamed.
    """
    names: dict[str, str | None] = {}
    for url, name in feeds:
        names[url] = name if name or url not in names else names[url]
    with transaction(engine) as connection:
        by_url = _feed_rows(connection, list(names))
        changed = [url for url, name in names.items() if url not in by_url or (name and by_url[url].name != name)]
        now = utcnow()
        named = [{"url": url, "name": names[url], "created_at": now} for url in changed if names[url]]
        unnamed = [{"url": url, "name": None, "created_at": now} for url in changed if not names[url]]
        if named:
            statement = _insert(connection, _table(Feed))
            connection.execute(
                statement.on_conflict_do_update(index_elements=["url"], set_={"name": statement.excluded.name}), named
            )
        if unnamed:
            connection.execute(
                _insert(connection, _table(Feed)).on_conflict_do_nothing(index_elements=["url"]), unnamed
            )
        by_url.update(_feed_rows(connection, changed))
    return [by_url[url] for url in names]


def _feed_rows(connection: Connection, urls: Sequence[str]) -> dict[str, FeedState]:
    """The states of the feeds with these URLs that have a row, read in chunked IN lists."""
    found: dict[str, FeedState] = {}
    for start in range(0, len(urls), IN_CLAUSE_CHUNK):
        chunk = urls[start : start + IN_CLAUSE_CHUNK]
        for row in connection.execute(select(_table(Feed)).where(Feed.url.in_(chunk))):
            found[row.url] = feed_state(row)
    return found


def feed_states(engine: Engine, ids: Iterable[int]) -> list[FeedState]:
    """The states of the feeds with these row ids, in the order given; unknown ids are left out."""
    wanted = list(dict.fromkeys(ids))
    by_id: dict[int, FeedState] = {}
    with transaction(engine) as connection:
        for start in range(0, len(wanted), IN_CLAUSE_CHUNK):
            chunk = wanted[start : start + IN_CLAUSE_CHUNK]
            for row in connection.execute(select(_table(Feed)).where(Feed.id.in_(chunk))):
                by_id[row.id] = feed_state(row)
    return [by_id[feed_id] for feed_id in wanted if feed_id in by_id]


def feed_state(row: Any) -> FeedState:
    """A feeds row as the state a pass works from."""
    schedule = FeedSchedule(
        interval=timedelta(seconds=row.poll_interval_seconds or 900),
        next_due_at=row.next_due_at,
        failure_score=row.failure_score or 0.0,
        consecutive_failures=row.consecutive_failures or 0,
        suspended_reason=row.suspended_reason,
    )
    return FeedState(row.id, row.url, row.name, row.etag, row.last_modified, row.body_hash, row.ttl_minutes, schedule)


def known_links(engine: Engine, links: Iterable[str]) -> set[str]:
    """The subset of links that already lead to a stored story."""
    wanted = list(dict.fromkeys(links))
    found: set[str] = set()
    with transaction(engine) as connection:
        for start in range(0, len(wanted), IN_CLAUSE_CHUNK):
            chunk = wanted[start : start + IN_CLAUSE_CHUNK]
            found.update(connection.scalars(select(ArticleLink.url).where(ArticleLink.url.in_(chunk))))
    return found


def store_batch(engine: Engine, stories: Sequence[Story], failures: Sequence[LinkFailure]) -> list[StoredStory]:
    """Write stories with their links, mentions and fetch events, and record the failures.

    The batch is one transaction; if the backend refuses it for a data reason, each story is retried in a
    transaction of its own so that one bad row cannot cost the others. Either way a story is never stored
    without its mentions and its fetch event.
    """
    try:
        with transaction(engine) as connection:
            stored = [_store_story(connection, story) for story in stories]
            _record_failures(connection, failures)
        return stored
    except (IntegrityError, StatementError) as exc:
        if isinstance(exc, OperationalError):
            raise
    stored = []
    for story in stories:
        try:
            with transaction(engine) as connection:
                stored.append(_store_story(connection, story))
        except (IntegrityError, StatementError) as exc:
            if isinstance(exc, OperationalError):
                raise
            failure = LinkFailure(story.link, story.feed_id, "store_error", f"could not store: {_first_line(exc)}")
            with transaction(engine) as connection:
                _record_failures(connection, [failure])
    with transaction(engine) as connection:
        _record_failures(connection, failures)
    return stored


def _store_story(connection: Connection, story: Story) -> StoredStory:
    article = story.article
    values = {
        "url": story.link,
        "canonical_url": article.canonical_url,
        "title": article.title,
        "author": article.author,
        "published_at": article.published,
        "fetched_at": story.fetched_at,
        "language": article.language,
        "sitename": article.sitename,
        "description": article.description,
        "text": article.text,
        "word_count": article.word_count,
        "extractor": article.extractor,
        "feed_id": story.feed_id,
        "date_source": article.date_source,
        "truncated": article.truncated,
        "extractor_version": article.extractor_version or None,
        "raw_page": compress_page(story.raw_page) if story.raw_page is not None else None,
        "raw_sha256": hashlib.sha256(story.raw_page).hexdigest() if story.raw_page is not None else None,
        "raw_content_type": story.content_type,
        "is_original": True,
        # Computed here, in the worker that stores the story, so grouping copies after the pass only compares.
        "simhash": to_signed(fingerprint(article.text)),
    }
    statement = (
        _insert(connection, _table(Article))
        .values(**values)
        .on_conflict_do_nothing(index_elements=["canonical_url"])
        .returning(_table(Article).c.id)
    )
    new_id = connection.execute(statement).scalar()
    created = new_id is not None
    if new_id is None:
        new_id = connection.execute(
            select(Article.id).where(Article.canonical_url == article.canonical_url)
        ).scalar_one()
    connection.execute(
        _insert(connection, _table(ArticleLink)).on_conflict_do_nothing(index_elements=["url"]),
        [{"url": link, "article_id": new_id} for link in dict.fromkeys((story.link, article.canonical_url))],
    )
    if created:
        # A new story is the original of its own cluster until assign_clusters finds its copies.
        connection.execute(update(_table(Article)).where(Article.id == new_id).values(cluster_id=new_id))
    if created and story.analysis is not None:
        write_analysis(connection, new_id, story.analysis, new=True)
    elif created and story.tags:
        connection.execute(
            _insert(connection, _table(Mention)).on_conflict_do_nothing(index_elements=["article_id", "entity_id"]),
            [
                {"article_id": new_id, "entity_id": tag.entity_id, "count": tag.mentions, "in_title": tag.in_title}
                for tag in story.tags
            ],
        )
    reason = None if created else f"same story as {article.canonical_url}, already stored"
    connection.execute(
        _insert(connection, _table(FetchEvent)).values(
            at=story.fetched_at,
            feed_id=story.feed_id,
            url=story.link,
            outcome="stored" if created else "duplicate",
            reason=reason,
            status_code=200,
            article_id=new_id,
        )
    )
    return StoredStory(new_id, article.canonical_url, created, story.link)


def _record_failures(connection: Connection, failures: Sequence[LinkFailure]) -> None:
    if not failures:
        return
    now = utcnow()
    connection.execute(
        _insert(connection, _table(FetchEvent)),
        [
            {
                "at": now,
                "feed_id": failure.feed_id,
                "url": failure.link,
                "outcome": failure.outcome,
                "reason": failure.reason,
                "status_code": failure.status_code,
                "article_id": None,
            }
            for failure in failures
        ],
    )


def record_feed_polls(engine: Engine, polls: Sequence[FeedPoll]) -> None:
    """Save each feed's new validators and status with one fetch event, once its links are dealt with.

    Called only after the feed's links were stored, so that a pass cut short never leaves a feed marked
    as read (a 304 next time) while its stories are missing. Batched: one executemany per kind of change.
    """
    if not polls:
        return
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for poll in polls:
        changes = _feed_changes(poll)
        groups.setdefault(tuple(sorted(changes)), []).append({"feed_key": poll.feed_id, **changes})
    with transaction(engine) as connection:
        for columns, rows in groups.items():
            statement = (
                update(_table(Feed))
                .where(_table(Feed).c.id == bindparam("feed_key"))
                .values({column: bindparam(column) for column in columns})
            )
            connection.execute(statement, rows)
        connection.execute(
            _insert(connection, _table(FetchEvent)),
            [
                {
                    "at": poll.fetched_at,
                    "feed_id": poll.feed_id,
                    "url": poll.url,
                    "outcome": poll.outcome,
                    "reason": poll.reason,
                    "status_code": poll.status_code,
                    "article_id": None,
                }
                for poll in polls
            ],
        )


def _feed_changes(poll: FeedPoll) -> dict[str, Any]:
    """The feeds columns one poll changes."""
    changes: dict[str, Any] = {"last_fetched_at": poll.fetched_at, "last_status": poll.outcome}
    if poll.outcome == "ok":
        changes.update(etag=poll.etag, last_modified=poll.last_modified, body_hash=poll.body_hash)
        if poll.ttl_minutes is not None:
            changes["ttl_minutes"] = poll.ttl_minutes
    if poll.new_items:
        changes["last_new_story_at"] = poll.fetched_at
    if poll.schedule is not None:
        changes.update(
            poll_interval_seconds=int(poll.schedule.interval.total_seconds()),
            next_due_at=poll.schedule.next_due_at,
            failure_score=poll.schedule.failure_score,
            consecutive_failures=poll.schedule.consecutive_failures,
            suspended_reason=poll.schedule.suspended_reason,
        )
    return changes


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
