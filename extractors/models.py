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
    # Where `published` came from: "json-ld", "meta", "time-element", "htmldate", or "feed" (set by the flow).
    date_source: str | None = None
    word_count: int = 0  # words of `text`; each CJK character counts as one word
    truncated: bool = False  # the text looks cut: a paywall or teaser marker, or much shorter than the feed summary
    extractor_version: str = ""  # presswatch's extraction rules and the libraries' versions, for re-extraction


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
    # Stock symbols ("BABA", "9988.HK"), matched only in a ticker context ("NYSE: BABA", "$BABA").
    tickers: tuple[str, ...] = ()
    # Names in Chinese script (阿里巴巴), matched inside unspaced text.
    native_names: tuple[str, ...] = ()
    # Contexts in which a spelling of this entity is not the entity (the Amazon river).
    exclusions: tuple[Exclusion, ...] = ()


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
    in_lead: bool = False  # named in the first paragraph or the first ~60 words of the body
    first_position: int | None = None  # character offset of the first mention in the body; None: headline only
    salience: float = 0.0  # 0..1, how much the story is about this entity (docs/tagging.md)
    primary: bool = False  # one of the story's main subjects


@dataclass(frozen=True)
class Exclusion:
    """A context in which a watched spelling does not name the entity: the words just before or after it."""

    preceded_by: tuple[str, ...] = ()  # the text just before the match ends with one of these
    followed_by: tuple[str, ...] = ()  # the text just after the match starts with one of these
    spellings: tuple[str, ...] = ()  # the spellings the rule applies to; empty: all of the entity's


@dataclass(frozen=True)
class Spelling:
    """One way a watched entity is written, for the aliases table: kind is name/alias/short/ticker/native."""

    entity_id: str
    text: str
    kind: str


@dataclass(frozen=True)
class Mention:
    """One resolved mention of a watched entity: character offsets into the headline or the body."""

    entity_id: str
    start: int
    end: int
    in_title: bool
    source: str  # "name" (an alias or short form), "ticker" or "native"


@dataclass(frozen=True)
class TopicTag:
    """A topic a story is about: its weighted keyword score, keyword hits and the keywords that hit."""

    topic_id: str
    name: str
    score: float
    hits: int
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Quote:
    """A quoted statement and who made it; entity_id when the speaker is a watched person or company."""

    speaker: str
    entity_id: str | None
    text: str
    start: int = 0  # character offset of the quoted text in the body


@dataclass(frozen=True)
class DiscoveredName:
    """An organisation or person a statistical NER model found that is not on the watchlist."""

    text: str
    label: str  # spaCy label: ORG or PERSON
    count: int
