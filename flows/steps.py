"""The work of a pass as plain functions (no Prefect): poll a feed, turn a link into a story, store a batch.

Tasks in `flows/tasks.py` are thin wrappers around these, so every rule here is testable without Prefect.
Everything passed in is picklable (ids, URLs, frozen dataclasses), so a batch can run in another process.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import unquote, urlsplit

import httpx
from spacy.language import Language

from extractors.analysis import analyze
from extractors.articles import extract_article
from extractors.dates import FEED as FEED_DATE
from extractors.discovery import load_ner_model
from extractors.feeds import parse_feed
from extractors.models import FeedEntry, Watchlist
from extractors.topics import Topics, cached_topics
from extractors.urls import normalize_url
from extractors.watchlist import cached_watchlist
from fetcher.addresses import politeness_key
from fetcher.http import FetchPolicy, FetchResult, fetch, is_html, make_client, read_local_file
from fetcher.politeness import HostGate, pass_gate
from fetcher.schedule import SUCCESSES, FeedSchedule, after_failure, after_success
from presswatch.errors import ExtractionError, FeedError, FetchError, PresswatchError
from presswatch.settings import Settings
from storage.db import make_engine
from storage.models import utcnow
from storage.writes import FeedPoll, LinkFailure, Story, store_batch

if TYPE_CHECKING:
    from fetcher.aio import AsyncFetcher

T = TypeVar("T")
Page = FetchResult | LinkFailure  # a downloaded page, or why there is none

FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
EXTRACTION_TIMEOUT = 30.0  # seconds; trafilatura has no limit of its own
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
DOWNLOAD_LANES = 8  # threads downloading pages per batch (each host gets at most 2 of them)
# The note parse_feed appends (last) when entries had no usable link; it says nothing about damage.
_DROPPED_NOTE = re.compile(r"(?:^|; )\d+ of \d+ entries dropped: [^;]*$")


@dataclass(frozen=True)
class PassConfig:
    """What every task of a pass needs, in picklable form."""

    database_url: str
    watchlist_file: str
    policy: FetchPolicy
    topics_file: str = ""
    spacy_model: str = ""
    trusted_hosts: frozenset[str] = frozenset()
    per_host_delay: float = 0.0
    host_slots: str = ""  # directory of the pass's per-host slots (flows/runner.py); empty: one gate per batch


@dataclass(frozen=True)
class FeedJob:
    """One feed to poll, with the validators from its last successful read."""

    feed_id: int
    url: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None


@dataclass(frozen=True)
class FeedResult:
    """What polling a feed gave: the poll to record and the entries found."""

    poll: FeedPoll
    entries: list[FeedEntry] = field(default_factory=list)


@dataclass(frozen=True)
class LinkJob:
    """One entry link to turn into a story, with what its feed said about it."""

    link: str
    feed_id: int | None
    feed_url: str | None = None
    feed_published: datetime | None = None
    feed_summary: str | None = None


@dataclass(frozen=True)
class BatchReport:
    """What one batch of links became: new story ids, duplicates, and failures with reasons."""

    stored_ids: list[int] = field(default_factory=list)
    stored_links: list[str] = field(default_factory=list)
    duplicate_links: list[str] = field(default_factory=list)
    failures: list[LinkFailure] = field(default_factory=list)


def _local_path(url: str) -> Path:
    return Path(unquote(urlsplit(url).path))


def _is_local_link_of_feed(link: str, feed_url: str | None) -> bool:
    """A file: link is read only when it sits in the folder of the user's own file: feed that lists it."""
    if not feed_url or not link.startswith("file:") or not feed_url.startswith("file:"):
        return False
    folder = _local_path(feed_url).parent.resolve()
    target = _local_path(link).resolve()
    return target.is_relative_to(folder)


def _read(client: httpx.Client, url: str, config: PassConfig, gate: HostGate | None, **kwargs: object) -> FetchResult:
    if url.startswith("file:"):
        return read_local_file(_local_path(url), config.policy)
    return fetch(client, url, config.policy, trusted_hosts=config.trusted_hosts, gate=gate, **kwargs)  # type: ignore[arg-type]


def poll_feed(client: httpx.Client, job: FeedJob, config: PassConfig, gate: HostGate | None = None) -> FeedResult:
    """Read one feed (conditional GET) and parse its entries; failures become a recorded poll, never an exception."""
    fetched_at = utcnow()
    try:
        result = _read(
            client, job.url, config, gate, etag=job.etag, last_modified=job.last_modified, accept=FEED_ACCEPT
        )
    except FetchError as exc:
        return _failed_poll(job, fetched_at, exc)
    return feed_result(job, result, fetched_at)


