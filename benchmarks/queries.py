"""Time the documented view queries, the report and search on a year of synthetic coverage.

Usage: ``.venv/bin/python benchmarks/queries.py [--stories 100000] [--backends sqlite,postgresql] [--json]``

The corpus and the fill are `benchmarks/synthetic.py`'s; this script times the queries. The database gets
``--stories`` stories (default 100,000) spread over one year, three mentions per story on
average (so 300,000 by default) of 20 watched entities with a skewed popularity (Alibaba is named most), a
link and a fetch event per story, and 12 feeds. Rows go in with bulk Core inserts (executemany, big chunks),
through the real migrations, so SQLite's full-text triggers and PostgreSQL's GIN index are paid during the
fill and the fill is timed too. Each query then runs ``--repeat`` times; the median counts, against the
1-second target of issue 6. Every query's row count is checked against what the generator knows it wrote.

SQLite is a temporary file; PostgreSQL a database created for the run at 127.0.0.1:5432 (user postgres,
``--pg-admin-url`` or PRESSWATCH_BENCH_PG_URL to change) and dropped afterwards; when it cannot be reached the
run says why and goes on without it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script, `benchmarks` itself is not importable otherwise
    sys.path.insert(0, str(REPO_ROOT))

from sqlalchemy import Engine, event, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402

from benchmarks.synthetic import (  # noqa: E402
    ENTITIES,
    SEARCH_TERM,
    Corpus,
    fill,
    generate,
    postgres_database,
    sqlite_database,
)
from storage.db import bind_time, make_engine  # noqa: E402
from storage.reports import BASELINE_DAYS, TOP_STORIES, WINDOW_SHARES, build_report, is_spike  # noqa: E402
from storage.search import POSTGRES_SEARCH, SQLITE_SEARCH, fts5_query, search_stories  # noqa: E402

TARGET_SECONDS = 1.0
DEFAULT_PG_ADMIN_URL = os.environ.get(
    "PRESSWATCH_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
HEADLINE_LIMIT = 20
SEARCH_LIMIT = 20


@dataclass
class Timing:
    """One benchmark query on one backend: its runs, median, and checked row count."""

    name: str
    runs: list[float]
    rows: int
    expected_rows: int
    # CPU time of this process (all of SQLite's work) plus PostgreSQL's server process, when on this host
    cpu_runs: list[float] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        """The median run time."""
        return statistics.median(self.runs)

    @property
    def cpu_seconds(self) -> float:
        """The median CPU time of the query, here and in PostgreSQL's server process (load does not inflate it)."""
        return statistics.median(self.cpu_runs) if self.cpu_runs else 0.0


@dataclass
class BackendResult:
    """Everything measured on one backend, or why it was skipped."""

    backend: str
    skipped: str | None = None
    version: str = ""
    fill_seconds: dict[str, float] = field(default_factory=dict)
    size_bytes: int = 0
    timings: list[Timing] = field(default_factory=list)


# ---- the queries, and what the generator says each must return -------------------------------------------


@dataclass(frozen=True)
class Window:
    """The dates the queries are about, derived from the end of the corpus."""

    end: datetime
    entity: str = "alibaba"

    @property
    def last_day(self) -> date:
        """The last day holding coverage."""
        return (self.end - timedelta(days=1)).date()

    @property
    def month_start(self) -> date:
        """The first day of the last whole calendar month of the corpus."""
        first_of_end = self.last_day.replace(day=1)
        return (first_of_end - timedelta(days=1)).replace(day=1)

    @property
    def month_end(self) -> date:
        """The first day after that month."""
        return self.last_day.replace(day=1)


def _week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _bind_day(engine: Engine, day: date) -> object:
    return day if engine.dialect.name == "postgresql" else day.isoformat()


@dataclass(frozen=True)
class BenchQuery:
    """A named query: how to run it on an engine, and its expected row count from the corpus."""

    name: str
    run: Callable[[Engine], int]
    expected: Callable[[Corpus], int]


def _sql(query: str, parameters: Callable[[Engine], dict[str, Any]]) -> Callable[[Engine], int]:
    def run(engine: Engine) -> int:
        with engine.connect() as connection:
            return len(connection.execute(text(query), parameters(engine)).all())

    return run


