"""Downloads run ahead in per-host lanes, and stop with their batch: no lane outlives a batch that failed."""

from __future__ import annotations

import threading
import time

import pytest

from flows.steps import LinkJob, _downloads
from storage.writes import LinkFailure


def test_a_batch_left_early_starts_no_further_download_and_waits_for_the_one_in_flight() -> None:
    jobs = [LinkJob(f"http://one-host.example/{n}.html", None) for n in range(6)]  # one host: two lanes of three
    started: list[str] = []
    finished: list[str] = []
    release = threading.Event()

    def fetch_one(job: LinkJob) -> LinkFailure:
        started.append(job.link)
        release.wait(5)
        time.sleep(0.05)
        finished.append(job.link)
        return LinkFailure(job.link, None, "timeout", "test")

    with pytest.raises(RuntimeError), _downloads(jobs, fetch_one) as futures:
        while len(started) < 2:  # both lanes are fetching their first link
            time.sleep(0.01)
        release.set()
        raise RuntimeError("the batch failed while extracting")
    # Leaving the block waited for the two fetches in flight and started none of the four others.
    assert sorted(started) == sorted(finished) == sorted([jobs[0].link, jobs[1].link])
    assert [future.cancelled() for future in futures] == [False, False, True, True, True, True]


def test_every_download_completes_in_order_when_the_batch_reads_them_all() -> None:
    jobs = [LinkJob(f"http://host{n % 3}.example/{n}.html", None) for n in range(9)]
    with _downloads(jobs, lambda job: LinkFailure(job.link, None, "not_html", "test")) as futures:
        links = [future.result().link for future in futures]
    assert links == [job.link for job in jobs]
