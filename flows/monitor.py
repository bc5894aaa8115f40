"""The `monitor-feeds` flow: read the feeds, turn new links into stories, record everything."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Annotated

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.states import Failed
from prefect.utilities.annotations import quote
from pydantic import Field, SecretStr

from extractors.topics import cached_topics
from extractors.watchlist import cached_watchlist, spellings
from fetcher import host_key
from fetcher.addresses import politeness_key
from fetcher.schedule import SUCCESSES, is_due, is_passing
from flows.runner import LinkWorkers, prime_fork_server
from flows.steps import (
    BatchReport,
    FeedJob,
    FeedResult,
    LinkJob,
    PassConfig,
    link_batches,
    new_link_jobs,
    next_schedule,
    pass_config,
)
from flows.summary import PassSummary, Problem, add_batches
from flows.tasks import poll_feeds_task
from presswatch.errors import PresswatchError, StorageError
from presswatch.feedlist import load_feed_list
from presswatch.settings import Settings, load_settings
from storage.clusters import assign_clusters
from storage.db import make_engine, upgrade
from storage.models import utcnow
from storage.queries import failed_attempts, feed_health, health_markdown
from storage.tags import sync_vocabulary
from storage.writes import (
    FeedPoll,
    FeedState,
    LinkFailure,
    feed_states,
    known_links,
    record_feed_polls,
    sync_watchlist,
    upsert_feeds,
)

MAX_POLL_TASKS = 16  # poll task runs per pass, whatever the number of feeds
MIN_FEEDS_PER_POLL_TASK = 250  # fewer feeds than this share a task run: each run costs Prefect milliseconds
MAX_LINK_ATTEMPTS = 3  # a link failing for a passing reason keeps its feed re-read until this many failures


def prepare_database(settings: Settings) -> None:
    """Migrate the schema to the newest revision and load the watchlist into `entities`."""
    watchlist = cached_watchlist(settings.watchlist_file)
    engine = make_engine(settings.database_url.get_secret_value())
    try:
        upgrade(engine)
        sync_watchlist(engine, watchlist)
        sync_vocabulary(engine, spellings(watchlist), cached_topics(settings.topics_file))
    finally:
        engine.dispose()


@flow(name="monitor-feeds", log_prints=True)
def monitor_feeds(
    feeds_file: Annotated[
        str | None,
        Field(title="Feeds file", description="YAML feeds file on the worker; empty: PRESSWATCH_FEEDS_FILE."),
    ] = None,
    database_url: Annotated[
        SecretStr | None, Field(title="Database URL", description="Empty: the worker's PRESSWATCH_DATABASE_URL.")
    ] = None,
    workers: Annotated[
        int | None, Field(title="Worker processes", description="Processes for extraction and tagging.", ge=1, le=64)
    ] = None,
    only_due: Annotated[
        bool,
        Field(
            title="Only feeds that are due", description="Skip feeds whose adaptive polling interval has not passed."
        ),
    ] = False,
) -> PassSummary:
    """Read the feeds in the feeds file, store new stories with their tags, and record what failed and why.

    Args:
        feeds_file: YAML feeds file on the worker; empty uses PRESSWATCH_FEEDS_FILE.
        database_url: presswatch's database; empty uses the worker's PRESSWATCH_DATABASE_URL.
        workers: Processes that extract and tag in parallel (1-64).
        only_due: Read only feeds whose adaptive polling interval has passed (the schedule sets this).
    """
    try:
        return _monitor(feeds_file, database_url, workers, only_due)
    except PresswatchError as exc:
        # An expected failure (the database gone, an unreadable feeds file) ends the run Failed with its
        # one-line reason; raising it here would make Prefect log a traceback for what is not a bug. The
        # caller still gets the exception: calling the flow raises the one the Failed state carries.
        return Failed(message=str(exc), data=exc)  # type: ignore[return-value]


def _monitor(
    feeds_file: str | None, database_url: SecretStr | None, workers: int | None, only_due: bool
) -> PassSummary:
    """The body of the `monitor-feeds` flow: settings, migrations, then one cycle over every feed."""
    settings = load_settings(feeds_file=feeds_file, database_url=database_url, workers=workers)
    if settings.workers > 1:
        prime_fork_server()  # the link workers' imports run in the background while the database is prepared
    prepare_database(settings)
    return run_cycle(settings, None, only_due)


def run_cycle(settings: Settings, feed_ids: Sequence[int] | None = None, only_due: bool = False) -> PassSummary:
    """One monitoring pass: poll the feeds, store their new links as stories, record every poll; inside a flow.

    `feed_ids` None means every feed of `settings.feeds_file` (rows are created for new ones); otherwise only
    the feeds with those row ids (unknown ids are skipped, no rows are created). The database must already be
    migrated (`prepare_database`). Passes over disjoint sets of feeds may run at the same time.
    """
    logger = get_run_logger()
    stages = StageClock()
    sources = load_feed_list(settings.feeds_file)
    # Hosts of the user's own feeds are trusted as written (a private intranet feed, a loopback test server).
    config = replace(pass_config(settings), trusted_hosts=frozenset(_feed_host(s.url) for s in sources))
    engine = make_engine(config.database_url)
    # Worker processes are started only for a pass with 2 or more batches of links, and stopped at its end.
    link_workers = LinkWorkers(config, settings.workers)
    try:
        with stages("feeds"):
            if feed_ids is None:
                feeds = upsert_feeds(engine, [(source.url, source.name) for source in sources])
            else:
                feeds = feed_states(engine, feed_ids)
            now = utcnow()
            due = [f for f in feeds if not only_due or is_due(f.schedule, now)]
        if due and settings.workers > 1:
            prime_fork_server()  # the workers' imports run in the background while the feeds are polled
        with stages("poll"):
            results = _poll(due, config)
        with stages("known_links"):
            all_links = [entry.link for result in results for entry in result.entries]
            known = known_links(engine, all_links)
            jobs = new_link_jobs(results, {f.id: f.url for f in feeds}, known)
            batches = link_batches(jobs, settings.batch_size, settings.workers)
        logger.info("%d feed(s) polled, %d new link(s) in %d batch(es)", len(results), len(jobs), len(batches))
        with stages("links"):
            reports = link_workers.run(batches)
            link_workers.close()
        summary = _summarize(results, all_links, known, batches, reports)
        summary.feeds_not_due = len(feeds) - len(due)
        with stages("record"):
            states = {f.id: f for f in feeds}
            retry = [failure.link for failure in _passing_failures(reports)]
            attempts = failed_attempts(engine, retry) if retry else {}
            record_feed_polls(engine, _polls_to_record(results, batches, reports, known, states, attempts))
        with stages("cluster"):
            # After all batches, in this one process: parallel batches could not see each other's copies. (Once
            # per pass: grouping batch by batch as they came measured 3 times the CPU, re-reading the neighbours.)
            assign_clusters(engine, summary.stored_ids)
        with stages("health"):
            health = feed_health(engine)
    finally:
        link_workers.close()
        engine.dispose()
    summary.stage_seconds = stages.seconds
    _publish(summary)
    create_markdown_artifact(markdown=health_markdown(health), key="feed-health", description="Feed health")
    logger.info(summary.headline())
    storage_failures = [r for r in reports if isinstance(r, StorageError)]
    if storage_failures:
        raise storage_failures[0]
    return summary


def _poll(feeds: Sequence[FeedState], config: PassConfig) -> list[FeedResult]:
    """Poll the feeds in a bounded number of task runs, every host's feeds in one of them."""
    feed_jobs = [FeedJob(f.id, f.url, f.etag, f.last_modified, f.body_hash) for f in feeds]
    # quote: plain data, which Prefect need not walk looking for futures (flows/runner.py does the same).
    batches = poll_batches(feed_jobs)
    futures = [poll_feeds_task.submit(quote(b), quote(config)) for b in batches]  # type: ignore[call-overload]
    return [result for future in futures for result in future.result()]