def _failed_poll(job: FeedJob, fetched_at: datetime, exc: FetchError) -> FeedResult:
    """The recorded poll of a feed that could not be read, with the Retry-After it was given."""
    poll = FeedPoll(job.feed_id, job.url, exc.outcome, exc.reason, exc.status, fetched_at, retry_after=exc.retry_after)
    return FeedResult(poll)


def feed_result(job: FeedJob, result: FetchResult, fetched_at: datetime) -> FeedResult:
    """What a fetched feed gives: not modified, the same body as last time, a parse failure, or its entries."""

    def poll(
        outcome: str, reason: str | None, status: int | None, etag: str | None = None, last_modified: str | None = None
    ) -> FeedPoll:
        return FeedPoll(job.feed_id, job.url, outcome, reason, status, fetched_at, etag, last_modified)

    if result.status == 304:
        return FeedResult(poll("not_modified", "not modified since the last read (HTTP 304)", 304))
    digest = hashlib.sha256(result.body).hexdigest()
    if job.body_hash is not None and digest == job.body_hash:
        # Some servers ignore conditional GET (or send a false 304): the same body means nothing changed.
        return FeedResult(poll("unchanged", "same body as the last read", result.status))
    try:
        parsed = parse_feed(result.body, result.final_url, content_type=_with_charset(result))
    except FeedError as exc:
        outcome = "not_feed" if "HTML" in str(exc) else "parse_error"
        return FeedResult(poll(outcome, str(exc), result.status))
    if _parser_problem(parsed.warning) and not parsed.entries:
        # A damaged document that gave nothing usable is a broken feed, not an empty one. (A well-formed
        # feed whose items merely lack links is not damaged: it is read, with the warning as its reason.)
        return FeedResult(poll("parse_error", f"broken feed: {parsed.warning}", result.status))
    reason = f"{len(parsed.entries)} entries" + (f"; warning: {parsed.warning}" if parsed.warning else "")
    return FeedResult(
        replace(
            poll("ok", reason, result.status, etag=result.etag, last_modified=result.last_modified),
            body_hash=digest,
            ttl_minutes=parsed.ttl_minutes,
        ),
        list(parsed.entries),
    )


def _with_charset(result: FetchResult) -> str | None:
    """The response's media type with its charset parameter: the HTTP charset outranks the XML declaration."""
    if result.content_type and result.charset:
        return f"{result.content_type}; charset={result.charset}"
    return result.content_type


def _parser_problem(warning: str | None) -> str | None:
    """The parser's complaint in a ParsedFeed warning, without the note about entries dropped for lack of a link."""
    return _DROPPED_NOTE.sub("", warning or "") or None


def fetch_link(
    client: httpx.Client, job: LinkJob, config: PassConfig, gate: HostGate | None = None
) -> FetchResult | LinkFailure:
    """Download one link's page (checked, capped, polite); a refusal or failure is a LinkFailure with a reason."""
    link = normalize_url(job.link)
    if link.startswith("file:") and not _is_local_link_of_feed(link, job.feed_url):
        return LinkFailure(link, job.feed_id, "blocked", "refused: file: links are read only beside a local feed")
    try:
        return _read(client, link, config, gate, accept=PAGE_ACCEPT)
    except FetchError as exc:
        return LinkFailure(link, job.feed_id, exc.outcome, exc.reason, exc.status)


def story_from_page(
    job: LinkJob,
    result: FetchResult,
    watchlist: Watchlist,
    topics: Topics | None = None,
    ner: Language | None = None,
) -> Story | LinkFailure:
    """Extract and tag a downloaded page; an empty, non-HTML or unreadable page is a LinkFailure."""
    link = normalize_url(job.link)
    if not result.body:
        return LinkFailure(link, job.feed_id, "empty", "the server sent an empty page", result.status)
    if not is_html(result):
        kind = result.content_type or "unknown type"
        return LinkFailure(link, job.feed_id, "not_html", f"not an HTML page ({kind})", result.status)
    try:
        article = extract_article(
            result.body,
            normalize_url(result.final_url),
            content_type=result.content_type,
            feed_summary=job.feed_summary,
            timeout=EXTRACTION_TIMEOUT,
        )
    except ExtractionError as exc:
        return LinkFailure(link, job.feed_id, "extraction_error", str(exc), result.status)
    if article.published is None and job.feed_published is not None:
        article = replace(article, published=job.feed_published, date_source=FEED_DATE)
    analysis = analyze(article.title, article.text, watchlist, topics, ner)
    return Story(
        link,
        article,
        analysis.tags,
        job.feed_id,
        utcnow(),
        analysis=analysis,
        raw_page=result.body,
        content_type=result.content_type,
    )


