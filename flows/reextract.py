"""The `reextract` flow: re-run extraction over the raw pages stored with each story, without downloading.

After an extractor upgrade or a rule change, every stored story can be brought up to date from the page it was
made from (`articles.raw_page`, zstd-compressed, zlib in rows stored before, checked against `raw_sha256`): text,
title, metadata, word count, extractor and version, SimHash; a story whose text or title changed is re-tagged through
the same analysis as a new one, and stories whose text changed are re-clustered. The report says what changed.

What re-extraction cannot know: the feed entry the story came from (its summary and date are not stored), so
a publication date taken from the feed (`date_source = 'feed'`) is kept when the page still gives none, and a
`truncated` flag, which the feed summary may have set, is kept once set. The canonical URL is the story's
identity and never changes here.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from pydantic import Field, SecretStr
from spacy.language import Language
from sqlalchemy import Connection, Engine, select, update

from extractors.analysis import StoryAnalysis, analyze
from extractors.articles import extract_article
from extractors.dates import FEED as FEED_DATE
from extractors.discovery import load_ner_model
from extractors.models import ExtractedArticle, Watchlist
from extractors.similarity import fingerprint, to_signed
from extractors.topics import Topics, load_topics
from extractors.watchlist import load_watchlist, spellings
from presswatch.errors import ExtractionError, StorageError
from presswatch.settings import load_settings
from storage.clusters import assign_clusters, story_time
from storage.db import make_engine, transaction, upgrade
from storage.models import Article, Mention
from storage.rawpages import decompress_page
from storage.tags import sync_vocabulary, write_analysis
from storage.writes import sync_watchlist

BATCH = 50  # stories per transaction: raw pages are read a batch at a time
EXTRACTION_TIMEOUT = 30.0  # seconds, as for a fresh page (flows/steps.py)


@dataclass
class ReextractReport:
    """What re-extraction found: story ids per kind of change, and the raw pages it could not use."""

    examined: int = 0
    text_changed: list[int] = field(default_factory=list)
    title_changed: list[int] = field(default_factory=list)
    date_changed: list[int] = field(default_factory=list)
    tags_changed: list[int] = field(default_factory=list)
    unreadable: list[tuple[int, str]] = field(default_factory=list)  # (story id, reason)
    regrouped: list[int] = field(default_factory=list)  # stories whose cluster changed afterwards
    dry_run: bool = False

    def headline(self) -> str:
        """One line saying what changed."""
        line = (
            f"{self.examined} stories examined: {len(self.text_changed)} text changed, "
            f"{len(self.title_changed)} title changed, {len(self.date_changed)} date changed, "
            f"{len(self.tags_changed)} tags changed, {len(self.unreadable)} unreadable raw page(s)"
        )
        if self.dry_run:
            return line + " (dry run: nothing written)"
        return line + f"; {len(self.regrouped)} stories regrouped"


@dataclass(frozen=True)
class _Tools:
    """What tagging needs, loaded once per run."""

    watchlist: Watchlist
    topics: Topics
    ner: Language | None
    dry_run: bool
    max_bytes: int  # the download cap (settings.max_bytes): pages were stored under it, so decompression stops there


def stories_to_reextract(
    engine: Engine, since: datetime | None = None, until: datetime | None = None, limit: int | None = None
) -> list[int]:
    """Ids of the stored stories to re-extract: all, or those counting in a time range; at most `limit`."""
    when = story_time()
    query = select(Article.id).order_by(Article.id)
    if since is not None:
        query = query.where(when >= _utc(since))
    if until is not None:
        query = query.where(when <= _utc(until))
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as connection:
        return list(connection.scalars(query))


def _utc(value: datetime) -> datetime:
    """A time from a form or the command line; without a zone it is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def raw_page(compressed: bytes | None, sha256: str | None, max_bytes: int) -> bytes:
    """The stored page, decompressed and checked against its hash; ExtractionError says why it is unusable."""
    if compressed is None:
        raise ExtractionError("no raw page stored")
    try:
        page = decompress_page(compressed, max_bytes)
    except StorageError as exc:
        raise ExtractionError(f"raw page cannot be decompressed: {exc}") from None
    if sha256 is None:
        raise ExtractionError("raw page has no stored sha256 to check it against")
    if hashlib.sha256(page).hexdigest() != sha256:
        raise ExtractionError("raw page does not match its stored sha256")
    return page


def reextract_stories(
    engine: Engine,
    article_ids: list[int],
    watchlist_file: str,
    topics_file: str,
    spacy_model: str = "",
    *,
    max_bytes: int,
    dry_run: bool = False,
) -> ReextractReport:
    """Re-extract each story from its raw page, a batch per transaction; report what changed (or would)."""
    watchlist = load_watchlist(watchlist_file)
    topics = load_topics(topics_file)
    ner = load_ner_model(spacy_model) if spacy_model else None
    tools = _Tools(watchlist, topics, ner, dry_run, max_bytes)
    if not dry_run:
        sync_watchlist(engine, watchlist)
        sync_vocabulary(engine, spellings(watchlist), topics)
    report = ReextractReport(examined=len(article_ids), dry_run=dry_run)
    for start in range(0, len(article_ids), BATCH):
        chunk = article_ids[start : start + BATCH]
        with transaction(engine) as connection:
            rows = connection.execute(select(Article).where(Article.id.in_(chunk)).order_by(Article.id)).all()
        # Extraction and tagging take most of the time: no transaction is held meanwhile (on SQLite it would
        # hold the database's write lock).
        redone = [(row, _redo(row, tools, report)) for row in rows]
        with transaction(engine) as connection:
            for row, result in redone:
                if result is not None:
                    _record(connection, row, result, tools, report)
    if not dry_run and report.text_changed:
        report.regrouped = assign_clusters(engine, report.text_changed).relabelled
    return report