def poll_batches(
    jobs: Sequence[FeedJob], max_tasks: int = MAX_POLL_TASKS, min_size: int = MIN_FEEDS_PER_POLL_TASK
) -> list[list[FeedJob]]:
    """Feeds in at most `max_tasks` batches of about equal size, all feeds of a host in the same batch.

    Host affinity keeps the per-host limits true across task runs: each batch holds its own politeness gate.
    """
    by_host: dict[str, list[FeedJob]] = {}
    for job in jobs:
        by_host.setdefault(politeness_key(job.url), []).append(job)
    count = max(1, min(max_tasks, -(-len(jobs) // max(1, min_size)), len(by_host)))
    batches: list[list[FeedJob]] = [[] for _ in range(count)]
    for group in sorted(by_host.values(), key=len, reverse=True):
        min(batches, key=len).extend(group)  # largest groups first onto the lightest batch: near-even sizes
    return [batch for batch in batches if batch]


def _feed_host(url: str) -> str:
    """The `host[:port]` of a feed URL for `trusted_hosts`; '' for a file: URL or one that does not parse."""
    try:
        return host_key(url)
    except PresswatchError:
        return ""


class StageClock:
    """Wall-clock seconds per named stage of a pass, for the summary and the benchmarks."""

    def __init__(self) -> None:
        """Start with no stage timed."""
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        """Time the block and add it to stage `name`."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + round(time.perf_counter() - started, 4)


def _polls_to_record(
    results: Sequence[FeedResult],
    batches: Sequence[Sequence[LinkJob]],
    reports: Sequence[BatchReport | BaseException],
    known: set[str],
    states: dict[int, FeedState],
    attempts: dict[str, int],
) -> list[FeedPoll]:
    """Feed polls to save; a feed with links left for a later try keeps its old validators, so it is re-read.

    That is a feed whose links were in a failed batch, or one with a link that failed for a passing reason
    (time-out, dropped connection, 5xx, 429) fewer than MAX_LINK_ATTEMPTS times (`attempts`, counted from
    `fetch_events`): without it a 304 or an unchanged body would hide that link until the feed changes.
    """
    unfinished = {
        job.feed_id: "some links were not processed; will re-read"
        for batch, report in zip(batches, reports, strict=True)
        if isinstance(report, BaseException)
        for job in batch
    }
    for failure in _passing_failures(reports):
        if failure.feed_id is not None and attempts.get(failure.link, 0) < MAX_LINK_ATTEMPTS:
            reason = f"a link failed for a passing reason ({failure.outcome}: {failure.reason}); will re-read"
            unfinished.setdefault(failure.feed_id, reason)
    polls = []
    for result in results:
        poll = replace(result.poll, new_items=sum(1 for entry in result.entries if entry.link not in known))
        if poll.feed_id in unfinished and poll.outcome in SUCCESSES:
            poll = FeedPoll(
                poll.feed_id, poll.url, "incomplete", unfinished[poll.feed_id], poll.status_code, poll.fetched_at
            )
        state = states[poll.feed_id]
        polls.append(
            replace(poll, schedule=next_schedule(poll, state.schedule, state.ttl_minutes, len(result.entries)))
        )
    return polls


def _passing_failures(reports: Sequence[BatchReport | BaseException]) -> list[LinkFailure]:
    """Link failures of this pass that may well pass if tried again soon."""
    return [
        failure
        for report in reports
        if isinstance(report, BatchReport)
        for failure in report.failures
        if is_passing(failure.outcome, failure.status_code)
    ]


def _summarize(
    results: Sequence[FeedResult],
    all_links: Sequence[str],
    known: set[str],
    batches: Sequence[Sequence[LinkJob]],
    reports: Sequence[BatchReport | BaseException],
) -> PassSummary:
    summary = PassSummary(links_seen=len(set(all_links)), links_already_stored=len(known))
    for result in results:
        poll = result.poll
        if poll.outcome == "ok":
            summary.feeds_read += 1
        elif poll.outcome in ("not_modified", "unchanged"):
            summary.feeds_not_modified += 1
        else:
            summary.feeds_failed.append(Problem(url=poll.url, outcome=poll.outcome, reason=poll.reason))
    add_batches(summary, batches, reports)
    return summary


def _publish(summary: PassSummary) -> None:
    """Publish the pass summary as Prefect artifacts (a table of problems, a markdown headline)."""
    create_markdown_artifact(
        markdown=f"## Monitoring pass\n\n{summary.headline()}\n",
        key="monitor-summary",
        description="What the last monitoring pass stored and skipped",
    )
    rows = summary.table() or [{"kind": "-", "url": "-", "outcome": "nothing new", "reason": summary.headline()}]
    create_table_artifact(
        table=rows, key="monitor-pass", description="Stories stored, feeds and links skipped, and why"
    )
