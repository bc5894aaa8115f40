"""A year of synthetic coverage for the query benchmark: a deterministic corpus, and a database filled with it.

`generate` draws the stories (what each names, when, whether it says the search term) and keeps them, so the
benchmark can compute every query's expected answer; `fill` migrates a fresh database and bulk-inserts the
corpus through the real schema (full-text triggers, GIN index and generated search column included), timing
each phase. `sqlite_database` and `postgres_database` make the throwaway databases it fills.
"""

from __future__ import annotations

import random
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, create_engine, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from extractors.models import WatchedEntity, Watchlist
from storage.db import upgrade
from storage.models import Article, ArticleLink, Feed, FetchEvent, Mention
from storage.writes import sync_watchlist

CHUNK = 10_000  # rows per executemany: big enough that per-statement overhead vanishes
SEARCH_TERM = "cloud"
SEARCH_SHARE = 0.25  # a "common term": one story in four names it

# (id, name, kind, parent): 14 companies, 4 brands, 2 people, as in seeds/watchlist.yaml.
ENTITIES: tuple[tuple[str, str, str, str | None], ...] = (
    ("alibaba", "Alibaba", "company", None),
    ("jd", "JD.com", "company", None),
    ("tencent", "Tencent", "company", None),
    ("pdd", "PDD Holdings", "company", None),
    ("amazon", "Amazon", "company", None),
    ("huawei", "Huawei", "company", None),
    ("microsoft", "Microsoft", "company", None),
    ("baidu", "Baidu", "company", None),
    ("bytedance", "ByteDance", "company", None),
    ("meituan", "Meituan", "company", None),
    ("xiaomi", "Xiaomi", "company", None),
    ("netease", "NetEase", "company", None),
    ("ant-group", "Ant Group", "company", None),
    ("nio", "NIO", "company", None),
    ("taobao", "Taobao", "brand", "alibaba"),
    ("tmall", "Tmall", "brand", "alibaba"),
    ("temu", "Temu", "brand", "pdd"),
    ("wechat", "WeChat", "brand", "tencent"),
    ("jack-ma", "Jack Ma", "person", "alibaba"),
    ("pony-ma", "Pony Ma", "person", "tencent"),
)
OUTLETS = (
    "Pacific Wire", "Asia Markets", "Tech Ledger", "Harbour Times", "Commerce Daily", "Silicon Strait",
    "Retail Brief", "Market Watchtower", "East Wind News", "Cloud & Chips", "Ledger Asia", "Morning Trade",
)  # fmt: skip
# Words that neither are nor stem to the search term on either backend (porter, snowball english).
_WORDS = """
market shares investors quarter revenue growth profit margin sales platform merchants shoppers orders delivery
logistics warehouse payments regulators antitrust fine probe rivals competition price discount festival
campaign advertising users subscribers chips semiconductors smartphone devices servers data centre artificial
intelligence model chatbot training compute capacity expansion overseas europe america southeast asia factory
supply chain exports tariffs policy beijing shanghai shenzhen hangzhou analysts forecast earnings guidance
outlook dividend buyback listing bonds debt restructuring layoffs hiring executives chairman founder strategy
partnership deal acquisition stake venture startup funding round valuation billion million percent year month
week monday friday report statement interview conference launch product service software hardware network
security privacy lawsuit court ruling approval license consumer demand inflation economy stimulus retail
online offline store brand luxury fashion grocery food travel gaming video streaming music social media
messaging search engine maps vehicles electric battery charging robotaxi drones satellites telecom spectrum
towers energy solar storage hospital health insurance
"""
VOCABULARY = tuple(_WORDS.split())


@dataclass(frozen=True)
class SyntheticStory:
    """What the generator wrote for one story, kept to compute every query's expected answer."""

    id: int
    when: datetime  # COALESCE(published_at, fetched_at): the moment the story counts for
    published: datetime | None
    fetched: datetime
    tags: tuple[tuple[str, int, bool], ...]  # (entity id, mentions, in headline)
    has_term: bool

    @property
    def day(self) -> date:
        """The UTC day the story counts on."""
        return self.when.date()


@dataclass(frozen=True)
class Corpus:
    """The generated stories and the window the queries look at."""

    stories: list[SyntheticStory]
    end: datetime  # midnight UTC after the last day of coverage

    @property
    def mention_count(self) -> int:
        """How many mention rows the corpus holds."""
        return sum(len(story.tags) for story in self.stories)


def generate(stories: int, end: datetime, seed: int) -> Corpus:
    """A deterministic year of coverage: 1 to 5 entities per story (3 on average), skewed popularity."""
    rng = random.Random(seed)
    ids = [entity[0] for entity in ENTITIES]
    weights = [1.0 / rank for rank in range(1, len(ids) + 1)]  # Zipf: the first entity is named most
    start = end - timedelta(days=365)
    result: list[SyntheticStory] = []
    for n in range(1, stories + 1):
        when = start + timedelta(seconds=rng.randrange(365 * 86_400))
        published = None if rng.random() < 0.05 else when  # one story in twenty has no date of its own
        fetched = when + timedelta(minutes=rng.randrange(5, 360)) if published else when
        chosen: list[str] = []
        wanted = (n - 1) % 5 + 1  # 1, 2, 3, 4, 5: exactly three per story on average
        while len(chosen) < wanted:
            pick = rng.choices(ids, weights)[0]
            if pick not in chosen:
                chosen.append(pick)
        tags = tuple((entity, rng.randint(1, 6), rng.random() < 0.3) for entity in chosen)
        result.append(SyntheticStory(n, when, published, fetched, tags, rng.random() < SEARCH_SHARE))
    return Corpus(result, end)


