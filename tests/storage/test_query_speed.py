"""Migration 0004's query fixes: indexes the queries really use, exact roll-ups, one ordering on both databases."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from extractors.models import EntityTag, ExtractedArticle, WatchedEntity, Watchlist
from storage.db import bind_time, make_engine, upgrade
from storage.reports import WINDOW_SHARES, top_stories
from storage.search import POSTGRES_SEARCH, search_stories
from storage.writes import Story, store_batch, sync_watchlist

IDS = ("alibaba", "jd", "tencent", "jack-ma", "jackie-chan")
WATCHLIST = Watchlist(
    (
        WatchedEntity("alibaba", "Alibaba", "company"),
        WatchedEntity("jd", "JD.com", "company"),
        WatchedEntity("tencent", "Tencent", "company"),
        WatchedEntity("jack-ma", "Jack Ma", "person", parent="alibaba"),
        WatchedEntity("jackie-chan", "Jackie Chan", "person"),
    )
)
START = datetime(2026, 9, 1, tzinfo=UTC)


def add(
    engine: Engine, n: int, published: datetime | None, entities: dict[str, tuple[int, bool]], *, fetched: datetime
) -> None:
    """Store one story through the pipeline's own write, as a monitoring pass would."""
    article = ExtractedArticle(
        url=f"https://news.example/{n}",
        canonical_url=f"https://news.example/{n}",
        text=f"Story {n}: " + ("cloud prices fall. " if n % 3 == 0 else "shoppers wait. ") * 3,
        title=f"Story {n}",
        published=published,
        sitename="News Example",
    )
    tags = [EntityTag(e, e, "company", count, in_title) for e, (count, in_title) in entities.items()]
    store_batch(engine, [Story(article.url, article, tags, None, fetched)], [])


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    sync_watchlist(engine, WATCHLIST)
    yield engine
    engine.dispose()


@pytest.fixture
def corpus(engine: Engine) -> Engine:
    """90 random stories over three months, some undated, some syndicated copies of an earlier story."""
    rng = random.Random(4)
    for n in range(1, 91):
        when = START + timedelta(minutes=rng.randrange(90 * 24 * 60))
        chosen = rng.sample(IDS, rng.randint(1, 3))
        undated = rng.random() < 0.15
        add(engine, n, None if undated else when, {e: (rng.randint(1, 4), rng.random() < 0.4) for e in chosen},
            fetched=when + timedelta(minutes=30) if not undated else when)  # fmt: skip
    with engine.begin() as connection:  # what syndication clustering records: a copy points at its original
        for copy, original in ((10, 3), (11, 3), (40, 39), (70, 12)):
            connection.execute(
                text("UPDATE articles SET cluster_id = :original, is_original = false WHERE id = :copy"),
                {"original": original, "copy": copy},
            )
    return engine


def plain(value: object) -> object:
    """A day as ISO text on both backends."""
    return value.isoformat() if isinstance(value, date) else value


def period_start(period: str, day: date) -> date:
    """The first day of the day, ISO week (from Monday) or month holding `day`."""
    if period == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1) if period == "month" else day


def test_share_of_voice_rolls_up_exactly_what_coverage_holds(corpus: Engine) -> None:
    # Recompute every period's figures from the story rows themselves and compare with the view.
    with corpus.connect() as connection:
        stories = connection.execute(
            text(
                "SELECT c.article_id, c.entity_id, COALESCE(a.published_at, a.fetched_at) AS at, a.is_original "
                "FROM coverage AS c JOIN articles AS a ON a.id = c.article_id"
            )
        ).all()
        view = connection.execute(
            text(
                "SELECT period, period_start, entity_id, stories, total_stories, share, "
                "original_stories, total_originals, original_share FROM share_of_voice"
            )
        ).all()
    per_entity: dict[tuple[str, date, str], set[int]] = defaultdict(set)
    originals: dict[tuple[str, date, str], set[int]] = defaultdict(set)
    totals: dict[tuple[str, date], set[int]] = defaultdict(set)
    total_originals: dict[tuple[str, date], set[int]] = defaultdict(set)
    for article_id, entity, at, is_original in stories:
        day = date.fromisoformat(str(at)[:10])  # UTC on both backends
        for period in ("day", "week", "month"):
            key = (period, period_start(period, day))
            per_entity[(*key, entity)].add(article_id)
            totals[key].add(article_id)
            if is_original:
                originals[(*key, entity)].add(article_id)
                total_originals[key].add(article_id)
    expected = {
        (period, start.isoformat(), entity): (
            len(ids),
            len(totals[(period, start)]),
            len(originals[(period, start, entity)]),
            len(total_originals[(period, start)]),
        )
        for (period, start, entity), ids in per_entity.items()
    }
    got = {(r.period, plain(r.period_start), r.entity_id): r for r in view}
    assert set(got) == set(expected)
    for found, (stories_n, total_n, originals_n, total_originals_n) in expected.items():
        row = got[found]
        assert (row.stories, row.total_stories, row.original_stories, row.total_originals) == (
            stories_n,
            total_n,
            originals_n,
            total_originals_n,
        ), found
        assert row.share == pytest.approx(stories_n / total_n)
        assert row.original_share == (pytest.approx(originals_n / total_originals_n) if total_originals_n else None)
    assert any(r.original_stories < r.stories for r in view)  # the copies are really left out


