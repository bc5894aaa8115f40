"""Read queries written once: what the CLI prints and the tests check."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select

from storage.db import transaction
from storage.models import Article, Entity, Feed, FetchEvent, Mention


@dataclass(frozen=True)
class StoryRow:
    """A stored story with its outlet, date and tagged companies, for display."""

    article_id: int
    title: str | None
    sitename: str | None
    published_at: datetime | None
    url: str
    companies: list[str]
    entities: list[str]


def stories_with_tags(engine: Engine, article_ids: Sequence[int] | None = None, limit: int = 50) -> list[StoryRow]:
    """Stories (the given ids, else the newest) with their tagged entities, most mentioned first."""
    query = select(Article.id, Article.title, Article.sitename, Article.published_at, Article.canonical_url)
    if article_ids is not None:
        query = query.where(Article.id.in_(list(article_ids)))
    query = query.order_by(Article.published_at.desc(), Article.id.desc()).limit(limit)
    with transaction(engine) as connection:
        articles = connection.execute(query).all()
        ids = [row.id for row in articles]
        tags = connection.execute(
            select(Mention.article_id, Entity.id, Entity.kind)
            .join(Entity, Entity.id == Mention.entity_id)
            .where(Mention.article_id.in_(ids))
            .order_by(Mention.article_id, Mention.count.desc(), Entity.id)
        ).all()
    companies: dict[int, list[str]] = {}
    entities: dict[int, list[str]] = {}
    for tag in tags:
        entities.setdefault(tag.article_id, []).append(tag.id)
        if tag.kind == "company":
            companies.setdefault(tag.article_id, []).append(tag.id)
    return [
        StoryRow(
            row.id,
            row.title,
            row.sitename,
            row.published_at,
            row.canonical_url,
            companies.get(row.id, []),
            entities.get(row.id, []),
        )
        for row in articles
    ]


@dataclass(frozen=True)
class FeedHealth:
    """One feed's health: last status, last new story, failures, next due time, suspension."""

    id: int
    url: str
    name: str | None
    last_status: str | None
    last_fetched_at: datetime | None
    last_new_story_at: datetime | None
    consecutive_failures: int
    poll_interval_seconds: int
    next_due_at: datetime | None
    suspended_reason: str | None
    last_reason: str | None


def feed_health(engine: Engine) -> list[FeedHealth]:
    """Every watched feed with its health and the reason given by its latest fetch event."""
    with transaction(engine) as connection:
        feeds = connection.execute(select(Feed.__table__).order_by(Feed.id)).all()
        latest = connection.execute(
            select(FetchEvent.feed_id, FetchEvent.reason).where(
                FetchEvent.id.in_(
                    select(func.max(FetchEvent.id))
                    .where(FetchEvent.article_id.is_(None))
                    .where(FetchEvent.feed_id.is_not(None))
                    .group_by(FetchEvent.feed_id)
                )
            )
        ).all()
    reasons = {row.feed_id: row.reason for row in latest}
    return [
        FeedHealth(
            f.id,
            f.url,
            f.name,
            f.last_status,
            f.last_fetched_at,
            f.last_new_story_at,
            f.consecutive_failures or 0,
            f.poll_interval_seconds or 0,
            f.next_due_at,
            f.suspended_reason,
            reasons.get(f.id),
        )
        for f in feeds
    ]


def health_markdown(rows: Sequence[FeedHealth]) -> str:
    """Feed health as a markdown table, for the monitoring run's artifact."""

    def when(value: datetime | None) -> str:
        return value.strftime("%Y-%m-%d %H:%M") if value else "-"

    lines = [
        "## Feed health",
        "",
        "| feed | last status | failures | last new story | next due | note |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        note = row.suspended_reason or row.last_reason or ""
        lines.append(
            f"| {row.name or row.url} | {row.last_status or '-'} | {row.consecutive_failures} | "
            f"{when(row.last_new_story_at)} | {when(row.next_due_at)} | {note.replace('|', '/')} |"
        )
    return "\n".join(lines) + "\n"


def failed_attempts(engine: Engine, links: Sequence[str]) -> dict[str, int]:
    """How many times each link was requested without becoming a story (`deferred` ones were never sent)."""
    counts: dict[str, int] = {}
    unique = sorted(set(links))
    with engine.connect() as connection:
        for start in range(0, len(unique), 500):  # bounded IN lists
            chunk = unique[start : start + 500]
            rows = connection.execute(
                select(FetchEvent.url, func.count())
                .where(FetchEvent.url.in_(chunk), FetchEvent.article_id.is_(None), FetchEvent.outcome != "deferred")
                .group_by(FetchEvent.url)
            )
            counts.update({url: int(n) for url, n in rows})
    return counts