def _article_rows(corpus: Corpus, seed: int) -> Iterator[list[dict[str, Any]]]:
    rng = random.Random(seed + 1)
    names = {entity[0]: entity[1] for entity in ENTITIES}
    chunk: list[dict[str, Any]] = []
    for story in corpus.stories:
        words = rng.choices(VOCABULARY, k=rng.randint(80, 160))
        for entity, count, _headline in story.tags:
            words += [names[entity]] * count
        if story.has_term:
            words.append(SEARCH_TERM)
        rng.shuffle(words)
        lead = names[story.tags[0][0]]
        title = f"{lead} {' '.join(rng.choices(VOCABULARY, k=6))}"
        outlet = (story.id - 1) % len(OUTLETS)
        url = f"https://outlet{outlet}.example/{story.day:%Y/%m/%d}/story-{story.id}"
        chunk.append(
            {
                "id": story.id,
                "url": url,
                "canonical_url": url,
                "title": title,
                "author": None,
                "published_at": story.published,
                "fetched_at": story.fetched,
                "language": "en",
                "sitename": OUTLETS[outlet],
                "description": None,
                "text": " ".join(words),
                "word_count": len(words),
                "extractor": "trafilatura",
                "feed_id": outlet + 1,
                "cluster_id": story.id,  # as store_batch writes it: every story its own cluster until clustering
                "is_original": True,
            }
        )
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


def _insert_chunks(engine: Engine, table: Table, chunks: Iterator[list[dict[str, Any]]]) -> None:
    statement = insert(table)
    for chunk in chunks:
        with engine.begin() as connection:
            connection.execute(statement, chunk)


def _chunks(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK * 5:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def fill(engine: Engine, corpus: Corpus, seed: int, *, fts_rebuild: bool = False) -> dict[str, float]:
    """Migrate, then bulk-insert the corpus; return the seconds each phase took.

    With `fts_rebuild` (SQLite only) the full-text insert trigger is dropped for the fill, put back
    unchanged, and the index rebuilt in one go: what a bulk import could do instead of paying per row.
    """
    phases: dict[str, float] = {}
    clock = time.perf_counter()
    upgrade(engine)
    sync_watchlist(engine, Watchlist(tuple(WatchedEntity(i, n, k, p) for i, n, k, p in ENTITIES)))
    now = corpus.end
    feeds = [{"id": i + 1, "url": f"https://outlet{i}.example/rss", "name": name, "created_at": now}
             for i, name in enumerate(OUTLETS)]  # fmt: skip
    with engine.begin() as connection:
        connection.execute(insert(_table(Feed)), feeds)
    phases["migrate"] = time.perf_counter() - clock

    trigger = None
    if fts_rebuild and engine.dialect.name == "sqlite":
        with engine.begin() as connection:
            trigger = connection.execute(
                text("SELECT sql FROM sqlite_master WHERE name = 'articles_fts_insert'")
            ).scalar()
            connection.execute(text("DROP TRIGGER articles_fts_insert"))
    clock = time.perf_counter()
    _insert_chunks(engine, _table(Article), _article_rows(corpus, seed))
    phases["articles"] = time.perf_counter() - clock
    if trigger:
        clock = time.perf_counter()
        with engine.begin() as connection:
            connection.execute(text(trigger))
            connection.execute(text("INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')"))
        phases["fts_rebuild"] = time.perf_counter() - clock

    clock = time.perf_counter()
    mentions = (
        {"article_id": s.id, "entity_id": e, "count": c, "in_title": h} for s in corpus.stories for e, c, h in s.tags
    )
    _insert_chunks(engine, _table(Mention), _chunks(mentions))
    phases["mentions"] = time.perf_counter() - clock

    clock = time.perf_counter()
    links = (
        {"url": f"https://outlet{(s.id - 1) % len(OUTLETS)}.example/{s.day:%Y/%m/%d}/story-{s.id}", "article_id": s.id}
        for s in corpus.stories
    )
    _insert_chunks(engine, _table(ArticleLink), _chunks(links))
    events = (
        {
            "at": s.fetched,
            "feed_id": (s.id - 1) % len(OUTLETS) + 1,
            "url": f"https://outlet{(s.id - 1) % len(OUTLETS)}.example/{s.day:%Y/%m/%d}/story-{s.id}",
            "outcome": "stored",
            "reason": None,
            "status_code": 200,
            "article_id": s.id,
        }
        for s in corpus.stories
    )
    _insert_chunks(engine, _table(FetchEvent), _chunks(events))
    phases["links_and_events"] = time.perf_counter() - clock

    clock = time.perf_counter()
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # Explicit ids leave the sequences behind; the next real write would collide without this.
            for table in ("articles", "feeds", "fetch_events"):
                connection.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
                )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        # PostgreSQL's autovacuum would analyse these tables within a minute of the fill; do it now.
        # SQLite is analysed only with --sqlite-analyze: presswatch itself never runs ANALYZE there.
        if engine.dialect.name == "postgresql":
            connection.execute(text("VACUUM ANALYZE"))
    phases["analyze"] = time.perf_counter() - clock
    return phases


@contextmanager
def sqlite_database() -> Iterator[tuple[str, Path]]:
    """A SQLite file in a temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="presswatch-bench-") as folder:
        path = Path(folder) / "bench.db"
        yield f"sqlite:///{path}", path


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A PostgreSQL database made for this run and dropped afterwards; OperationalError when unreachable."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"presswatch_bench_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        try:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        except OperationalError:
            pass
        admin.dispose()
