"""SQLAlchemy 2.0 models of presswatch's tables: the public SQL contract documented in the README."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp stored in UTC on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes and convert aware ones to UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; attach a timezone first")
        converted = value.astimezone(UTC)
        return converted.replace(tzinfo=None) if dialect.name == "sqlite" else converted

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Return every stored timestamp as an aware UTC datetime."""
        if value is None:
            return None
        stamp: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


# Schema objects that migrations create but no model describes, so that autogenerate neither drops them
# nor reports them as differences: full-text search (SQLite's FTS5 tables; PostgreSQL's stored
# `articles.search_vector` and its GIN index, which exist on PostgreSQL only, so a model column would be
# wrong on SQLite) and the expression indexes of 0004, which SQLite's reflection cannot read anyway.
UNMODELLED_TABLE_PREFIXES = ("articles_fts",)
UNMODELLED_INDEXES = (
    "ix_articles_search",
    "ix_articles_search_vector",
    "ix_articles_story_time",
    "ix_articles_story_day",
)
UNMODELLED_COLUMNS = {("articles", "search_vector")}


def include_in_autogenerate(name: str | None, type_: str, parent_names: Mapping[Any, str | None]) -> bool:
    """Alembic `include_name` hook: skip the search and expression-index objects that only migrations manage."""
    if type_ == "table" and name and name.startswith(UNMODELLED_TABLE_PREFIXES):
        return False
    if type_ == "column" and (parent_names.get("table_name"), name) in UNMODELLED_COLUMNS:
        return False
    return not (type_ == "index" and name in UNMODELLED_INDEXES)


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base carrying the naming convention, so constraint names match on every backend."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Feed(Base):
    """A feed being watched, with its conditional-GET state."""

    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str | None] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    last_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Polling state (fetcher/schedule.py): a body hash for servers that answer 200 with the same feed,
    # the adaptive interval, weighted failures and suspension.
    body_hash: Mapped[str | None] = mapped_column(String(64))
    ttl_minutes: Mapped[int | None] = mapped_column(Integer)
    poll_interval_seconds: Mapped[int] = mapped_column(Integer, default=900, server_default="900")
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    failure_score: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    suspended_reason: Mapped[str | None] = mapped_column(Text)
    last_new_story_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Article(Base):
    """One story: extracted text and metadata, identified by its canonical URL."""

    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    canonical_url: Mapped[str] = mapped_column(Text, unique=True)
    title: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime)
    language: Mapped[str | None] = mapped_column(String(16))
    sitename: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    word_count: Mapped[int] = mapped_column(Integer, default=0)
    extractor: Mapped[str] = mapped_column(String(64))
    feed_id: Mapped[int | None] = mapped_column(ForeignKey("feeds.id", ondelete="SET NULL"), index=True)
    date_source: Mapped[str | None] = mapped_column(String(16))
    truncated: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    extractor_version: Mapped[str | None] = mapped_column(String(128))
    # The page as downloaded, compressed (storage/rawpages.py: zstd; zlib in rows of earlier versions), so
    # `presswatch reextract` needs no network.
    raw_page: Mapped[bytes | None] = mapped_column(LargeBinary)
    raw_sha256: Mapped[str | None] = mapped_column(String(64))
    raw_content_type: Mapped[str | None] = mapped_column(String(128))
    # Signed form of the 64-bit fingerprint of `text`: whoever writes `text` writes it too (NULL: not computed yet).
    simhash: Mapped[int | None] = mapped_column(BigInteger)
    cluster_id: Mapped[int | None] = mapped_column(Integer, index=True)  # id of the cluster's original
    is_original: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")


class ArticleLink(Base):
    """Every normalized link known to lead to a stored story, so it is never downloaded again."""

    __tablename__ = "article_links"

    url: Mapped[str] = mapped_column(Text, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)


class Entity(Base):
    """A watched company, brand or person; `id` is the watchlist id."""

    __tablename__ = "entities"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("entities.id", ondelete="SET NULL"))


class Mention(Base):
    """How often one entity is mentioned in one story, and whether in its headline."""

    __tablename__ = "mentions"

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    entity_id: Mapped[str] = mapped_column(ForeignKey("entities.id", ondelete="CASCADE"), primary_key=True, index=True)
    count: Mapped[int] = mapped_column(Integer)
    in_title: Mapped[bool] = mapped_column(Boolean, default=False)
    in_lead: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    first_position: Mapped[int | None] = mapped_column(Integer)
    salience: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    primary: Mapped[bool] = mapped_column("primary", Boolean, default=False, server_default="0")


class FetchEvent(Base):
    """One row per feed fetch and per link that did or did not become a story: the audit trail."""

    __tablename__ = "fetch_events"
    __table_args__ = (Index("ix_fetch_events_feed_id_at", "feed_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    feed_id: Mapped[int | None] = mapped_column(ForeignKey("feeds.id", ondelete="SET NULL"))
    url: Mapped[str] = mapped_column(Text, index=True)
    outcome: Mapped[str] = mapped_column(String(32), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    status_code: Mapped[int | None] = mapped_column(Integer)
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="SET NULL"))


class Alias(Base):
    """Every spelling of a watched entity: name, alias, short form, ticker, native-script name."""

    __tablename__ = "aliases"

    entity_id: Mapped[str] = mapped_column(ForeignKey("entities.id", ondelete="CASCADE"), primary_key=True)
    text: Mapped[str] = mapped_column(Text, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)


class Topic(Base):
    """A topic from seeds/topics.yaml."""

    __tablename__ = "topics"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(Text)


class ArticleTopic(Base):
    """A topic a story is about, with its keyword score."""

    __tablename__ = "article_topics"

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    topic_id: Mapped[str] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True, index=True)
    score: Mapped[float] = mapped_column(Float)
    hits: Mapped[int] = mapped_column(Integer)


class QuoteRow(Base):
    """A quoted statement in a story and its speaker (entity_id when the speaker is watched)."""

    __tablename__ = "quotes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    speaker: Mapped[str] = mapped_column(Text)
    entity_id: Mapped[str | None] = mapped_column(ForeignKey("entities.id", ondelete="SET NULL"), index=True)
    text: Mapped[str] = mapped_column(Text)


class DiscoveredNameRow(Base):
    """An organisation or person a statistical NER model found in a story that is not on the watchlist."""

    __tablename__ = "discovered_names"

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(Text, primary_key=True)
    label: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
