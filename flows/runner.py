"""Running a pass's batches of links: one Prefect task run per batch, the CPU work in plain worker processes.

Each batch stays a `process-links` task run (retries, states and the UI are Prefect's), run in a thread of the
flow's process. When the pass has several batches and several workers, that thread hands the batch to a
`ProcessPoolExecutor` of worker processes that never import Prefect nor talk to its API: they fork from a fork
server that has already imported the pipeline and built the configured watchlist's matchers (`WORKER_MODULES`,
flows/preload.py). `presswatch run` starts that server before Prefect's own (`prime_fork_server`); a flow run
started otherwise starts it before it polls the feeds. Workers warm up for the pass before their first batch;
when they are slow to come (a fork server still importing), the flow's own process makes a start on the batches
(`LinkWorkers.run_batch`).
"""

from __future__ import annotations

import multiprocessing
import tempfile
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import replace
from multiprocessing import forkserver
from typing import Any

from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

from flows import steps
from flows.steps import BatchReport, LinkJob, PassConfig
from flows.tasks import process_links_task

START_METHOD = "forkserver"  # no fork of the flow's threaded process; the server is started once per process
WORKER_MODULES = ["flows.preload"]  # imported once by the fork server: every worker starts with them loaded, warm
READY_WAIT = 0.3  # seconds a batch waits for the workers before it runs in the flow's process instead
# Batches and the pass's configuration are handed to task runs wrapped in `quote`: plain data with no futures in
# it, which Prefect would otherwise walk element by element for every task run it submits.


class LinkWorkers:
    """The worker processes of a pass: started by `start` or by the first `run` with 2 or more batches.

    Also the pass's politeness gate: every batch run through it shares one set of per-host slots (a temporary
    directory), whether the batches run as threads of this process or in worker processes, so a host sees at
    most 2 requests at once from the whole pass, not 2 per batch.
    """

    def __init__(self, config: PassConfig, workers: int) -> None:
        """Workers for batches of `config`'s pass; nothing starts before `start` or `with`."""
        self.workers = workers
        self._stack = ExitStack()
        slots = self._stack.enter_context(tempfile.TemporaryDirectory(prefix="presswatch-hosts-"))
        self.config = replace(config, host_slots=slots)
        self._pool: ProcessPoolExecutor | None = None
        self._started: threading.Thread | None = None
        self._ready = threading.Event()  # every worker has started and warmed up
        self._here = threading.Lock()  # held by the one batch run in this process while the workers start

    def start(self) -> None:
        """Start the worker processes in the background, each warmed up for the pass; only if there are 2+."""
        if self.workers < 2 or self._pool is not None:
            return
        context = multiprocessing.get_context(START_METHOD)
        if START_METHOD == "forkserver":
            context.set_forkserver_preload(WORKER_MODULES)  # used when the fork server starts (once per process)
        self._pool = ProcessPoolExecutor(
            self.workers, mp_context=context, initializer=steps.warm_worker, initargs=(self.config,)
        )
        # Starting a worker waits for the fork server's imports (~1 s the first time): not on the flow's thread.
        self._started = threading.Thread(target=self._start_workers, daemon=True)
        self._started.start()

    def _start_workers(self) -> None:
        """Make the pool start all its processes now (each submission finds no idle worker and starts one)."""
        assert self._pool is not None
        futures = [self._pool.submit(steps.worker_ready) for _ in range(self.workers)]
        for future in futures:
            future.exception()  # a worker that could not start shows up again when a batch is submitted
        self._ready.set()

    def run_batch(self, jobs: list[LinkJob], config: PassConfig) -> BatchReport:
        """One batch in a worker process, or here while the workers are still starting and no batch runs here.

        Starting the workers takes about a second when the fork server has still to import the pipeline; this
        process, idle meanwhile and with the libraries already imported, then makes a start on the batches
        instead of waiting. A fork server that is ready (`presswatch run` starts it before Prefect's server)
        forks warm workers in well under READY_WAIT, and every batch goes to them: a batch here would compete
        for the cores with both workers and with Prefect's threads in this process.
        """
        if self._pool is None:
            return steps.process_links(jobs, config)
        if not self._ready.wait(READY_WAIT) and self._here.acquire(blocking=False):
            try:
                return steps.process_links(jobs, config)
            finally:
                self._here.release()
        return self._pool.submit(steps.process_links, jobs, config).result()

    def run(self, batches: list[list[LinkJob]]) -> list[BatchReport | BaseException]:
        """Each batch's report, or the exception that ended it; one failing batch never loses the others."""
        if self.workers > 1 and len(batches) > 1:
            self.start()
            # Twice as many task threads as workers, so a worker never idles between two batches.
            runner: ThreadPoolTaskRunner[Any] = ThreadPoolTaskRunner(max_workers=2 * self.workers)
            with runner:
                config = quote(self.config)
                params = [{"jobs": quote(batch), "config": config, "lanes": self} for batch in batches]
                return [_outcome(future) for future in [runner.submit(process_links_task, p) for p in params]]
        # Prefect unwraps quote() before the task runs; its typing of submit() does not know that.
        submitted = [process_links_task.submit(quote(b), quote(self.config)) for b in batches]  # type: ignore[call-overload]
        return [_outcome(future) for future in submitted]

    def close(self) -> None:
        """Stop the worker processes (after their current batch) and remove the pass's host slots."""
        if self._started is not None:
            self._started.join()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._stack.close()

    def __enter__(self) -> LinkWorkers:
        """Start the workers; they are stopped when the block ends."""
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        """Stop the workers."""
        self.close()


def prime_fork_server() -> None:
    """Start the fork server now (its imports run in the background), so the pass's workers start sooner."""
    if START_METHOD == "forkserver":
        multiprocessing.get_context(START_METHOD).set_forkserver_preload(WORKER_MODULES)
        forkserver.ensure_running()


def run_link_batches(
    batches: list[list[LinkJob]], config: PassConfig, workers: int
) -> list[BatchReport | BaseException]:
    """Each batch's report, or the exception that ended it, with workers started for this call only."""
    with LinkWorkers(config, workers if len(batches) > 1 else 1) as pass_workers:
        return pass_workers.run(batches)


def _outcome(future: Future[Any] | Any) -> Any:
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - recorded per link by the caller, never swallowed
        return exc
