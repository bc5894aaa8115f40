"""Writing what a story is about: mentions with salience, topics, quotes, discovered names; the vocabulary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from extractors.analysis import StoryAnalysis
from extractors.models import Spelling
from extractors.topics import Topics
from storage.db import transaction
from storage.models import Alias, ArticleTopic, DiscoveredNameRow, Mention, QuoteRow, Topic


def insert_for(connection: Connection, model: Any) -> Any:
    """An INSERT for the model's table that supports ON CONFLICT on this connection's backend."""
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    return insert(model.__table__)


@dataclass(frozen=True)
class TagChange:
    """How re-tagging changed one story's entities."""

    article_id: int
    added: list[str]
    removed: list[str]
    recounted: list[str]


def sync_vocabulary(engine: Engine, spellings: Sequence[Spelling], topics: Topics) -> None:
    """Replace the aliases table with the watchlist's spellings and upsert the topics."""
    with transaction(engine) as connection:
        connection.execute(delete(Alias))
        if spellings:
            connection.execute(
                insert_for(connection, Alias).on_conflict_do_nothing(),
                [{"entity_id": s.entity_id, "text": s.text, "kind": s.kind} for s in spellings],
            )
        for topic in topics.topics:
            connection.execute(
                insert_for(connection, Topic)
                .values(id=topic.id, name=topic.name)
                .on_conflict_do_update(index_elements=["id"], set_={"name": topic.name})
            )


def write_analysis(connection: Connection, article_id: int, analysis: StoryAnalysis, new: bool = False) -> TagChange:
    """Replace a story's mentions, topics, quotes and discovered names; say what changed in its entities.

    `new`: the story's row was created in this transaction, so it has nothing to read or delete first (five
    statements fewer per story when a pass stores it).
    """
    before: dict[str, int] = {}
    if not new:
        previous = connection.execute(select(Mention.entity_id, Mention.count).where(Mention.article_id == article_id))
        before = {entity_id: count for entity_id, count in previous}
        for model in (Mention, ArticleTopic, QuoteRow, DiscoveredNameRow):
            connection.execute(delete(model).where(model.article_id == article_id))
    if analysis.tags:
        connection.execute(
            insert_for(connection, Mention),
            [
                {
                    "article_id": article_id,
                    "entity_id": t.entity_id,
                    "count": t.mentions,
                    "in_title": t.in_title,
                    "in_lead": t.in_lead,
                    "first_position": t.first_position,
                    "salience": t.salience,
                    "primary": t.primary,
                }
                for t in analysis.tags
            ],
        )
    if analysis.topics:
        connection.execute(
            insert_for(connection, ArticleTopic).on_conflict_do_nothing(),
            [
                {"article_id": article_id, "topic_id": t.topic_id, "score": t.score, "hits": t.hits}
                for t in analysis.topics
            ],
        )
    if analysis.quotes:
        connection.execute(
            insert_for(connection, QuoteRow),
            [
                {"article_id": article_id, "speaker": q.speaker, "entity_id": q.entity_id, "text": q.text}
                for q in analysis.quotes
            ],
        )
    if analysis.discovered:
        connection.execute(
            insert_for(connection, DiscoveredNameRow).on_conflict_do_nothing(),
            [
                {"article_id": article_id, "name": n.text, "label": n.label, "count": n.count}
                for n in analysis.discovered
            ],
        )
    after = {t.entity_id: t.mentions for t in analysis.tags}
    return TagChange(
        article_id,
        added=sorted(set(after) - set(before)),
        removed=sorted(set(before) - set(after)),
        recounted=sorted(e for e in set(after) & set(before) if after[e] != before[e]),
    )
