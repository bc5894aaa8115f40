"""The coverage views, search and reports answer the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, text

from extractors.models import EntityTag, ExtractedArticle, WatchedEntity, Watchlist
from presswatch.errors import SearchError
from storage.db import make_engine, upgrade
from storage.reports import find_spikes, is_spike, run_read_only, share_of_voice, top_stories
from storage.search import search_stories
from storage.writes import Story, store_batch, sync_watchlist

WATCHLIST = Watchlist(
    (
        WatchedEntity("alibaba", "Alibaba", "company"),
        WatchedEntity("jd", "JD.com", "company"),
        WatchedEntity("tencent", "Tencent", "company"),
        WatchedEntity("taobao", "Taobao", "brand", parent="alibaba"),
    )
)
DAY = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday


def add(engine: Engine, n: int, when: datetime, tags: dict[str, tuple[int, bool]], body: str = "") -> None:
    article = ExtractedArticle(
        url=f"https://news.example/{n}",
        canonical_url=f"https://news.example/{n}",
        text=body or f"Story number {n} about e-commerce.",
        title=f"Story {n}",
        published=when,
        sitename="News Example",
    )
    entity_tags = [EntityTag(e, e, "company", count, in_title) for e, (count, in_title) in tags.items()]
    store_batch(engine, [Story(article.url, article, entity_tags, None, when)], [])


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    sync_watchlist(engine, WATCHLIST)
    add(
        engine, 1, DAY, {"alibaba": (3, True), "jd": (1, False)}, "Alibaba cuts cloud prices in a price war with JD.com"
    )
    add(engine, 2, DAY + timedelta(hours=3), {"alibaba": (1, False)}, "Taobao sellers brace for Singles Day")
    add(engine, 3, DAY + timedelta(days=1), {"jd": (2, True), "tencent": (1, False)}, "JD.com and Tencent logistics")
    add(engine, 4, DAY + timedelta(days=9), {"tencent": (4, True)}, "Tencent earnings beat forecasts")
    yield engine
    engine.dispose()


def rows(engine: Engine, sql: str) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        return [tuple(str(v) if isinstance(v, date) else v for v in row) for row in connection.execute(text(sql))]


def test_coverage_daily_counts_stories_mentions_and_headlines(engine: Engine) -> None:
    result = rows(
        engine, "SELECT day, entity_id, stories, mentions, headline_stories FROM coverage_daily ORDER BY day, entity_id"
    )
    assert result == [
        ("2026-11-02", "alibaba", 2, 4, 1),
        ("2026-11-02", "jd", 1, 1, 0),
        ("2026-11-03", "jd", 1, 2, 1),
        ("2026-11-03", "tencent", 1, 1, 0),
        ("2026-11-11", "tencent", 1, 4, 1),
    ]


def test_share_of_voice_by_week_and_month(engine: Engine) -> None:
    weekly = rows(
        engine,
        "SELECT period_start, entity_id, stories, total_stories, share FROM share_of_voice "
        "WHERE period = 'week' ORDER BY period_start, entity_id",
    )
    assert [r[:4] for r in weekly] == [
        ("2026-11-02", "alibaba", 2, 3),
        ("2026-11-02", "jd", 2, 3),
        ("2026-11-02", "tencent", 1, 3),
        ("2026-11-09", "tencent", 1, 1),
    ]
    assert weekly[0][4] == pytest.approx(2 / 3)
    monthly = rows(
        engine,
        "SELECT period_start, entity_id, stories, total_stories FROM share_of_voice "
        "WHERE period = 'month' AND entity_id = 'tencent'",
    )
    assert monthly == [("2026-11-01", "tencent", 2, 4)]


def test_entity_pairs_count_stories_mentioning_both(engine: Engine) -> None:
    assert rows(engine, "SELECT day, entity_a, entity_b, stories FROM entity_pairs ORDER BY day") == [
        ("2026-11-02", "alibaba", "jd", 1),
        ("2026-11-03", "jd", "tencent", 1),
    ]


def test_search_finds_stories_with_a_snippet_and_filters(engine: Engine) -> None:
    hits = search_stories(engine, "cloud price war")
    assert [hit.url for hit in hits] == ["https://news.example/1"]
    assert "[" in hits[0].snippet and "]" in hits[0].snippet
    assert [h.url for h in search_stories(engine, "JD.com", entity="tencent")] == ["https://news.example/3"]
    later = search_stories(engine, "Tencent", since=DAY + timedelta(days=5))
    assert [h.url for h in later] == ["https://news.example/4"]
    assert search_stories(engine, "nothing-like-this-anywhere") == []


def test_search_keeps_in_step_with_updates_and_deletes(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("UPDATE articles SET text = 'Meituan delivery riders' WHERE id = 2"))
        connection.execute(text("DELETE FROM articles WHERE id = 4"))
    assert [h.url for h in search_stories(engine, "riders")] == ["https://news.example/2"]
    assert search_stories(engine, "Singles") == []
    assert search_stories(engine, "earnings") == []


def test_search_terms_are_bound_parameters_not_sql(engine: Engine) -> None:
    assert search_stories(engine, "x' OR '1'='1") == []
    assert rows(engine, "SELECT count(*) FROM articles") == [(4,)]


def test_malformed_query_is_a_clear_error(engine: Engine) -> None:
    with pytest.raises(SearchError, match="unbalanced quote"):
        search_stories(engine, 'cloud AND "unbalanced')
    with pytest.raises(SearchError, match="no terms"):
        search_stories(engine, "  -cloud ")


def test_search_syntax_phrases_or_and_exclusions(engine: Engine) -> None:
    assert [h.url for h in search_stories(engine, '"price war"')] == ["https://news.example/1"]
    assert {h.url for h in search_stories(engine, "earnings OR logistics")} == {
        "https://news.example/3",
        "https://news.example/4",
    }
    assert [h.url for h in search_stories(engine, "Tencent -earnings")] == ["https://news.example/3"]


def test_share_of_voice_report_and_top_stories(engine: Engine) -> None:
    shares = share_of_voice(engine, DAY - timedelta(days=1))
    assert [(s.entity_id, s.stories) for s in shares] == [("jd", 2), ("tencent", 2), ("alibaba", 2)] or [
        (s.entity_id, s.stories) for s in shares
    ] == [("alibaba", 2), ("jd", 2), ("tencent", 2)]
    assert {s.share for s in shares} == {0.5}
    top = top_stories(engine, DAY - timedelta(days=1), ["alibaba"], per_entity=1)
    assert [(t.url, t.mentions, t.in_title) for t in top] == [("https://news.example/1", 3, True)]


def test_spike_rule_and_detection(engine: Engine) -> None:
    assert not is_spike(2, 0.0) and is_spike(3, 0.0) and not is_spike(5, 2.0) and is_spike(6, 2.0)
    burst = DAY + timedelta(days=12)
    for n in range(10, 15):
        add(engine, n, burst, {"alibaba": (1, False)})
    spikes = find_spikes(engine, (DAY + timedelta(days=1)).date(), burst.date())
    assert [(s.entity_id, str(s.day), s.stories) for s in spikes] == [("alibaba", "2026-11-14", 5)]
    assert spikes[0].baseline == pytest.approx(2 / 14, abs=0.01)


def test_read_only_sql_reads_and_refuses_writes(engine: Engine) -> None:
    columns, result = run_read_only(engine, "SELECT entity_id, stories FROM coverage_daily ORDER BY day LIMIT 1")
    assert columns == ["entity_id", "stories"] and result == [("alibaba", 2)]
    for statement in (
        "DELETE FROM articles",
        "INSERT INTO feeds (url, created_at) VALUES ('x', '2026-01-01')",
        "DROP TABLE mentions",
    ):
        with pytest.raises(SearchError, match="read-only"):
            run_read_only(engine, statement)
    assert rows(engine, "SELECT count(*) FROM articles") == [(4,)]
