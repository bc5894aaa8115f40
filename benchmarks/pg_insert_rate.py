"""How fast PostgreSQL takes stories: presswatch's own `store_batch` against a bare batched insert.

Real pages (the article-extraction corpus, or the seed page when it is absent) are extracted and tagged once,
before any clock starts; the stories are then cycled under distinct URLs and written into a fresh PostgreSQL
database in batches, the way link batches write them in a pass:

- bare: SQLAlchemy Core, one transaction per batch, an executemany of the articles' rows (same columns,
  raw page compressed) and one of their mentions: the floor for this schema on this server.
- store_batch: `storage.writes.store_batch` (article, links, mentions, topics, quotes, fetch event; full-text
  index), one transaction per batch, from 1 writer and from W writer processes at once (shards writing
  together).

It prints stories/s, the ratio to the bare insert, and CPU seconds per 1,000 stories on each side (the
writers, and the PostgreSQL backends serving them, read from /proc), which is what docs/scaling.md
extrapolates from.

    .venv/bin/python benchmarks/pg_insert_rate.py                      # N=2000, batches of 25, 1 and 2 writers
    .venv/bin/python benchmarks/pg_insert_rate.py --n 4000 --writers 4 --json
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import Engine, create_engine, insert, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from storage.rawpages import compress_page  # noqa: E402
from storage.writes import Story  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpora" / "article-extraction-benchmark" / "html"
ADMIN_URL = os.environ.get("PRESSWATCH_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def build_stories(n: int, distinct: int) -> list[Story]:
    """N stories from `distinct` real pages, extracted and tagged once, under distinct canonical URLs."""
    from extractors.analysis import analyze
    from extractors.articles import extract_article
    from extractors.topics import load_topics
    from extractors.watchlist import load_watchlist
    from presswatch.settings import load_settings
    from storage.models import utcnow

    settings = load_settings()
    watchlist, topics = load_watchlist(settings.watchlist_file), load_topics(settings.topics_file)
    pages = sorted(CORPUS.glob("*.html.gz"))[:distinct] if CORPUS.is_dir() else []
    if not pages:
        print("corpus not found: using the seed page", file=sys.stderr)
        pages = [REPO / "seeds" / "fixture" / "jack-ma-comeback.html"]
    base = []
    for path in pages:
        body = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        article = extract_article(body, f"https://corpus.example/{path.stem}")
        base.append((body, article, analyze(article.title, article.text, watchlist, topics)))
    stories = []
    for i in range(n):
        body, article, analysis = base[i % len(base)]
        url = f"https://news{i % 97}.example/story/{i}"
        stories.append(
            Story(url, replace(article, canonical_url=url), analysis.tags, None, utcnow(), analysis, body, "text/html")
        )
    return stories


def fresh_database() -> str:
    """A new, migrated PostgreSQL database with the watchlist loaded; its URL."""
    from flows.monitor import prepare_database
    from presswatch.settings import load_settings

    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"pg_insert_rate_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    prepare_database(load_settings(database_url=url))
    return url


def drop_database(url: str) -> None:
    """Drop a database made by `fresh_database`."""
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def backend_cpu(engine: Engine) -> float:
    """CPU seconds used so far by the PostgreSQL backend serving this engine's (single) connection."""
    with engine.connect() as connection:
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bare_insert(engine: Engine, batch: list[Story]) -> None:
    """The floor: one executemany of articles and one of mentions per transaction."""
    from storage.models import Article, Mention

    rows = [
        {
            "url": s.link,
            "canonical_url": s.article.canonical_url,
            "title": s.article.title,
            "fetched_at": s.fetched_at,
            "text": s.article.text,
            "word_count": len(s.article.text.split()),
            "extractor": s.article.extractor,
            "raw_page": compress_page(s.raw_page or b""),
            "is_original": True,
        }
        for s in batch
    ]
    with engine.begin() as connection:
        ids = connection.execute(insert(Article).returning(Article.id, sort_by_parameter_order=True), rows).scalars()
        mentions = [
            {"article_id": article_id, "entity_id": t.entity_id, "count": t.mentions, "in_title": t.in_title}
            for article_id, story in zip(ids, batch, strict=True)
            for t in story.tags
        ]
        if mentions:
            connection.execute(insert(Mention), mentions)


def write_all(url: str, stories: list[Story], batch: int, how: str) -> dict[str, float]:
    """Write the stories in batches on one connection; wall and CPU seconds (this process, its backend)."""
    from storage.writes import store_batch

    engine = create_engine(url, pool_size=1, max_overflow=0)
    server_before, started = backend_cpu(engine), time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    for start in range(0, len(stories), batch):
        chunk = stories[start : start + batch]
        if how == "bare":
            bare_insert(engine, chunk)
        else:
            store_batch(engine, chunk, [])
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    server = backend_cpu(engine) - server_before
    engine.dispose()
    client = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    return {"wall": wall, "client_cpu": client, "server_cpu": server}


def _writer(args: tuple[str, list[Story], int, str]) -> dict[str, float]:
    return write_all(*args)


