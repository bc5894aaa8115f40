"""The typed values that travel down the pipeline: feed entries, extracted articles, entity tags."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class FeedEntry:
    """One item of a feed, cleaned: an absolute normalized link and plain-text fields."""

    link: str
    title: str | None = None
    summary: str | None = None
    published: datetime | None = None  # UTC-aware, or None when the feed gives no usable date
    guid: str | None = None


@dataclass(frozen=True)
class ParsedFeed:
    """A parsed feed document: its title, entries, polling hints and any non-fatal parse warning."""

    title: str | None
    entries: list[FeedEntry]
    ttl_minutes: int | None = None  # from <ttl> or sy:updatePeriod/sy:updateFrequency
    warning: str | None = None  # feedparser's bozo reason when the feed parsed despite it


@dataclass(frozen=True)
class ExtractedArticle:
    """Main text and metadata extracted from one article page."""

    url: str  # the URL the page was fetched from (normalized)
    canonical_url: str  # the story's identity: <link rel=canonical>/og:url when present, else url
    text: str
    title: str | None = None
    author: str | None = None
    published: datetime | None = None  # UTC-aware
    language: str | None = None
    sitename: str | None = None
    description: str | None = None
    extractor: str = "trafilatura"


@dataclass(frozen=True)
class WatchedEntity:
    """One watchlist entry: a company, a brand or a person to tag."""

    id: str
    name: str
    kind: str  # "company" | "brand" | "person"
    parent: str | None = None
    aliases: tuple[str, ...] = ()
    # Aliases that only count once the entity has been named in full earlier in the same text
    # (a bare "Ma" after "Jack Ma").
    after_full_name: tuple[str, ...] = ()


@dataclass(frozen=True)
class Watchlist:
    """The entities to tag, in file order, with their ids unique."""

    entities: tuple[WatchedEntity, ...] = field(default_factory=tuple)

    def by_id(self) -> dict[str, WatchedEntity]:
        """Entities keyed by id."""
        return {entity.id: entity for entity in self.entities}


@dataclass(frozen=True)
class EntityTag:
    """How often one watched entity is mentioned in a story, and whether in its headline."""

    entity_id: str
    name: str
    kind: str
    mentions: int
    in_title: bool