COVERAGE_DAILY_30D = """
SELECT day, stories, mentions, headline_stories FROM coverage_daily
WHERE entity_id = :entity AND day >= :start AND day < :end ORDER BY day"""
SHARE_WEEKS_OF_MONTH = """
SELECT period_start, entity_id, stories, total_stories, share FROM share_of_voice
WHERE period = 'week' AND period_start >= :start AND period_start < :end
ORDER BY period_start, stories DESC, entity_id"""
SHARE_MONTHS = """
SELECT period_start, entity_id, stories, total_stories, share FROM share_of_voice
WHERE period = 'month' ORDER BY period_start, stories DESC, entity_id"""
PAIRS_7D = """
SELECT entity_a, entity_b, SUM(stories) AS stories FROM entity_pairs
WHERE day >= :start AND day < :end
GROUP BY entity_a, entity_b ORDER BY stories DESC, entity_a, entity_b"""
FULL_SCAN = """
SELECT entity_id, SUM(stories) AS stories, SUM(mentions) AS mentions, SUM(headline_stories) AS headlines
FROM coverage_daily GROUP BY entity_id ORDER BY stories DESC"""
HEADLINES = """
SELECT title, sitename, published_at FROM coverage
WHERE entity_id = :entity AND in_title ORDER BY published_at DESC LIMIT :limit"""


def queries(window: Window) -> list[BenchQuery]:
    """The benchmark's queries over `window`, each with its expected row count."""
    month_ago = window.last_day - timedelta(days=29)
    week_ago = window.last_day - timedelta(days=6)
    tomorrow = window.last_day + timedelta(days=1)
    entity = window.entity

    def days_of(corpus: Corpus, start: date, end: date) -> int:
        return len({s.day for s in corpus.stories if start <= s.day < end and any(t[0] == entity for t in s.tags)})

    def weekly(corpus: Corpus) -> int:
        keys = {(_week_start(s.day), t[0]) for s in corpus.stories for t in s.tags}
        return sum(1 for week, _ in keys if window.month_start <= week < window.month_end)

    def monthly(corpus: Corpus) -> int:
        return len({(_month_start(s.day), t[0]) for s in corpus.stories for t in s.tags})

    def pairs(corpus: Corpus) -> int:
        found: set[tuple[str, str]] = set()
        for s in corpus.stories:
            if week_ago <= s.day < tomorrow:
                ids = sorted(t[0] for t in s.tags)
                found.update((a, b) for i, a in enumerate(ids) for b in ids[i + 1 :])
        return len(found)

    def headlines(corpus: Corpus) -> int:
        return min(HEADLINE_LIMIT, sum(1 for s in corpus.stories for t in s.tags if t[0] == entity and t[2]))

    def report(days: int) -> BenchQuery:
        since = window.end - timedelta(days=days)

        def run(engine: Engine) -> int:
            result = build_report(engine, since, window.end)
            return len(result.shares) + len(result.top) + len(result.spikes)

        return BenchQuery(f"build_report {days} days", run, lambda corpus: expected_report(corpus, since, window.end))

    def search_all(engine: Engine) -> int:
        return len(search_stories(engine, SEARCH_TERM, limit=SEARCH_LIMIT))

    def search_entity(engine: Engine) -> int:
        return len(search_stories(engine, SEARCH_TERM, entity=entity, since=window.end - timedelta(days=30)))

    family = {entity} | {e[0] for e in ENTITIES if e[3] == entity}

    def searched_entity(corpus: Corpus) -> int:
        since = window.end - timedelta(days=30)
        matches = [s for s in corpus.stories if s.has_term and s.when >= since and family & {t[0] for t in s.tags}]
        return min(SEARCH_LIMIT, len(matches))

    return [
        BenchQuery(
            "coverage_daily: 1 entity, 30 days",
            _sql(
                COVERAGE_DAILY_30D,
                lambda e: {"entity": entity, "start": _bind_day(e, month_ago), "end": _bind_day(e, tomorrow)},
            ),
            lambda corpus: days_of(corpus, month_ago, tomorrow),
        ),
        BenchQuery(
            "share_of_voice: weeks of 1 month",
            _sql(
                SHARE_WEEKS_OF_MONTH,
                lambda e: {"start": _bind_day(e, window.month_start), "end": _bind_day(e, window.month_end)},
            ),
            weekly,
        ),
        BenchQuery("share_of_voice: months of the year", _sql(SHARE_MONTHS, lambda e: {}), monthly),
        BenchQuery(
            "entity_pairs: 7 days",
            _sql(PAIRS_7D, lambda e: {"start": _bind_day(e, week_ago), "end": _bind_day(e, tomorrow)}),
            pairs,
        ),
        BenchQuery(
            "coverage_daily: all-time totals",
            _sql(FULL_SCAN, lambda e: {}),
            lambda corpus: len({t[0] for s in corpus.stories for t in s.tags}),
        ),
        BenchQuery(
            "coverage: latest 20 headlines",
            _sql(HEADLINES, lambda e: {"entity": entity, "limit": HEADLINE_LIMIT}),
            headlines,
        ),
        report(7),
        report(30),
        BenchQuery(
            f"search {SEARCH_TERM!r}",
            search_all,
            lambda corpus: min(SEARCH_LIMIT, sum(1 for s in corpus.stories if s.has_term)),
        ),
        BenchQuery(f"search {SEARCH_TERM!r} --entity {entity} --since 30d", search_entity, searched_entity),
    ]


