"""Full-text search over stored stories: SQLite FTS5 or PostgreSQL tsvector, one function for both."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from presswatch.errors import SearchError, StorageError
from storage.db import bind_time, describe_db_error
from storage.models import UTCDateTime

SQLITE_SEARCH = """
SELECT a.id, a.title, a.sitename, a.published_at, a.canonical_url,
       snippet(articles_fts, 1, '[', ']', '…', 16) AS snippet
FROM articles_fts
JOIN articles AS a ON a.id = articles_fts.rowid
WHERE articles_fts MATCH :query
  AND (:since IS NULL OR COALESCE(a.published_at, a.fetched_at) >= :since)
  AND (:entity IS NULL OR EXISTS (
        SELECT 1 FROM mentions AS m JOIN entities AS e ON e.id = m.entity_id
        WHERE m.article_id = a.id AND (e.id = :entity OR e.parent_id = :entity)))
ORDER BY bm25(articles_fts), a.id DESC
LIMIT :limit
"""

# Matches and ranks on the stored vector (migration 0004): GIN-indexed, and ranking reads it instead of
# re-parsing every matching story's text.
POSTGRES_SEARCH = """
SELECT a.id, a.title, a.sitename, a.published_at, a.canonical_url,
       ts_headline('english', a.text, q.query,
                   'StartSel=[, StopSel=], MaxWords=30, MinWords=10, MaxFragments=1') AS snippet
FROM articles AS a, websearch_to_tsquery('english', :query) AS q(query)
WHERE a.search_vector @@ q.query
  AND (CAST(:since AS timestamptz) IS NULL OR COALESCE(a.published_at, a.fetched_at) >= :since)
  AND (CAST(:entity AS text) IS NULL OR EXISTS (
        SELECT 1 FROM mentions AS m JOIN entities AS e ON e.id = m.entity_id
        WHERE m.article_id = a.id AND (e.id = :entity OR e.parent_id = :entity)))
ORDER BY ts_rank(a.search_vector, q.query) DESC, a.id DESC
LIMIT :limit
"""


@dataclass(frozen=True)
class SearchHit:
    """A story matching a search, with a snippet around the match."""

    article_id: int
    title: str | None
    sitename: str | None
    published_at: datetime | None
    url: str
    snippet: str


SEARCH_TOKEN = re.compile(r'"([^"]*)"|(\S+)')


def fts5_query(query: str) -> str:
    """Translate web-search syntax (words, "phrases", OR, -exclusions) into a safe FTS5 expression.

    Every term is quoted, so punctuation in names (JD.com, 9988.HK) is never read as FTS5 syntax;
    PostgreSQL's websearch_to_tsquery reads the same syntax natively.
    """
    if query.count('"') % 2:
        raise SearchError(f"unbalanced quote in search query {query!r}")
    positives: list[str] = []
    negatives: list[str] = []
    pending_or = False
    for match in SEARCH_TOKEN.finditer(query):
        phrase, word = match.groups()
        if word == "OR":
            pending_or = bool(positives)
            continue
        negative = word is not None and word.startswith("-") and len(word) > 1
        term = phrase if phrase is not None else (word[1:] if negative else word)
        if not term.strip():
            continue
        quoted = '"' + term + '"'
        if negative:
            negatives.append(quoted)
        elif pending_or:
            positives[-1] = f"({positives[-1]} OR {quoted})"
        else:
            positives.append(quoted)
        pending_or = False
    if not positives:
        raise SearchError(f"search query {query!r} has no terms to look for")
    expression = " AND ".join(positives)
    for negative_term in negatives:
        expression = f"({expression}) NOT {negative_term}"
    return expression


def search_stories(
    engine: Engine, query: str, *, entity: str | None = None, since: datetime | None = None, limit: int = 20
) -> list[SearchHit]:
    """Stories matching a full-text query, best first; `entity` also matches its brands and people."""
    translated = fts5_query(query)  # also validates the syntax, the same way on both backends
    postgres = engine.dialect.name == "postgresql"
    sql = POSTGRES_SEARCH if postgres else SQLITE_SEARCH
    parameters = {
        "query": query if postgres else translated,
        "entity": entity,
        "since": bind_time(engine, since),
        "limit": limit,
    }
    try:
        with engine.connect() as connection:
            rows = connection.execute(text(sql), parameters).all()
    except OperationalError as exc:
        if "fts5" in str(exc.orig).lower():
            raise SearchError(f"cannot understand the search query {query!r}: {exc.orig}") from None
        raise StorageError(f"search failed on {describe_db_error(exc, engine.url)}") from None
    to_utc = UTCDateTime().process_result_value
    return [
        SearchHit(
            row.id, row.title, row.sitename, to_utc(row.published_at, engine.dialect), row.canonical_url, row.snippet
        )
        for row in rows
    ]
