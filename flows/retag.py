"""The `retag` flow: re-tag stored stories after the watchlist or topic rules change, without downloading."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from pydantic import Field, SecretStr
from sqlalchemy import Engine, exists, select

from extractors.analysis import analyze
from extractors.discovery import load_ner_model
from extractors.topics import load_topics
from extractors.watchlist import load_watchlist, spellings
from presswatch.settings import load_settings
from storage.db import bind_time, make_engine, transaction, upgrade
from storage.models import Article, Entity, Mention
from storage.tags import TagChange, sync_vocabulary, write_analysis
from storage.writes import sync_watchlist

BATCH = 200


def stories_to_retag(engine: Engine, entity: str | None, since: datetime | None, until: datetime | None) -> list[int]:
    """Ids of the stored stories to re-tag: all, or those mentioning an entity (or its brands), in a range."""
    query = select(Article.id).order_by(Article.id)
    when = Article.published_at
    if since is not None:
        query = query.where(when >= bind_time(engine, since))
    if until is not None:
        query = query.where(when <= bind_time(engine, until))
    if entity is not None:
        family = select(Entity.id).where((Entity.id == entity) | (Entity.parent_id == entity))
        query = query.where(exists().where(Mention.article_id == Article.id, Mention.entity_id.in_(family)))
    with engine.connect() as connection:
        return list(connection.scalars(query))


def retag_stories(
    engine: Engine, article_ids: list[int], watchlist_file: str, topics_file: str, spacy_model: str = ""
) -> list[TagChange]:
    """Re-run tagging over the stored text of each story, a batch per transaction; return what changed."""
    watchlist = load_watchlist(watchlist_file)
    topics = load_topics(topics_file)
    ner = load_ner_model(spacy_model) if spacy_model else None
    sync_watchlist(engine, watchlist)
    sync_vocabulary(engine, spellings(watchlist), topics)
    changes: list[TagChange] = []
    for start in range(0, len(article_ids), BATCH):
        chunk = article_ids[start : start + BATCH]
        with transaction(engine) as connection:
            rows = connection.execute(select(Article.id, Article.title, Article.text).where(Article.id.in_(chunk)))
            for row in rows.all():
                change = write_analysis(connection, row.id, analyze(row.title, row.text, watchlist, topics, ner))
                if change.added or change.removed or change.recounted:
                    changes.append(change)
    return changes


@flow(name="retag")
def retag(
    entity: Annotated[
        str | None, Field(title="Entity", description="Only stories already tagged with this entity id (or brands).")
    ] = None,
    since: Annotated[datetime | None, Field(title="Published since", description="Earliest publication time.")] = None,
    until: Annotated[datetime | None, Field(title="Published until", description="Latest publication time.")] = None,
    database_url: Annotated[
        SecretStr | None, Field(title="Database URL", description="Leave empty to use PRESSWATCH_DATABASE_URL.")
    ] = None,
) -> dict[str, Any]:
    """Re-tag stored stories with the current watchlist and topic rules and report which tags changed.

    Args:
        entity: Only stories already tagged with this entity id (or its brands).
        since: Only stories published at or after this time.
        until: Only stories published at or before this time.
        database_url: presswatch's database; empty uses the worker's PRESSWATCH_DATABASE_URL.
    """
    settings = load_settings(database_url=database_url)
    engine = make_engine(settings.database_url.get_secret_value())
    try:
        upgrade(engine)
        ids = stories_to_retag(engine, entity, since, until)
        changes = retag_stories(
            engine, ids, str(settings.watchlist_file), str(settings.topics_file), settings.spacy_model
        )
    finally:
        engine.dispose()
    lines = [f"## Re-tagging\n\n{len(ids)} stories re-tagged, {len(changes)} changed.\n"]
    lines += [
        f"- story {c.article_id}: +{', '.join(c.added) or '-'} / -{', '.join(c.removed) or '-'}"
        f" / recounted {', '.join(c.recounted) or '-'}"
        for c in changes[:200]
    ]
    create_markdown_artifact(markdown="\n".join(lines), key="retag", description="What re-tagging changed")
    get_run_logger().info("%d stories re-tagged, %d changed", len(ids), len(changes))
    return {"retagged": len(ids), "changed": [c.__dict__ for c in changes]}
