"""Ad-hoc flows: `ingest-urls` (article URLs typed into a form) and `backfill-feed` (every entry of one feed)."""

from __future__ import annotations

from typing import Annotated

from prefect import flow, get_run_logger
from pydantic import Field, SecretStr

from fetcher import host_key
from flows.monitor import prepare_database
from flows.runner import run_link_batches
from flows.steps import FeedJob, LinkJob, PassConfig, link_batches, new_link_jobs, pass_config, poll_feeds
from flows.summary import PassSummary, Problem, add_batches
from presswatch.errors import StorageError
from presswatch.settings import load_settings
from storage.clusters import assign_clusters
from storage.db import make_engine
from storage.writes import known_links, record_feed_polls, upsert_feeds

UrlList = Annotated[
    list[Annotated[str, Field(pattern=r"^https?://\S+$", max_length=2048)]],
    Field(
        title="Article URLs",
        description="One or more http(s) article URLs to store and tag as stories (at most 200).",
        min_length=1,
        max_length=200,
    ),
]
DatabaseUrl = Annotated[
    SecretStr | None,
    Field(title="Database URL", description="Leave empty to use the worker's PRESSWATCH_DATABASE_URL."),
]


def _store_links(jobs: list[LinkJob], config: PassConfig, workers: int, batch_size: int) -> PassSummary:
    engine = make_engine(config.database_url)
    try:
        already = known_links(engine, [job.link for job in jobs])
    finally:
        engine.dispose()
    todo = [job for job in jobs if job.link not in already]
    batches = link_batches(todo, batch_size, workers)
    reports = run_link_batches(batches, config, workers)
    failures = [r for r in reports if isinstance(r, StorageError)]
    if failures:
        raise failures[0]
    summary = PassSummary(links_seen=len(todo) + len(already), links_already_stored=len(already))
    add_batches(summary, batches, reports)
    _cluster(config.database_url, summary.stored_ids)
    return summary


def _cluster(database_url: str, stored_ids: list[int]) -> None:
    """Group the new stories with their copies, once every batch is stored (so no two batches miss each other)."""
    engine = make_engine(database_url)
    try:
        report = assign_clusters(engine, stored_ids)
    finally:
        engine.dispose()
    get_run_logger().info(
        "syndication: %d new stories, %d candidate pairs compared on text, %d stories regrouped",
        report.examined,
        report.compared,
        len(report.relabelled),
    )


@flow(name="ingest-urls")
def ingest_urls(urls: UrlList, database_url: DatabaseUrl = None) -> PassSummary:
    """Store and tag the given article URLs as stories (checked like any link: no private addresses).

    Args:
        urls: One or more http(s) article URLs (at most 200).
        database_url: presswatch's database; empty uses the worker's PRESSWATCH_DATABASE_URL.
    """
    from extractors.urls import normalize_url

    settings = load_settings(database_url=database_url)
    prepare_database(settings)
    # URLs from a form are untrusted: no trusted hosts, so every address check applies.
    config = pass_config(settings)
    jobs = [LinkJob(normalize_url(url), None) for url in dict.fromkeys(urls)]
    summary = _store_links(jobs, config, settings.workers, settings.batch_size)
    get_run_logger().info(summary.headline())
    return summary


@flow(name="backfill-feed")
def backfill_feed(
    feed_url: Annotated[
        str,
        Field(
            title="Feed URL",
            description="An http(s) feed; every entry it lists now is stored.",
            pattern=r"^https?://\S+$",
            max_length=2048,
        ),
    ],
    database_url: DatabaseUrl = None,
) -> PassSummary:
    """Store every entry currently in one feed, whatever its age, ignoring the feed's conditional-GET state.

    Args:
        feed_url: An http(s) feed URL; every entry it lists now is stored.
        database_url: presswatch's database; empty uses the worker's PRESSWATCH_DATABASE_URL.
    """
    settings = load_settings(database_url=database_url)
    prepare_database(settings)
    base = pass_config(settings)
    config = PassConfig(**{**base.__dict__, "trusted_hosts": frozenset({host_key(feed_url)})})
    engine = make_engine(config.database_url)
    try:
        [feed] = upsert_feeds(engine, [(feed_url, None)])
    finally:
        engine.dispose()
    [result] = poll_feeds([FeedJob(feed.id, feed.url)], config)
    if result.poll.outcome != "ok":
        summary = PassSummary(
            feeds_failed=[Problem(url=feed_url, outcome=result.poll.outcome, reason=result.poll.reason)]
        )
        get_run_logger().warning(summary.headline())
        return summary
    jobs = new_link_jobs([result], {feed.id: feed.url}, set())
    summary = _store_links(jobs, config, settings.workers, settings.batch_size)
    engine = make_engine(config.database_url)
    try:
        record_feed_polls(engine, [result.poll])  # only now: its links are stored
    finally:
        engine.dispose()
    summary.feeds_read = 1
    get_run_logger().info(summary.headline())
    return summary