def expected_report(corpus: Corpus, since: datetime, until: datetime) -> int:
    """Rows build_report must return: company shares, up to 3 top stories each, and spikes (same rule)."""
    kinds = {entity[0]: entity[2] for entity in ENTITIES}
    per_entity: dict[str, int] = defaultdict(int)
    for story in corpus.stories:
        if story.when >= since:
            for entity, _count, _headline in story.tags:
                per_entity[entity] += 1
    shares = [entity for entity in per_entity if kinds[entity] == "company"]
    top = sum(min(3, per_entity[entity]) for entity in shares)
    daily: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for story in corpus.stories:
        for entity, _count, _headline in story.tags:
            daily[entity][story.day] += 1
    spikes = 0
    for per_day in daily.values():
        for day, stories in per_day.items():
            if since.date() <= day <= until.date():
                baseline = sum(per_day.get(day - timedelta(days=n), 0) for n in range(1, BASELINE_DAYS + 1))
                spikes += is_spike(stories, baseline / BASELINE_DAYS)
    return len(shares) + top + spikes


# ---- running -------------------------------------------------------------------------------------------------


class ServerClock:
    """CPU seconds of the PostgreSQL server processes behind this engine's connections (same host only).

    SQLite's work is all in this process; PostgreSQL's is in a server process per connection, read from
    /proc/<pid>/stat. Parallel workers a plan may start are other processes and are not counted.
    """

    def __init__(self, engine: Engine) -> None:
        self.pids: set[int] = set()
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        if engine.dialect.name == "postgresql":
            event.listen(engine, "checkout", self._checkout)

    def _checkout(self, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        pid = getattr(getattr(dbapi_connection, "info", None), "backend_pid", None)
        if isinstance(pid, int):
            self.pids.add(pid)

    def seconds(self) -> float:
        """CPU time used so far by the server processes seen (0 for any that is not on this host)."""
        total = 0
        for pid in self.pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
        return total / self.tick


def measure(engine: Engine, corpus: Corpus, repeat: int) -> list[Timing]:
    """Run every query `repeat` times and keep the times, CPU times and the (checked) row count."""
    server = ServerClock(engine)
    engine.dispose()  # a fresh pool: the filling connections' server processes are not the queries'
    with engine.connect():  # the one connection the queries reuse, so its server process is known from here
        pass
    timings: list[Timing] = []
    for query in queries(Window(corpus.end)):
        runs: list[float] = []
        cpu_runs: list[float] = []
        rows = 0
        for _ in range(repeat):
            clock, cpu, server_cpu = time.perf_counter(), time.process_time(), server.seconds()
            rows = query.run(engine)
            runs.append(time.perf_counter() - clock)
            cpu_runs.append(time.process_time() - cpu + server.seconds() - server_cpu)
        timings.append(Timing(query.name, runs, rows, query.expected(corpus), cpu_runs))
    return timings


def explain(engine: Engine, corpus: Corpus) -> None:
    """Print the query plan of every SQL benchmark query and of the report's and search's own queries."""
    window = Window(corpus.end)
    tomorrow = window.last_day + timedelta(days=1)
    month = window.end - timedelta(days=30)
    postgres = engine.dialect.name == "postgresql"
    plans: dict[str, tuple[str, dict[str, Any]]] = {
        "coverage_daily 30 days": (COVERAGE_DAILY_30D, {
            "entity": window.entity, "start": _bind_day(engine, window.last_day - timedelta(days=29)),
            "end": _bind_day(engine, tomorrow)}),
        "share_of_voice weeks": (SHARE_WEEKS_OF_MONTH, {
            "start": _bind_day(engine, window.month_start), "end": _bind_day(engine, window.month_end)}),
        "share_of_voice months": (SHARE_MONTHS, {}),
        "entity_pairs 7 days": (PAIRS_7D, {
            "start": _bind_day(engine, window.last_day - timedelta(days=6)), "end": _bind_day(engine, tomorrow)}),
        "coverage_daily totals": (FULL_SCAN, {}),
        "coverage headlines": (HEADLINES, {"entity": window.entity, "limit": HEADLINE_LIMIT}),
        "build_report 30 days: share of voice": (WINDOW_SHARES, {"since": bind_time(engine, month), "kind": "company"}),
        "build_report 30 days: top stories": (TOP_STORIES, {
            "since": bind_time(engine, month), "limit": 3}),
        f"search {SEARCH_TERM!r}": (POSTGRES_SEARCH if postgres else SQLITE_SEARCH, {
            "query": SEARCH_TERM if postgres else fts5_query(SEARCH_TERM), "entity": None, "since": None,
            "limit": SEARCH_LIMIT}),
    }  # fmt: skip
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
    with engine.connect() as connection:
        for name, (query, parameters) in plans.items():
            print(f"--- {engine.dialect.name}: {name}")
            for row in connection.execute(text(prefix + query), parameters):
                print("   ", " | ".join(str(value) for value in row))


def server_version(engine: Engine) -> str:
    """The database's version, for the record."""
    query = "SELECT sqlite_version()" if engine.dialect.name == "sqlite" else "SHOW server_version"
    with engine.connect() as connection:
        return str(connection.execute(text(query)).scalar_one()).split(" ")[0]


def run_backend(backend: str, corpus: Corpus, options: argparse.Namespace) -> BackendResult:
    """Fill one backend and time every query on it."""
    result = BackendResult(backend)
    if backend == "sqlite":
        with sqlite_database() as (url, path):
            engine = make_engine(url)
            result.fill_seconds = fill(engine, corpus, options.seed, fts_rebuild=options.sqlite_fts_rebuild)
            if options.sqlite_analyze:
                clock = time.perf_counter()
                with engine.connect() as connection:
                    connection.exec_driver_sql("ANALYZE")
                result.fill_seconds["analyze"] = time.perf_counter() - clock
            result.size_bytes = sum(p.stat().st_size for p in path.parent.iterdir())
            result.version = server_version(engine)
            result.timings = measure(engine, corpus, options.repeat)
            if options.explain:
                explain(engine, corpus)
            engine.dispose()
        return result
    try:
        with postgres_database(options.pg_admin_url) as url:
            engine = make_engine(url)
            result.fill_seconds = fill(engine, corpus, options.seed)
            with engine.connect() as connection:
                size = connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
                result.size_bytes = int(size)
            result.version = server_version(engine)
            result.timings = measure(engine, corpus, options.repeat)
            if options.explain:
                explain(engine, corpus)
            engine.dispose()
    except OperationalError as exc:
        first = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc.orig).__name__
        result.skipped = f"no PostgreSQL at {make_url(options.pg_admin_url).render_as_string()}: {first}"
    return result