@dataclass(frozen=True)
class _Redone:
    """A story extracted again: the article, its publication date and source, its analysis when re-tagged."""

    article: ExtractedArticle
    published: datetime | None
    date_source: str | None
    analysis: StoryAnalysis | None


def _redo(row: Any, tools: _Tools, report: ReextractReport) -> _Redone | None:
    """Extract one stored story again from its raw page (None, noted in the report, when the page is unusable)."""
    try:
        page = raw_page(row.raw_page, row.raw_sha256, tools.max_bytes)
        article = extract_article(page, row.url, content_type=row.raw_content_type, timeout=EXTRACTION_TIMEOUT)
    except ExtractionError as exc:
        report.unreadable.append((row.id, str(exc)))
        return None
    published, date_source = article.published, article.date_source
    if published is None and row.date_source == FEED_DATE:
        published, date_source = row.published_at, FEED_DATE  # the feed's date: nothing on the page replaces it
    retag = article.text != row.text or article.title != row.title
    analysis = analyze(article.title, article.text, tools.watchlist, tools.topics, tools.ner) if retag else None
    return _Redone(article, published, date_source, analysis)


def _record(connection: Connection, row: Any, redone: _Redone, tools: _Tools, report: ReextractReport) -> None:
    """Note what changed in one story and, unless a dry run, write it (columns, then tags when re-tagged)."""
    article = redone.article
    if article.text != row.text:
        report.text_changed.append(row.id)
    if article.title != row.title:
        report.title_changed.append(row.id)
    if redone.published != row.published_at:
        report.date_changed.append(row.id)
    if tools.dry_run:
        if redone.analysis is not None and _tags_differ(connection, row.id, redone.analysis):
            report.tags_changed.append(row.id)
        return
    truncated = article.truncated or bool(row.truncated)
    values = _new_values(article, redone.published, redone.date_source, truncated=truncated)
    connection.execute(update(Article).where(Article.id == row.id).values(**values))
    if redone.analysis is not None:
        change = write_analysis(connection, row.id, redone.analysis)
        if change.added or change.removed or change.recounted:
            report.tags_changed.append(row.id)


def _tags_differ(connection: Connection, article_id: int, analysis: StoryAnalysis) -> bool:
    """Whether writing this analysis would change the story's entities or their counts (as write_analysis says)."""
    stored = connection.execute(select(Mention.entity_id, Mention.count).where(Mention.article_id == article_id))
    return dict(stored.tuples().all()) != {tag.entity_id: tag.mentions for tag in analysis.tags}


def _new_values(
    article: ExtractedArticle, published: datetime | None, date_source: str | None, *, truncated: bool
) -> dict[str, Any]:
    """The article columns re-extraction rewrites (never the canonical URL, the story's identity)."""
    return {
        "text": article.text,
        "title": article.title,
        "author": article.author,
        "published_at": published,
        "date_source": date_source,
        "language": article.language,
        "sitename": article.sitename,
        "description": article.description,
        "word_count": article.word_count,
        "extractor": article.extractor,
        "extractor_version": article.extractor_version or None,
        "truncated": truncated,
        "simhash": to_signed(fingerprint(article.text)),
    }


@flow(name="reextract")
def reextract(
    since: Annotated[datetime | None, Field(title="Since", description="Stories counting from this time.")] = None,
    until: Annotated[datetime | None, Field(title="Until", description="Stories counting up to this time.")] = None,
    limit: Annotated[
        int | None, Field(title="Limit", description="At most this many stories.", ge=1, le=10_000_000)
    ] = None,
    dry_run: Annotated[bool, Field(title="Dry run", description="Report what would change; write nothing.")] = False,
    database_url: Annotated[
        SecretStr | None, Field(title="Database URL", description="Leave empty to use PRESSWATCH_DATABASE_URL.")
    ] = None,
) -> dict[str, Any]:
    """Re-extract stored stories from their raw pages (no download) and report what changed.

    Args:
        since: Only stories published (or, undated, fetched) at or after this time.
        until: Only stories published (or, undated, fetched) at or before this time.
        limit: At most this many stories, oldest ids first.
        dry_run: Do all the work and report it, but write nothing.
        database_url: presswatch's database; empty uses the worker's PRESSWATCH_DATABASE_URL.
    """
    settings = load_settings(database_url=database_url)
    engine = make_engine(settings.database_url.get_secret_value())
    try:
        upgrade(engine)
        ids = stories_to_reextract(engine, since, until, limit)
        report = reextract_stories(
            engine,
            ids,
            str(settings.watchlist_file),
            str(settings.topics_file),
            settings.spacy_model,
            max_bytes=settings.max_bytes,
            dry_run=dry_run,
        )
    finally:
        engine.dispose()
    lines = [f"## Re-extraction\n\n{report.headline()}\n"]
    lines += [f"- story {story_id}: unreadable raw page: {reason}" for story_id, reason in report.unreadable[:200]]
    create_markdown_artifact(markdown="\n".join(lines), key="reextract", description="What re-extraction changed")
    get_run_logger().info(report.headline())
    return asdict(report)
