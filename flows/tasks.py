"""Prefect tasks: coarse, thin wrappers around `flows.steps` (a batch of feeds or links per task run)."""

from __future__ import annotations

from typing import Any, Protocol

import httpx
from prefect import task
from prefect.cache_policies import NO_CACHE

from flows import steps
from flows.logs import quiet_expected_errors
from flows.steps import BatchReport, FeedJob, FeedResult, LinkJob, PassConfig, poll_feeds
from presswatch.errors import StorageError


def retry_on_transient(_task: Any, _task_run: Any, state: Any) -> bool:
    """Retry a task only when it failed for a reason that may pass: a database or network hiccup."""
    try:
        state.result()
    except (StorageError, httpx.TransportError):
        return True
    except Exception:  # noqa: BLE001 - any other failure is a bug or bad data: retrying would repeat it
        return False
    return False


@task(name="poll-feeds", retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=retry_on_transient)
def poll_feeds_task(jobs: list[FeedJob], config: PassConfig) -> list[FeedResult]:
    """Poll a batch of feeds."""
    quiet_expected_errors()
    return poll_feeds(jobs, config)


class BatchLanes(Protocol):
    """Where a batch of links can run instead of the task's own thread (flows/runner.py: worker processes)."""

    def run_batch(self, jobs: list[LinkJob], config: PassConfig) -> BatchReport:
        """Download, extract, tag and store the batch; what happened to each link."""
        ...


# No cache key: results are not persisted, so hashing every batch's links would be CPU spent for nothing, and
# the lanes argument (a process pool) cannot be hashed at all.
@task(
    name="process-links",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=retry_on_transient,
    cache_policy=NO_CACHE,
)
def process_links_task(jobs: list[LinkJob], config: PassConfig, lanes: BatchLanes | None = None) -> BatchReport:
    """Download, extract, tag and store a batch of links, in this thread or in `lanes` (worker processes)."""
    quiet_expected_errors()
    if lanes is None:
        return steps.process_links(jobs, config)
    return lanes.run_batch(jobs, config)