def run(how: str, stories: list[Story], batch: int, writers: int) -> dict[str, Any]:
    """One variant into a fresh database: stories/s and CPU per 1,000 stories."""
    url = fresh_database()
    try:
        wal_before = _scalar(url, "SELECT pg_current_wal_lsn()::text")
        started = time.perf_counter()
        if writers == 1:
            parts = [write_all(url, stories, batch, how)]
        else:
            slices = [(url, stories[i::writers], batch, how) for i in range(writers)]
            with multiprocessing.get_context("fork").Pool(writers) as pool:
                parts = pool.map(_writer, slices)
        wall = time.perf_counter() - started
        stored = _scalar(url, "SELECT count(*) FROM articles")
        wal = _scalar(url, f"SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '{wal_before}')")
        size = _scalar(url, "SELECT pg_database_size(current_database())")
        raw = _scalar(url, "SELECT avg(octet_length(raw_page)) FROM articles")
    finally:
        drop_database(url)
    assert stored == len(stories), f"{how}: {stored} rows for {len(stories)} stories"
    per_k = 1000 / len(stories)
    return {
        "variant": how,
        "writers": writers,
        "stories": len(stories),
        "seconds": round(wall, 2),
        "stories_per_s": round(len(stories) / wall, 1),
        "client_cpu_per_1000": round(sum(p["client_cpu"] for p in parts) * per_k, 2),
        "server_cpu_per_1000": round(sum(p["server_cpu"] for p in parts) * per_k, 2),
        "wal_kb_per_story": round(float(wal) / len(stories) / 1024, 1),  # other databases' writes included
        "db_mb": round(int(size) / 2**20, 1),
        "raw_page_kb": round(float(raw or 0) / 1024, 1),  # the compressed page kept per story
    }


def _scalar(url: str, sql: str) -> Any:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text(sql)).scalar_one()
    finally:
        engine.dispose()


def run_polls(n: int, chunk: int) -> dict[str, Any]:
    """Recording N feed polls (304s, with their next schedule) the way a pass does, `chunk` polls per call."""
    from datetime import timedelta

    from fetcher.schedule import FeedSchedule
    from storage.models import utcnow
    from storage.writes import FeedPoll, record_feed_polls, upsert_feeds

    url = fresh_database()
    try:
        engine = create_engine(url, pool_size=1, max_overflow=0)
        feeds = upsert_feeds(engine, [(f"https://news{i % 997}.example/feed{i}.xml", None) for i in range(n)])
        now = utcnow()
        schedule = FeedSchedule(interval=timedelta(minutes=15), next_due_at=now + timedelta(minutes=15))
        polls = [
            FeedPoll(f.id, f.url, "not_modified", "not modified (HTTP 304)", 304, now, schedule=schedule) for f in feeds
        ]
        wal_before = _scalar(url, "SELECT pg_current_wal_lsn()::text")
        server_before, started = backend_cpu(engine), time.perf_counter()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        for start in range(0, n, chunk):
            record_feed_polls(engine, polls[start : start + chunk])
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
        server = backend_cpu(engine) - server_before
        engine.dispose()
        wal = _scalar(url, f"SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '{wal_before}')")
        events = _scalar(url, "SELECT count(*) FROM fetch_events")
    finally:
        drop_database(url)
    assert events == n, f"{events} fetch events for {n} polls"
    client = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    return {
        "variant": "feed polls",
        "polls": n,
        "seconds": round(wall, 2),
        "polls_per_s": round(n / wall),
        "client_cpu_per_1000": round(client * 1000 / n, 3),
        "server_cpu_per_1000": round(server * 1000 / n, 3),
        "wal_bytes_per_poll": round(float(wal) / n),
    }


def main() -> None:
    """Parse options, build the stories, run every variant, print a table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="stories per variant")
    parser.add_argument("--batch", type=int, default=25, help="stories per transaction (PRESSWATCH_BATCH_SIZE)")
    parser.add_argument("--writers", type=int, default=2, help="writer processes for the concurrent variant")
    parser.add_argument("--distinct", type=int, default=60, help="distinct real pages cycled into N stories")
    parser.add_argument("--polls", type=int, default=20000, help="feed polls to record (0: skip)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    options = parser.parse_args()
    load = os.getloadavg()[0]
    stories = build_stories(options.n, options.distinct)
    variants = [("bare", 1), ("store_batch", 1), ("store_batch", options.writers)]
    results = [run(how, stories, options.batch, writers) for how, writers in variants]
    polls = run_polls(options.polls, 625) if options.polls else None  # 625: 10,000 feeds in 16 poll tasks
    floor = results[0]["stories_per_s"]
    for result in results:
        result["ratio_to_bare"] = round(result["stories_per_s"] / floor, 2)
    server = subprocess.run(["psql", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    meta = {"load_before": round(load, 2), "load_after": round(os.getloadavg()[0], 2), "batch": options.batch}
    if options.json:
        print(json.dumps({"meta": {**meta, "psql": server}, "results": results, "polls": polls}, indent=2))
        return
    print(
        f"PostgreSQL insert rate ({server}); batch {options.batch}; load {meta['load_before']} -> {meta['load_after']}"
    )
    print(
        f"{'variant':<12} {'writers':>7} {'stories':>7} {'s':>7} {'stories/s':>9} {'ratio':>6} {'client CPU s/1k':>15} "
        f"{'PG CPU s/1k':>11} {'WAL KB/story':>12} {'DB MB':>6} {'raw KB':>6}"
    )
    for r in results:
        print(
            f"{r['variant']:<12} {r['writers']:>7} {r['stories']:>7} {r['seconds']:>7} {r['stories_per_s']:>9} "
            f"{r['ratio_to_bare']:>6} {r['client_cpu_per_1000']:>15} {r['server_cpu_per_1000']:>11} "
            f"{r['wal_kb_per_story']:>12} {r['db_mb']:>6} {r['raw_page_kb']:>6}"
        )
    if polls:
        print(
            f"feed polls (304 + schedule, {polls['polls']} in calls of 625): {polls['polls_per_s']} polls/s; "
            f"CPU s per 1,000: client {polls['client_cpu_per_1000']}, PG {polls['server_cpu_per_1000']}; "
            f"WAL {polls['wal_bytes_per_poll']} B per poll"
        )


if __name__ == "__main__":
    main()
