"""Running batches of links: in a process pool when there is enough work, else in the flow's own runner."""

from __future__ import annotations

from typing import Any

from prefect.task_runners import ProcessPoolTaskRunner

from flows.steps import BatchReport, LinkJob, PassConfig
from flows.tasks import process_links_task


def run_link_batches(
    batches: list[list[LinkJob]], config: PassConfig, workers: int
) -> list[BatchReport | BaseException]:
    """Each batch's report, or the exception that ended it; one failing batch never loses the others."""
    if workers > 1 and len(batches) > 1:
        # Starting worker processes costs seconds: only worth it when there are batches to share.
        with ProcessPoolTaskRunner(max_workers=min(workers, len(batches))) as runner:
            pooled = [runner.submit(process_links_task, {"jobs": batch, "config": config}) for batch in batches]
            return [_outcome(future) for future in pooled]
    threaded = [process_links_task.submit(batch, config) for batch in batches]
    return [_outcome(future) for future in threaded]


def _outcome(future: Any) -> Any:
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - recorded per link by the caller, never swallowed
        return exc
