"""The example SQL in the README runs, on SQLite and PostgreSQL, and answers what it says it answers."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from extractors.models import EntityTag, ExtractedArticle, WatchedEntity, Watchlist
from storage.db import make_engine, upgrade
from storage.writes import LinkFailure, Story, store_batch, sync_watchlist

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_queries() -> list[str]:
    blocks = re.findall(r"```sql\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    statements = [part.strip() for block in blocks for part in block.split(";")]
    return [s for s in statements if s and not all(line.startswith("--") for line in s.splitlines())]


def test_readme_has_example_queries() -> None:
    assert len(readme_queries()) >= 3


def test_every_readme_query_runs_and_returns_the_stored_coverage(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    sync_watchlist(
        engine,
        Watchlist((WatchedEntity("alibaba", "Alibaba", "company"), WatchedEntity("jd", "JD.com", "company"))),
    )
    article = ExtractedArticle(
        url="https://news.example/a",
        canonical_url="https://news.example/a",
        text="Alibaba and JD.com.",
        title="Alibaba rises",
        published=datetime(2025, 3, 14, 8, 30, tzinfo=UTC),
        sitename="News Example",
    )
    tags = [EntityTag("alibaba", "Alibaba", "company", 3, True), EntityTag("jd", "JD.com", "company", 1, False)]
    failure = LinkFailure("https://news.example/gone", None, "http_error", "HTTP 404 Not Found", 404)
    store_batch(engine, [Story(article.url, article, tags, None, datetime.now(UTC))], [failure])
    results = []
    with engine.connect() as connection:
        for query in readme_queries():
            results.append([tuple(row) for row in connection.execute(text(query))])
    per_company, alibaba_headlines, failures = results[:3]
    assert per_company == [("Alibaba", 1, 3), ("JD.com", 1, 1)]
    assert [row[:2] for row in alibaba_headlines] == [("Alibaba rises", "News Example")]
    assert failures == [("http_error", "HTTP 404 Not Found", "https://news.example/gone")]
    engine.dispose()