def story_from_link(
    client: httpx.Client,
    job: LinkJob,
    watchlist: Watchlist,
    config: PassConfig,
    gate: HostGate | None = None,
    topics: Topics | None = None,
    ner: Language | None = None,
) -> Story | LinkFailure:
    """Download, extract and tag one link; anything that goes wrong is a LinkFailure with a reason."""
    fetched = fetch_link(client, job, config, gate)
    return fetched if isinstance(fetched, LinkFailure) else story_from_page(job, fetched, watchlist, topics, ner)


def _host_lanes(jobs: Sequence[LinkJob]) -> list[list[int]]:
    """Indexes of `jobs` in lanes: each host's links dealt into at most 2 lanes, which are fetched in order."""
    by_host: dict[str, list[int]] = {}
    for index, job in enumerate(jobs):
        by_host.setdefault(politeness_key(job.link), []).append(index)  # '' for an invalid URL: it fails alone
    return [indexes[lane::2] for indexes in by_host.values() for lane in range(min(2, len(indexes)))]


@contextmanager
def _downloads(jobs: Sequence[LinkJob], fetch_one: Callable[[LinkJob], Page]) -> Iterator[list[Future[Page]]]:
    """Download every job in the background, giving one future per job, in order.

    A thread per lane (see `_host_lanes`), so a slow host occupies at most two threads and never holds up the
    links of other hosts in the same batch; the pass-wide gate bounds each host across batches. When the block
    is left early (the batch failed), the lanes start no further link and their fetches in flight are waited
    for, so no thread outlives the batch's client or keeps taking turns at a host.
    """
    stop = threading.Event()
    futures: list[Future[Page]] = [Future() for _ in jobs]

    def run(lane: list[int]) -> None:
        for index in lane:
            if stop.is_set():
                futures[index].cancel()
                continue
            try:
                futures[index].set_result(fetch_one(jobs[index]))
            except Exception as exc:  # noqa: BLE001 - handed to the batch thread, which raises it
                futures[index].set_exception(exc)

    lanes = _host_lanes(jobs)
    pool = ThreadPoolExecutor(max(1, min(len(lanes), DOWNLOAD_LANES)))
    for lane in lanes:
        pool.submit(run, lane)
    try:
        yield futures
    finally:
        stop.set()
        pool.shutdown(wait=True)


def _analysis_inputs(config: PassConfig) -> tuple[Watchlist, Topics | None, Language | None]:
    """The watchlist, topics and NER pipeline of a pass, each parsed or loaded once per process."""
    watchlist = cached_watchlist(config.watchlist_file)
    topics = cached_topics(config.topics_file) if config.topics_file else None
    ner = load_ner_model(config.spacy_model) if config.spacy_model else None  # cached: once per process
    return watchlist, topics, ner


def warm_worker(config: PassConfig) -> None:
    """Load what every batch of a pass needs in this process (files, matchers, pipelines) before the first batch."""
    try:
        watchlist, topics, ner = _analysis_inputs(config)
    except PresswatchError:
        return  # each batch meets the same error and records it; a worker must not fail to start over it
    analyze("Warm-up", "A warm-up sentence names nothing in particular.", watchlist, topics, ner)


def worker_ready() -> bool:
    """Nothing to do: submitted once per worker so that a process pool starts all its workers at once."""
    return True


def process_links(jobs: Sequence[LinkJob], config: PassConfig) -> BatchReport:
    """Turn a batch of links into stories and store them (one transaction), returning what happened."""
    watchlist, topics, ner = _analysis_inputs(config)
    # One gate for the whole pass (every batch, thread or process), so a host never sees more than 2 at once.
    gate = pass_gate(config.host_slots, max_per_host=2, min_delay=config.per_host_delay)
    stories: list[Story] = []
    failures: list[LinkFailure] = []
    # Downloads run ahead in per-host lanes; extraction and tagging stay on this thread, in the batch's order.
    with make_client(config.policy) as client, _downloads(jobs, lambda j: fetch_link(client, j, config, gate)) as pages:
        for job, future in zip(jobs, pages, strict=True):
            page = future.result()
            outcome = page if isinstance(page, LinkFailure) else story_from_page(job, page, watchlist, topics, ner)
            (stories if isinstance(outcome, Story) else failures).append(outcome)  # type: ignore[arg-type]
    engine = make_engine(config.database_url)
    try:
        stored = store_batch(engine, stories, failures)
    finally:
        engine.dispose()
    return BatchReport(
        stored_ids=[item.article_id for item in stored if item.created],
        stored_links=[item.link for item in stored if item.created],
        duplicate_links=[item.link for item in stored if not item.created],
        failures=failures,
    )