def render(results: Sequence[BackendResult], corpus: Corpus, load_at_start: str) -> str:
    """The figures as a markdown table: median seconds per query per backend, and the 1 s verdict."""
    done = [r for r in results if r.skipped is None]
    lines = [f"{len(corpus.stories):,} stories, {corpus.mention_count:,} mentions, {len(ENTITIES)} entities, "
             f"365 days to {corpus.end.date().isoformat()}", machine(load_at_start), ""]  # fmt: skip
    for r in results:
        if r.skipped:
            lines.append(f"{r.backend}: skipped ({r.skipped})")
        else:
            phases = ", ".join(f"{k} {v:.1f} s" for k, v in r.fill_seconds.items())
            lines.append(f"{r.backend} {r.version}: fill {sum(r.fill_seconds.values()):.1f} s ({phases}); "
                         f"size {r.size_bytes / 1e6:.0f} MB")  # fmt: skip
    lines.append("")
    header = ["query"] + [f"{r.backend} (s)" for r in done] + [f"{r.backend} cpu (s)" for r in done]
    header += ["rows", f"under {TARGET_SECONDS:g} s"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for index, timing in enumerate(done[0].timings if done else []):
        per_backend = [r.timings[index] for r in done]
        verdict = ", ".join(
            f"{'yes' if t.seconds < TARGET_SECONDS else 'NO'}" + (f" ({r.backend})" if len(done) > 1 else "")
            for r, t in zip(done, per_backend, strict=True)
        )
        rows = "/".join(sorted({str(t.rows) for t in per_backend}))
        cpu = [f"{t.cpu_seconds:.3f}" for t in per_backend]
        cells = [timing.name] + [f"{t.seconds:.3f}" for t in per_backend] + cpu + [rows, verdict]
        lines.append("| " + " | ".join(cells) + " |")
    wrong = [(r.backend, t) for r in done for t in r.timings if t.rows != t.expected_rows]
    for backend, t in wrong:
        lines.append(f"WRONG ROW COUNT on {backend}: {t.name}: {t.rows} rows, expected {t.expected_rows}")
    return "\n".join(lines) + "\n"


def load_average() -> str:
    """The 1, 5 and 15-minute load averages."""
    return ", ".join(f"{value:.1f}" for value in os.getloadavg())


def machine(load_at_start: str) -> str:
    """The conditions of the run: cores, load, versions (a loaded machine inflates every wall-clock figure)."""
    import platform

    return (
        f"machine: {os.cpu_count()} cores, load average {load_at_start} at the start and {load_average()} at the "
        f"end; Python {platform.python_version()}"
    )


def as_json(results: Sequence[BackendResult], corpus: Corpus) -> str:
    """The figures as one JSON object (for the smoke test and for scripts)."""
    backends: dict[str, Any] = {}
    for r in results:
        entry = asdict(r)
        entry["timings"] = [dict(asdict(t), seconds=t.seconds, cpu_seconds=t.cpu_seconds) for t in r.timings]
        backends[r.backend] = entry
    return json.dumps(
        {
            "stories": len(corpus.stories),
            "mentions": corpus.mention_count,
            "entities": len(ENTITIES),
            "end": corpus.end.isoformat(),
            "target_seconds": TARGET_SECONDS,
            "backends": backends,
        }
    )


def main(argv: list[str] | None = None) -> int:
    """Parse options, build the corpus, measure each backend, print the table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stories", type=int, default=100_000, help="stories to generate (default 100,000)")
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--repeat", type=int, default=3, help="runs per query; the median counts (default 3)")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--end", type=date.fromisoformat, default=None, help="day after the corpus (default today)")
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN_URL)
    parser.add_argument("--sqlite-analyze", action="store_true", help="run ANALYZE on SQLite after the fill")
    parser.add_argument(
        "--sqlite-fts-rebuild", action="store_true", help="fill SQLite without the FTS insert trigger, then rebuild"
    )
    parser.add_argument("--explain", action="store_true", help="print each SQL query's plan after timing")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    options = parser.parse_args(argv)
    backends = [b.strip() for b in options.backends.split(",") if b.strip()]
    unknown = set(backends) - {"sqlite", "postgresql"}
    if unknown or options.stories < 1 or options.repeat < 1:
        parser.error(f"bad --backends {sorted(unknown)}" if unknown else "--stories and --repeat must be >= 1")
    load_at_start = load_average()
    end_day = options.end or datetime.now(UTC).date()
    corpus = generate(options.stories, datetime(end_day.year, end_day.month, end_day.day, tzinfo=UTC), options.seed)
    results = []
    for backend in backends:
        result = run_backend(backend, corpus, options)
        if result.skipped and not options.json:
            print(f"skipping {backend}: {result.skipped}", file=sys.stderr)
        results.append(result)
    print(
        as_json(results, corpus) if options.json else render(results, corpus, load_at_start),
        end="\n" if options.json else "",
    )
    wrong = any(t.rows != t.expected_rows for r in results for t in r.timings)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
