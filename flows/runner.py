"""Running batches of links: in a process pool when there is enough work, else in the flow's own runner."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from prefect.task_runners import ProcessPoolTaskRunner

from flows.steps import BatchReport, LinkJob, PassConfig
from flows.tasks import process_links_task


def run_link_batches(
    batches: list[list[LinkJob]], config: PassConfig, workers: int
) -> list[BatchReport | BaseException]:
    """Each batch's report, or the exception that ended it; one failing batch never loses the others.

    Every batch of the call shares one politeness gate (per-host slots in a temporary directory), whether the
    batches run as threads of this process or in worker processes: a host sees at most 2 requests at once
    from the whole pass, not 2 per batch.
    """
    with tempfile.TemporaryDirectory(prefix="presswatch-hosts-") as slots:
        config = replace(config, host_slots=slots)
        if workers > 1 and len(batches) > 1:
            # Starting worker processes costs seconds: only worth it when there are batches to share.
            with _workers_share_the_api(), ProcessPoolTaskRunner(max_workers=min(workers, len(batches))) as runner:
                pooled = [runner.submit(process_links_task, {"jobs": batch, "config": config}) for batch in batches]
                return [_outcome(future) for future in pooled]
        threaded = [process_links_task.submit(batch, config) for batch in batches]
        return [_outcome(future) for future in threaded]


@contextmanager
def _workers_share_the_api() -> Iterator[None]:
    """In ephemeral mode, point the pool's worker processes at this process's temporary Prefect API.

    Without it every worker starts a temporary server of its own (measured: up to 30 s before the first
    batch of a pass, and ~10 s of CPU). Workers are spawned during the `with` block and inherit the
    environment then, so the variable is set only for that block and restored afterwards.
    """
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value() or "PREFECT_API_URL" in os.environ:
        yield
        return
    from prefect.server.api.server import SubprocessASGIServer

    os.environ["PREFECT_API_URL"] = SubprocessASGIServer().api_url
    try:
        yield
    finally:
        os.environ.pop("PREFECT_API_URL", None)


def _outcome(future: Any) -> Any:
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - recorded per link by the caller, never swallowed
        return exc
