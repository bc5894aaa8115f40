"""Throughput of a monitoring pass against the bare libraries it is made of, over real pages served on loopback.

Usage: ``.venv/bin/python benchmarks/throughput.py [--n 500] [--pages corpus|generated] [--skip-flow] [--json]``
(``--help`` lists the rest: ``--repeat``, ``--workers``, ``--start-method``, ``--workdir`` ...). docs/performance.md
has the figures and how to read them.

Variants, each into a fresh SQLite file, over the same N pages listed in the same feeds:

- bare loop, 1 and 2 processes: feedparser -> httpx -> trafilatura ``bare_extraction(with_metadata=True)``
  -> spaCy (the watchlist's entity ruler) -> SQLAlchemy Core inserts, no presswatch code and no Prefect;
- presswatch steps, no Prefect: ``flows.steps`` (the pass's own functions) in 2 forked processes;
- the Prefect pass: ``flows.monitor.monitor_feeds`` in ephemeral mode, timed apart from the server's first start.

Each variant gets its wall time, CPU seconds and peak memory of the process tree (``benchmarks.probes``), and
wall and CPU seconds per stage (feeds, fetch, extract, tag, store, other). Stage times of presswatch code come
from timers wrapped around ``flows.steps`` functions at run time (the flow's code is not changed); in the pass's
link workers they are installed when the worker imports this script as ``__mp_main__``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from itertools import repeat
from multiprocessing import get_context
from multiprocessing.context import BaseContext, ForkServerContext
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script, `benchmarks` itself is not importable otherwise
    sys.path.insert(0, str(REPO_ROOT))

import feedparser  # noqa: E402
import httpx  # noqa: E402
import spacy  # noqa: E402
import sqlalchemy as sa  # noqa: E402
import trafilatura  # noqa: E402
from spacy.language import Language  # noqa: E402

from benchmarks.loopback import CORPUS_DIR, LoopbackSite, Site, corpus_pages, generated_pages  # noqa: E402
from benchmarks.probes import (  # noqa: E402
    PREFECT_SERVER,
    STAGE_DIR_ENV,
    StageClock,
    TreeProbe,
    install_stage_timers,
    machine,
    prefect_timeline,
    read_stage_totals,
    timers_installed,
)
from extractors.watchlist import load_watchlist  # noqa: E402
from presswatch.settings import load_settings  # noqa: E402

BARE_USER_AGENT = "presswatch-benchmark/0.1"
STAGES = ("feeds", "fetch", "extract", "tag", "store", "other")
SHIPPED_PASS = "Prefect pass (server already up)"
COLD_PASS = "Prefect pass (incl. first server start)"
STEPS = "presswatch steps, no Prefect"
ISSUE_2_TARGET = 0.5  # pass / bare loop in 1 process
ISSUE_9_TARGET = 0.9  # pass / bare loop in 2 processes


@dataclass
class VariantResult:
    """One measured variant: stories stored, wall time, peak memory and seconds per stage (summed over processes)."""

    name: str
    processes: int
    stories: int
    seconds: float
    peak_rss_mb: float = 0.0
    peak_pss_mb: float = 0.0
    cpu_seconds: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)
    stages_cpu: dict[str, float] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Stories stored per second of wall time."""
        return self.stories / self.seconds if self.seconds > 0 else 0.0


def _steps_batch(jobs: Any, config: Any, stage_dir: str) -> Any:
    """One batch through presswatch's own `process_links`, timed (runs in a worker process)."""
    from flows import steps

    if not timers_installed(stage_dir):
        install_stage_timers(stage_dir)
    return steps.process_links(jobs, config)


# --- the bare loop: the libraries called directly ----------------------------------------------------