def poll_feeds(jobs: Sequence[FeedJob], config: PassConfig) -> list[FeedResult]:
    """Poll a batch of feeds concurrently (asyncio, hundreds in flight, at most 2 per host), in the order given."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_poll_feeds(jobs, config))
    # Called from inside a running loop (an async flow or task): give the batch a loop of its own.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _poll_feeds(jobs, config)).result()


async def _poll_feeds(jobs: Sequence[FeedJob], config: PassConfig) -> list[FeedResult]:
    from fetcher.aio import AsyncFetcher  # here: link workers never poll, and aiohttp takes 0.1 s to import

    async with AsyncFetcher(
        config.policy, trusted_hosts=config.trusted_hosts, per_host=2, min_delay=config.per_host_delay
    ) as fetcher:
        fetched = await asyncio.gather(*(_fetch_one(fetcher, job, config) for job in jobs))
    # Parsed once every response is in: feedparser is CPU-bound, and parsing inside the event loop would stall
    # the requests still in flight and eat into their deadlines.
    return [
        outcome if isinstance(outcome, FeedResult) else feed_result(job, *outcome)
        for job, outcome in zip(jobs, fetched, strict=True)
    ]


async def _fetch_one(
    fetcher: AsyncFetcher, job: FeedJob, config: PassConfig
) -> FeedResult | tuple[FetchResult, datetime]:
    """One feed's response and when it was fetched (a file: feed is read from disk), or its failed poll."""
    fetched_at = utcnow()
    try:
        if job.url.startswith("file:"):
            return read_local_file(_local_path(job.url), config.policy), fetched_at
        result = await fetcher.fetch(job.url, etag=job.etag, last_modified=job.last_modified, accept=FEED_ACCEPT)
    except FetchError as exc:
        return _failed_poll(job, fetched_at, exc)
    return result, fetched_at


def chunks(items: Sequence[T], size: int) -> list[list[T]]:
    """Split items into lists of at most `size`."""
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


def link_batches(jobs: Sequence[LinkJob], size: int, workers: int) -> list[list[LinkJob]]:
    """Batches of `size` links, the last ones a quarter of that, so that the worker processes finish together.

    Workers take the batches in order; with equal batches the last one to start runs on alone while the other
    cores idle, half a batch's time on average (~0.3 s of 25 links). Ending on batches a quarter the size cuts
    that wait to a quarter, for a few more task runs: the last `workers * size / 2` links go in small batches.
    """
    if workers < 2 or len(jobs) <= size:
        return chunks(jobs, size)
    head = max(0, len(jobs) - workers * size // 2)
    return chunks(jobs[:head], size) + chunks(jobs[head:], max(1, size // 4))


def new_link_jobs(results: Sequence[FeedResult], feed_urls: dict[int, str], known: set[str]) -> list[LinkJob]:
    """One job per entry link not yet stored, first feed wins when several feeds list the same link."""
    jobs: dict[str, LinkJob] = {}
    for result in results:
        for entry in result.entries:
            if entry.link in known or entry.link in jobs:
                continue
            feed_id = result.poll.feed_id
            jobs[entry.link] = LinkJob(entry.link, feed_id, feed_urls.get(feed_id), entry.published, entry.summary)
    return list(jobs.values())


def pass_config(settings: Settings) -> PassConfig:
    """The picklable configuration every task of a pass receives."""
    policy = FetchPolicy(
        user_agent=settings.user_agent,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        total_timeout=settings.total_timeout,
        max_bytes=settings.max_bytes,
        max_redirects=settings.max_redirects,
        allowed_networks=settings.allowed_network_list(),
    )
    return PassConfig(
        database_url=settings.database_url.get_secret_value(),
        watchlist_file=str(settings.watchlist_file),
        topics_file=str(settings.topics_file),
        spacy_model=settings.spacy_model,
        policy=policy,
        per_host_delay=settings.per_host_delay,
    )


def next_schedule(poll: FeedPoll, state: FeedSchedule, ttl_minutes: int | None, total_items: int) -> FeedSchedule:
    """When to read a feed next, from what this read gave (fetcher/schedule.py holds the rules)."""
    if poll.outcome in SUCCESSES:
        ttl = poll.ttl_minutes or ttl_minutes
        return after_success(
            state,
            poll.fetched_at,
            new_items=poll.new_items,
            total_items=total_items,
            feed_ttl=timedelta(minutes=ttl) if ttl else None,
        )
    if poll.outcome == "incomplete":
        return replace(state, next_due_at=poll.fetched_at)  # read again at the next pass
    return after_failure(
        state,
        poll.fetched_at,
        outcome=poll.outcome,
        status=poll.status_code,
        reason=poll.reason or "",
        retry_after=poll.retry_after,
    )
