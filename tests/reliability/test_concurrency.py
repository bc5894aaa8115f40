"""Two passes at once over the same feeds, ten rounds, on SQLite and PostgreSQL: every story stored exactly once."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from storage.db import make_engine
from tests.reliability.conftest import (
    LoopbackSite,
    PassLauncher,
    Responder,
    SiteHandler,
    canonical_urls,
    integrity,
    rss,
    story_page,
    write_feeds_file,
)

ROUNDS = 10
FEEDS_PER_ROUND = 2
STORIES_PER_FEED = 6
# Several small batches per pass: in each process they run on threads, so up to eight transactions write
# the same stories at the same moment.
SETTINGS = {"batch_size": "3", "workers": "1"}

# Each process runs the ten rounds back to back (paying Prefect's and spaCy's start-up once), one
# `monitor-feeds` flow run per round, and prints one JSON line per round.
DRIVER = """
import json, sys
from pydantic import SecretStr
from flows.monitor import monitor_feeds
database_url, *feeds_files = sys.argv[1:]
for number, feeds in enumerate(feeds_files):
    try:
        s = monitor_feeds(feeds_file=feeds, database_url=SecretStr(database_url))
        line = {"round": number, "stored": len(s.stored_ids), "duplicates": s.duplicates,
                "known": s.links_already_stored, "feeds_failed": [p.reason for p in s.feeds_failed],
                "links_failed": [f"{p.outcome}: {p.reason}" for p in s.links_failed]}
    except Exception as exc:
        line = {"round": number, "error": f"{type(exc).__name__}: {exc}"}
    print("ROUND " + json.dumps(line), flush=True)
"""


def build_rounds(site: LoopbackSite, tmp_path: Path) -> tuple[list[Path], list[list[str]]]:
    """Ten rounds of fresh feeds; each round's first feed answers only once both passes asked for it."""
    files: list[Path] = []
    canonicals: list[list[str]] = []
    for number in range(ROUNDS):
        urls, stories = [], []
        for feed in range(FEEDS_PER_ROUND):
            items = []
            for story in range(STORIES_PER_FEED):
                path = f"/r{number}/f{feed}/{story}.html"
                canonical = f"https://news.example/r{number}/f{feed}/{story}"
                site.add(path, story_page(canonical), delay=0.02)
                items.append((f"Story {number}.{feed}.{story}", site.url(path), None))
                stories.append(canonical)
            body = rss(items)
            if feed == 0:
                urls.append(site.add_handler(f"/r{number}/feed-{feed}.xml", _together(body)))
            else:
                urls.append(site.add(f"/r{number}/feed-{feed}.xml", body, "application/rss+xml"))
        files.append(write_feeds_file(tmp_path / f"feeds-{number}.yaml", urls))
        canonicals.append(sorted(stories))
    return files, canonicals


def _together(body: bytes) -> Responder:
    """A responder that holds the first request until the second arrives: both passes then run in step."""
    barrier = threading.Barrier(2, timeout=60)

    def respond(handler: SiteHandler) -> None:
        barrier.wait()
        handler.send_plain(200, body, "application/rss+xml")

    return respond


def test_two_passes_at_once_ten_times_store_every_story_exactly_once(
    site: LoopbackSite, launcher: PassLauncher, database_url: str, tmp_path: Path
) -> None:
    files, canonicals = build_rounds(site, tmp_path)
    args = [database_url, *map(str, files)]
    first = launcher.start_python(DRIVER, *args, settings=SETTINGS)
    second = launcher.start_python(DRIVER, *args, settings=SETTINGS)
    results = [first.wait(timeout=240), second.wait(timeout=240)]
    rounds = [_rounds(result.stdout) for result in results]
    engine = make_engine(database_url)
    try:
        stored = canonical_urls(engine)
        found = integrity(engine)
        with engine.connect() as connection:
            events = connection.execute(text("SELECT outcome, reason FROM fetch_events")).all()
    finally:
        engine.dispose()

    backend = database_url.split(":")[0]
    print(f"\n{backend}: per round (stored by A, stored by B, duplicates A+B, already known A+B):")
    for a, b in zip(*rounds, strict=True):
        print(
            f"  round {a['round']}: {a.get('stored')}, {b.get('stored')}, "
            f"{a.get('duplicates', 0) + b.get('duplicates', 0)}, {a.get('known', 0) + b.get('known', 0)}"
        )
    print(
        f"  stories {found.stories}, duplicate canonicals {len(found.duplicate_canonicals)}, "
        f"stories without mentions {len(found.without_mentions)}"
    )

    for result in results:
        assert result.returncode == 0, result.stderr[-3000:]
        assert "database is locked" not in result.output
        assert "deadlock" not in result.output.lower()
    for per_process in rounds:
        assert [line["round"] for line in per_process] == list(range(ROUNDS))
        for line in per_process:
            assert "error" not in line, line
            assert line["feeds_failed"] == [] and line["links_failed"] == [], line
    for number in range(ROUNDS):
        a, b = rounds[0][number], rounds[1][number]
        assert a["stored"] + b["stored"] == len(canonicals[number]), (a, b)  # each story stored by exactly one
    assert stored == sorted(url for urls in canonicals for url in urls)
    assert found.duplicate_canonicals == []
    assert found.without_mentions == []
    assert found.without_stored_event == []
    assert found.stored_events_without_article == []
    assert found.stored_events_per_article_over_one == []
    assert found.without_links == []
    assert [reason for outcome, reason in events if outcome in ("store_error", "incomplete")] == []
    assert not any("locked" in (reason or "") for _, reason in events)


def _rounds(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line[len("ROUND ") :]) for line in stdout.splitlines() if line.startswith("ROUND ")]


MIGRATOR = """
import sys, time
from storage.db import make_engine, upgrade
url, start = sys.argv[1], float(sys.argv[2])
engine = make_engine(url)
while time.time() < start:
    time.sleep(0.001)
try:
    upgrade(engine)
    print("migrated")
except Exception as exc:
    print(f"failed: {type(exc).__name__}: {exc}")
"""


def test_first_runs_started_together_all_migrate_a_fresh_database(
    launcher: PassLauncher, database_url: str, tmp_path: Path
) -> None:
    outcomes = []
    for attempt in range(3):
        url = database_url
        if url.startswith("sqlite"):
            url = f"sqlite:///{tmp_path / f'fresh-{attempt}.db'}"
        else:
            _empty_schema(url)
        start = f"{time.time() + 2.0:.3f}"  # the processes import first, then start together
        runs = [launcher.start_python(MIGRATOR, url, start) for _ in range(3)]
        outcomes += [run.wait(timeout=60).stdout.strip() for run in runs]
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
        finally:
            engine.dispose()
    # Before the fixes in storage/db.py one in three such starts failed on SQLite ("database is locked"
    # while switching a new file to WAL) and one in two on PostgreSQL (both ran CREATE TABLE).
    assert outcomes == ["migrated"] * 9, outcomes


def _empty_schema(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()