BARE_METADATA = sa.MetaData()
BARE_ARTICLES = sa.Table(
    "articles",
    BARE_METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("url", sa.String, nullable=False, unique=True),
    sa.Column("title", sa.String),
    sa.Column("author", sa.String),
    sa.Column("published", sa.String),
    sa.Column("sitename", sa.String),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
)
BARE_MENTIONS = sa.Table(
    "mentions",
    BARE_METADATA,
    sa.Column("article_id", sa.ForeignKey("articles.id"), primary_key=True),
    sa.Column("entity_id", sa.String, primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("in_title", sa.Boolean, nullable=False),
)


def bare_engine(database_url: str) -> sa.Engine:
    """A SQLite engine in WAL mode with a busy time-out, so that two processes can write the same file."""
    engine = sa.create_engine(database_url)

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "busy_timeout = 30000"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    return engine


def bare_tagger(watchlist_file: str) -> Language:
    """spaCy's blank English pipeline with an entity_ruler matching every watchlist alias as written."""
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": None, "validate": False})
    patterns = [
        {"label": "WATCHED", "pattern": alias, "id": entity.id}
        for entity in load_watchlist(watchlist_file).entities
        for alias in entity.aliases
    ]
    ruler.add_patterns(patterns)  # type: ignore[attr-defined]
    return nlp


def _bare_tags(nlp: Language, title: str | None, body: str) -> dict[str, tuple[int, bool]]:
    counts: Counter[str] = Counter()
    in_title: set[str] = set()
    for doc, is_title in zip(nlp.pipe([title or "", body]), (True, False), strict=True):
        for entity in doc.ents:
            counts[entity.ent_id_] += 1
            if is_title:
                in_title.add(entity.ent_id_)
    return {entity_id: (count, entity_id in in_title) for entity_id, count in counts.items()}


def _bare_store(engine: sa.Engine, rows: Sequence[tuple[str, Any, dict[str, tuple[int, bool]]]]) -> int:
    now = datetime.now(UTC)
    with engine.begin() as connection:
        for link, document, tags in rows:
            values = {"url": link, "title": document.title, "author": document.author, "published": document.date}
            values.update(sitename=document.sitename, text=document.text, fetched_at=now)
            statement = sa.insert(BARE_ARTICLES).values(**values).returning(BARE_ARTICLES.c.id)
            article_id = connection.execute(statement).scalar_one()
            if tags:
                mentions = [
                    {"article_id": article_id, "entity_id": key, "count": count, "in_title": in_title}
                    for key, (count, in_title) in tags.items()
                ]
                connection.execute(sa.insert(BARE_MENTIONS), mentions)
    return len(rows)


def bare_worker(
    links: Sequence[str], database_url: str, watchlist_file: str, batch_size: int
) -> tuple[int, dict[str, float], dict[str, float]]:
    """Fetch, extract, tag and store `links` with the libraries alone: stories stored, wall and CPU s per stage."""
    clock = StageClock()
    nlp = bare_tagger(watchlist_file)
    engine = bare_engine(database_url)
    clock.lap("other")
    stored = 0
    with httpx.Client(headers={"User-Agent": BARE_USER_AGENT}, timeout=30.0) as client:
        for start in range(0, len(links), batch_size):
            rows = []
            for link in links[start : start + batch_size]:
                response = client.get(link)
                response.raise_for_status()
                body = response.content
                clock.lap("fetch")
                document: Any = trafilatura.bare_extraction(body, url=link, with_metadata=True)
                clock.lap("extract")
                if document is None or not document.text:
                    continue
                rows.append((link, document, _bare_tags(nlp, document.title, document.text)))
                clock.lap("tag")
            stored += _bare_store(engine, rows)
            clock.lap("store")
    engine.dispose()
    clock.lap("other")
    return stored, dict(clock.wall), dict(clock.cpu)


def _context(start_method: str) -> BaseContext:
    """A multiprocessing context; a fork server is preloaded with the pipeline's libraries, not with Prefect."""
    context = get_context(start_method)
    if isinstance(context, ForkServerContext):
        context.set_forkserver_preload(["flows.steps", "benchmarks.throughput"])
    return context


def _count_rows(database_url: str, table: str) -> int:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(sa.select(sa.func.count()).select_from(sa.text(table))).scalar_one())
    finally:
        engine.dispose()


