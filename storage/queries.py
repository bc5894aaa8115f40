"""Read queries written once: what the CLI prints and the tests check."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from storage.db import transaction
from storage.models import Article, Entity, Mention


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