def test_undated_stories_rank_after_dated_ones_on_both_databases(engine: Engine) -> None:
    when = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    add(engine, 1, None, {"alibaba": (2, True)}, fetched=when + timedelta(hours=5))
    add(engine, 2, when, {"alibaba": (2, True)}, fetched=when)
    add(engine, 3, when - timedelta(hours=1), {"alibaba": (2, True)}, fetched=when)
    add(engine, 4, None, {"alibaba": (5, False), "jd": (1, False)}, fetched=when)
    top = top_stories(engine, when - timedelta(days=1), ["jd", "alibaba"], per_entity=4)
    assert [(t.entity_id, t.url.rsplit("/", 1)[1]) for t in top] == [
        ("jd", "4"),
        ("alibaba", "2"),  # headline, 2 mentions, newest dated story
        ("alibaba", "3"),
        ("alibaba", "1"),  # headline, 2 mentions, no date: after the dated ones
        ("alibaba", "4"),  # 5 mentions but not in the headline
    ]
    assert top[1].published_at == when and top[3].published_at is None
    assert [t.url for t in top_stories(engine, when - timedelta(days=1), ["alibaba"], per_entity=1)] == [
        "https://news.example/2"
    ]
    assert top_stories(engine, when - timedelta(days=1), []) == []


def plan(engine: Engine, sql: str, parameters: Mapping[str, object]) -> str:
    """The query plan as one string; on PostgreSQL with sequential scans discouraged, as on a big table."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SET enable_seqscan = off"))
            rows = connection.execute(text("EXPLAIN " + sql), parameters).all()
        else:
            rows = connection.execute(text("EXPLAIN QUERY PLAN " + sql), parameters).all()
    return "\n".join(" ".join(str(value) for value in row) for row in rows)


def test_the_report_window_and_day_ranges_use_the_expression_indexes(corpus: Engine) -> None:
    since = bind_time(corpus, START + timedelta(days=60))
    assert "ix_articles_story_time" in plan(corpus, WINDOW_SHARES, {"since": since, "kind": "company"})
    days = [date(2026, 10, 1), date(2026, 10, 15)]
    start, until = (d if corpus.dialect.name == "postgresql" else d.isoformat() for d in days)
    # The shape find_spikes reads, and entity_pairs over a few days.
    for view in ("coverage_daily", "entity_pairs"):
        query = f"SELECT * FROM {view} WHERE day >= :start AND day <= :until"
        assert "ix_articles_story_day" in plan(corpus, query, {"start": start, "until": until}), view


@pytest.mark.postgres
def test_postgresql_search_matches_on_the_indexed_stored_vector(corpus: Engine) -> None:
    if corpus.dialect.name != "postgresql":
        pytest.skip("the stored search vector is PostgreSQL's")
    parameters = {"query": "cloud prices", "since": None, "entity": None, "limit": 20}
    assert "ix_articles_search_vector" in plan(corpus, POSTGRES_SEARCH, parameters)
    # The same stories as matching on the text itself (the expression 0002 indexed), best first.
    with corpus.connect() as connection:
        matched = connection.execute(
            text(
                "SELECT a.id FROM articles AS a, websearch_to_tsquery('english', 'cloud prices') AS q(query) "
                "WHERE to_tsvector('english', COALESCE(a.title, '') || ' ' || a.text) @@ q.query "
                "ORDER BY ts_rank(to_tsvector('english', COALESCE(a.title, '') || ' ' || a.text), q.query) DESC, "
                "a.id DESC LIMIT 20"
            )
        ).scalars()
        expected = list(matched)
    assert len(expected) == 20
    assert [hit.article_id for hit in search_stories(corpus, "cloud prices")] == expected
    with corpus.begin() as connection:  # a generated column: an edited text is searchable at once
        connection.execute(text("UPDATE articles SET text = 'Meituan riders strike' WHERE id = 1"))
    assert [hit.article_id for hit in search_stories(corpus, "riders")] == [1]


@pytest.mark.postgres
def test_entity_pairs_order_by_code_point_whatever_the_database_collation(postgres_url: str) -> None:
    # A database whose collation ignores punctuation, as en_US does: there 'jackie-chan' < 'jack-ma'
    # ('jackiechan' < 'jackma'), by code point 'jack-ma' < 'jackie-chan' ('-' < 'i'), as SQLite compares.
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    name = f"presswatch_icu_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(
            text(
                f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu "
                "ICU_LOCALE 'en-u-ka-shifted' LOCALE 'C.UTF-8'"
            )
        )
    engine = make_engine(make_url(postgres_url).set(database=name).render_as_string(hide_password=False))
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 'jackie-chan' < 'jack-ma'")).scalar_one() is True
        upgrade(engine)
        sync_watchlist(engine, WATCHLIST)
        when = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
        add(engine, 1, when, {"jackie-chan": (1, True), "jack-ma": (1, False)}, fetched=when)
        with engine.connect() as connection:
            pairs = connection.execute(text("SELECT entity_a, entity_b, stories FROM entity_pairs")).all()
        assert [tuple(row) for row in pairs] == [("jack-ma", "jackie-chan", 1)]
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