def run_bare(
    site: Site, processes: int, database_url: str, batch_size: int, start_method: str = "fork"
) -> VariantResult:
    """The bare loop: feeds read here, then the links split into `processes` contiguous parts, one per process."""
    started = time.perf_counter()
    clock = StageClock()
    engine = bare_engine(database_url)
    BARE_METADATA.create_all(engine)
    engine.dispose()
    links: list[str] = []
    with httpx.Client(headers={"User-Agent": BARE_USER_AGENT}, timeout=30.0) as client:
        for feed_url in site.feed_urls:
            parsed = feedparser.parse(client.get(feed_url).content)
            links.extend(str(entry.link) for entry in parsed.entries)
    clock.lap("feeds")
    size = -(-len(links) // processes)
    parts = [links[start : start + size] for start in range(0, len(links), size)]
    with ProcessPoolExecutor(len(parts), mp_context=_context(start_method)) as pool:
        reports = list(
            pool.map(
                bare_worker,
                parts,
                repeat(database_url),
                repeat(str(load_settings().watchlist_file)),
                repeat(batch_size),
            )
        )
    seconds = time.perf_counter() - started
    for _, wall, cpu in reports:
        for name in STAGES[1:]:
            clock.wall[name] += wall.get(name, 0.0)
            clock.cpu[name] += cpu.get(name, 0.0)
    result = VariantResult(
        f"bare loop, {processes} process{'es' if processes > 1 else ''}",
        processes,
        _count_rows(database_url, "articles"),
        seconds,
        stages={name: round(clock.wall[name], 3) for name in STAGES},
        stages_cpu={name: round(clock.cpu[name], 3) for name in STAGES},
    )
    result.notes.update(mentions=_count_rows(database_url, "mentions"), start_method=start_method)
    return result


# --- presswatch's own steps, without Prefect ----------------------------------------------------------


def run_steps(
    feeds_file: Path, database_url: str, stage_dir: str, workers: int, start_method: str = "fork"
) -> VariantResult:
    """The pass's work through `flows.steps` and `storage` as the flow orders it, in processes, without Prefect."""
    from pydantic import SecretStr

    from fetcher import host_key
    from flows import steps
    from flows.monitor import prepare_database  # imports Prefect: call `prefect_environment` first
    from presswatch.feedlist import load_feed_list
    from storage.db import make_engine
    from storage.writes import known_links, record_feed_polls, upsert_feeds

    started = time.perf_counter()
    settings = load_settings(feeds_file=str(feeds_file), database_url=SecretStr(database_url), workers=workers)
    prepare_database(settings)  # the flow's own: migrations, watchlist and vocabulary
    engine = make_engine(database_url)
    sources = load_feed_list(settings.feeds_file)
    config = replace(steps.pass_config(settings), trusted_hosts=frozenset(host_key(s.url) for s in sources))
    feeds = upsert_feeds(engine, [(source.url, source.name) for source in sources])
    clock = StageClock()
    results = steps.poll_feeds([steps.FeedJob(f.id, f.url, f.etag, f.last_modified) for f in feeds], config)
    clock.lap("feeds")
    links = [entry.link for result in results for entry in result.entries]
    jobs = steps.new_link_jobs(results, {f.id: f.url for f in feeds}, known_links(engine, links))
    batches = steps.chunks(jobs, settings.batch_size)
    with ProcessPoolExecutor(max(1, min(workers, len(batches))), mp_context=_context(start_method)) as pool:
        reports = list(pool.map(_steps_batch, batches, repeat(config), repeat(stage_dir)))
    record_feed_polls(engine, [result.poll for result in results])
    engine.dispose()
    seconds = time.perf_counter() - started
    stages, stages_cpu, _ = read_stage_totals(stage_dir)
    stages["feeds"], stages_cpu["feeds"] = round(clock.wall["feeds"], 3), round(clock.cpu["feeds"], 3)
    result = VariantResult(
        STEPS, workers, _count_rows(database_url, "articles"), seconds, stages=stages, stages_cpu=stages_cpu
    )
    result.notes.update(
        batches=len(batches),
        failures=sum(len(report.failures) for report in reports),
        mentions=_count_rows(database_url, "mentions"),
        start_method=start_method,
    )
    return result


# --- the Prefect pass ---------------------------------------------------------------------------------


def prefect_environment(prefect_home: Path) -> None:
    """A private Prefect home and no telemetry; must run before anything imports Prefect to take effect."""
    prefect_home.mkdir(parents=True, exist_ok=True)
    os.environ.update(PREFECT_HOME=str(prefect_home), PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1")


def start_prefect() -> dict[str, Any]:
    """Time importing Prefect and the flow (in a fresh interpreter), then start the ephemeral server here."""
    code = "import time; t = time.perf_counter(); import flows.monitor; print(time.perf_counter() - t)"
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    from prefect import flow

    @flow(name="benchmark-warm-up")
    def warm_up() -> int:
        return 1

    started = time.perf_counter()
    warm_up()
    return {
        "import_seconds": round(float(imported.stdout.strip().splitlines()[-1]), 3),
        "ephemeral_start_seconds": round(time.perf_counter() - started, 3),
    }


def ready_fork_server(stage_dir: str) -> None:
    """Start a fresh fork server for the link workers of the next pass and wait until its imports are done.

    Every pass gets a fork server of its own, as every `presswatch run` process does (CPython's tests stop it
    so too); its workers import this script as `__mp_main__`, which reads STAGE_DIR_ENV to install the timers.
    """
    from multiprocessing import forkserver

    from flows.runner import prime_fork_server

    forkserver._forkserver._stop()  # type: ignore[attr-defined]
    os.environ[STAGE_DIR_ENV] = stage_dir
    prime_fork_server()
    ready = get_context("forkserver").Process(target=os.getpid)  # forked only once the server's imports are done
    ready.start()
    ready.join()


def run_flow_pass(
    feeds_file: Path, database_url: str, stage_dir: str, workers: int, cold_workers: bool = False
) -> VariantResult:
    """One `monitor_feeds` pass in ephemeral mode (call `start_prefect` first), called as `presswatch run` calls it.

    `presswatch run` starts the link workers' fork server before Prefect starts its ephemeral server (10-13 s),
    so the fork server's imports are over when the pass begins: call `ready_fork_server` first for the same. With
    `cold_workers` the pass starts without one, as a served flow run's fresh process does (the pass then starts it
    and pays its imports, ~1 s of one core).
    """
    from pydantic import SecretStr

    install_stage_timers(stage_dir)
    from multiprocessing import forkserver

    from flows.local import local_runs
    from flows.monitor import monitor_feeds

    if cold_workers:
        forkserver._forkserver._stop()  # type: ignore[attr-defined]
    os.environ[STAGE_DIR_ENV] = stage_dir
    try:
        called = datetime.now(UTC)
        started = time.perf_counter()
        with local_runs():  # as `presswatch run` calls it: no heartbeats against the ephemeral API
            state = monitor_feeds(
                feeds_file=str(feeds_file), database_url=SecretStr(database_url), workers=workers, return_state=True
            )
        seconds = time.perf_counter() - started
        returned = datetime.now(UTC)
    finally:
        os.environ.pop(STAGE_DIR_ENV, None)
    summary = state.result()
    stages, stages_cpu, link_processes = read_stage_totals(stage_dir)
    result = VariantResult(
        SHIPPED_PASS, workers, _count_rows(database_url, "articles"), seconds, stages=stages, stages_cpu=stages_cpu
    )
    batches = -(-summary.links_seen // load_settings().batch_size)
    result.notes.update(
        headline=summary.headline(),
        link_workers="cold (the pass starts the fork server)"
        if cold_workers
        else "fork server ready, as in `presswatch run`",
        pass_stage_seconds=summary.stage_seconds,
        mentions=_count_rows(database_url, "mentions"),
        instrumented_link_processes=link_processes,
        timeline=prefect_timeline(state.state_details.flow_run_id, batches, called, returned),
    )
    return result


# --- the whole benchmark and its report ---------------------------------------------------------------


def load_pages(kind: str, count: int) -> tuple[list[bytes], str]:
    """The source pages and a one-line description; falls back to generated pages when the corpus is absent."""
    if kind == "corpus":
        try:
            pages = corpus_pages()
        except FileNotFoundError as exc:
            print(f"corpus unavailable ({exc}); using --pages generated", file=sys.stderr)
        else:
            return pages, f"{len(pages)} real article pages of {CORPUS_DIR.parent.name}, cycled to {count}"
    return generated_pages(count), f"{count} pages generated from the seed article"


def _write_feeds_file(path: Path, site: Site) -> Path:
    path.write_text("feeds:\n" + "".join(f"  - url: {url}\n" for url in site.feed_urls), encoding="utf-8")
    return path


@dataclass(frozen=True)
class Options:
    """What to run: the pages, the feeds, the workers, and which variants."""

    count: int = 500
    pages: str = "corpus"
    per_feed: int = 50
    workers: int = 2
    skip_flow: bool = False
    skip_steps: bool = False
    start_method: str = "fork"
    cold_workers: bool = False
    workdir: Path | None = None
    repeat: int = 1


def run_benchmark(options: Options) -> dict[str, Any]:
    """Serve the pages, run every variant into its own fresh database (`repeat` rounds), and return the figures."""
    root = options.workdir or Path(tempfile.mkdtemp(prefix="presswatch-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    batch_size = load_settings().batch_size
    pages, source = load_pages(options.pages, options.count)
    prefect_environment(root / "prefect")
    runs: list[VariantResult] = []
    prefect_start: dict[str, Any] = {}
    server = LoopbackSite(pages, options.count, options.per_feed)
    try:
        with server as site:
            feeds_file = _write_feeds_file(root / "feeds.yaml", site)
            print(f"serving {options.count} pages in {len(site.feed_urls)} feeds at {site.base_url}", file=sys.stderr)

            def measured(run: Callable[..., VariantResult], *args: Any) -> None:
                # Prefect's server, once started, idles on in later rounds: it is not part of the other variants.
                others = () if run is run_flow_pass else (PREFECT_SERVER,)
                with TreeProbe(exclude=[server.pid], exclude_kinds=others) as probe:
                    result = run(*args)
                result.peak_rss_mb, result.peak_pss_mb = probe.peaks_mb
                result.cpu_seconds = probe.cpu_seconds
                result.notes["load_average"] = [probe.load_before, probe.load_after]
                result.notes["cpu_by_process"] = probe.cpu_by_kind
                runs.append(result)
                print(f"  {result.name}: {result.stories} stories in {result.seconds:.2f} s", file=sys.stderr)

            for round_number in range(1, options.repeat + 1):

                def fresh(name: str, number: int = round_number) -> tuple[str, str]:
                    (root / f"stages-{name}-{number}").mkdir()
                    return f"sqlite:///{root / f'{name}-{number}.db'}", str(root / f"stages-{name}-{number}")

                for processes in (1, 2):
                    url = fresh(f"bare-{processes}")[0]
                    measured(run_bare, site, processes, url, batch_size, options.start_method)
                if not options.skip_steps:
                    measured(run_steps, feeds_file, *fresh("steps"), options.workers, options.start_method)
                if not options.skip_flow:
                    prefect_start = prefect_start or start_prefect()
                    url, stage_dir = fresh("flow")
                    if not options.cold_workers:
                        ready_fork_server(stage_dir)  # before the clock and the CPU count, as in `presswatch run`
                    measured(run_flow_pass, feeds_file, url, stage_dir, options.workers, options.cold_workers)
    finally:
        if options.workdir is None:
            shutil.rmtree(root, ignore_errors=True)
    best: dict[str, VariantResult] = {}
    for result in runs:  # the fastest complete round of each variant: other programs only slow a run down
        key = (result.stories == options.count, result.rate)
        if result.name not in best or key > (best[result.name].stories == options.count, best[result.name].rate):
            best[result.name] = result
    variants = list(best.values())
    shipped = best.get(SHIPPED_PASS)
    if shipped:
        cold = replace(shipped, name=COLD_PASS, stages={}, stages_cpu={}, notes={})
        cold.seconds += prefect_start["ephemeral_start_seconds"]
        variants.insert(variants.index(shipped) + 1, cold)
    config = {"pages": options.count, "source": source, "feeds": -(-options.count // options.per_feed)}
    config.update(items_per_feed=options.per_feed, batch_size=batch_size, workers=options.workers)
    config.update(rounds=options.repeat)
    report = _report(variants, config, prefect_start)
    report["all_runs"] = [
        {"name": r.name, "stories": r.stories, "seconds": round(r.seconds, 3), "cpu_seconds": r.cpu_seconds}
        | {"load_average": r.notes["load_average"]}
        for r in runs
    ]
    return report


def _report(variants: list[VariantResult], config: dict[str, Any], prefect_start: dict[str, Any]) -> dict[str, Any]:
    rates = {variant.name: variant.rate for variant in variants}
    ratios: dict[str, float] = {}
    for name, key in (
        (SHIPPED_PASS, "pass"),
        (COLD_PASS, "pass_incl_server_start"),
        (STEPS, "steps"),
    ):
        for bare, suffix in (("bare loop, 1 process", "1_process"), ("bare loop, 2 processes", "2_processes")):
            if rates.get(name) and rates.get(bare):
                ratios[f"{key}_vs_bare_{suffix}"] = round(rates[name] / rates[bare], 3)
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "config": config,
        "prefect_start": prefect_start,
        "variants": [{**asdict(variant), "stories_per_second": round(variant.rate, 2)} for variant in variants],
        "ratios": ratios,
        "targets": {"pass_vs_bare_1_process": ISSUE_2_TARGET, "pass_vs_bare_2_processes": ISSUE_9_TARGET},
    }


def format_report(report: dict[str, Any]) -> str:
    """The figures as plain-text tables."""
    config, host, variants = report["config"], report["machine"], report["variants"]
    lines = [
        f"presswatch throughput: {config['source']}; {config['feeds']} feeds of {config['items_per_feed']} items; "
        f"batch size {config['batch_size']}, workers {config['workers']}",
        f"machine: {host['cpus']} CPU(s) {host['cpu']}, {host['memory']} RAM, Python {host['python']}",
        "",
        f"{'variant':<44}{'procs':>6}{'stories':>8}{'seconds':>9}{'stories/s':>10}{'CPU s':>8}"
        f"{'peak RSS MB':>12}{'peak PSS MB':>12}",
    ]
    for v in variants:
        lines.append(
            f"{v['name']:<44}{v['processes']:>6}{v['stories']:>8}{v['seconds']:>9.2f}{v['stories_per_second']:>10.2f}"
            + (f"{v['cpu_seconds']:>8.1f}" if v["cpu_seconds"] else f"{'':>8}")
            + (f"{v['peak_rss_mb']:>12.0f}{v['peak_pss_mb']:>12.0f}" if v["peak_rss_mb"] else "")
        )
    for key, what in (("stages", "wall"), ("stages_cpu", "CPU")):
        lines += [
            "",
            f"{what} seconds per stage, summed over processes (feeds: read and parse every feed; other: setup)",
        ]
        lines.append(f"{'variant':<44}" + "".join(f"{name:>9}" for name in STAGES))
        lines += [
            f"{v['name']:<44}" + "".join(f"{v[key].get(name, 0.0):>9.2f}" for name in STAGES)
            for v in variants
            if v[key]
        ]
    if report["ratios"]:
        lines.append("")
    for key, value in report["ratios"].items():
        target = report["targets"].get(key)
        verdict = f"  (target >= {target}: {'met' if value >= target else 'NOT met'})" if target else ""
        lines.append(f"{key.replace('_', ' ')}: {value:.3f}{verdict}")
    lines += ["", "CPU seconds by process (sampled every 0.5 s):"]
    for v in variants:
        if v["notes"].get("cpu_by_process"):
            by_kind = ", ".join(f"{kind} {seconds:.1f}" for kind, seconds in v["notes"]["cpu_by_process"].items())
            lines.append(f"  {v['name']}: {by_kind}")
    if report["prefect_start"]:
        start = report["prefect_start"]
        lines += [
            "",
            f"Prefect: import {start['import_seconds']} s, ephemeral server start {start['ephemeral_start_seconds']} s",
        ]
    for v in variants:
        timeline = v["notes"].get("timeline")
        if timeline:
            lines.append(f"timeline of '{v['name']}' from Prefect's records (s):")
            lines += [f"  {key.replace('_', ' ')}: {value}" for key, value in timeline.items() if key != "complete"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=500, help="article pages to serve and store (default 500)")
    parser.add_argument("--pages", choices=("corpus", "generated"), default="corpus", help="page source")
    parser.add_argument("--per-feed", type=int, default=50, help="items per generated feed (default 50)")
    parser.add_argument("--workers", type=int, default=2, help="processes of the pass and of the steps variant")
    parser.add_argument("--skip-flow", action="store_true", help="leave out the Prefect passes")
    parser.add_argument("--skip-steps", action="store_true", help="leave out presswatch's steps without Prefect")
    parser.add_argument(
        "--start-method", choices=("fork", "forkserver", "spawn"), default="fork", help="of the bare and steps variants"
    )
    parser.add_argument(
        "--cold-workers",
        action="store_true",
        help="start each pass without the link workers' fork server (as a served run's fresh process)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="rounds of every variant; the fastest counts")
    parser.add_argument("--workdir", type=Path, help="keep databases here instead of a temporary folder")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if min(args.n, args.per_feed, args.workers, args.repeat) < 1:
        parser.error("--n, --per-feed, --workers and --repeat must be at least 1")
    options = Options(args.n, args.pages, args.per_feed, args.workers, args.skip_flow, args.skip_steps)
    options = replace(options, start_method=args.start_method, workdir=args.workdir, repeat=args.repeat)
    options = replace(options, cold_workers=args.cold_workers)
    report = run_benchmark(options)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


if __name__ == "__mp_main__" and os.environ.get(STAGE_DIR_ENV):
    # A link worker of the pass (flows/runner.py) importing this script: time presswatch's steps in it too.
    install_stage_timers(os.environ[STAGE_DIR_ENV])

if __name__ == "__main__":
    sys.exit(main())
