"""How a pass splits its new links into batches: full batches first, then small ones so the workers end together."""

from __future__ import annotations

import pytest

from flows.steps import LinkJob, link_batches


def jobs(count: int) -> list[LinkJob]:
    return [LinkJob(f"http://127.0.0.1/articles/{i:05d}.html", 1, None) for i in range(count)]


def test_the_last_links_of_a_pass_go_in_quarter_size_batches() -> None:
    batches = link_batches(jobs(500), 25, workers=2)
    assert [len(b) for b in batches] == [25] * 19 + [6, 6, 6, 6, 1]
    # Every link once, in the order given: workers take the batches in that order.
    assert [job for batch in batches for job in batch] == jobs(500)


@pytest.mark.parametrize(("count", "size", "workers"), [(7, 25, 2), (25, 25, 4), (60, 25, 1), (30, 1, 2)])
def test_one_worker_or_one_batch_of_links_is_split_plainly(count: int, size: int, workers: int) -> None:
    batches = link_batches(jobs(count), size, workers)
    assert [job for batch in batches for job in batch] == jobs(count)
    if workers < 2 or count <= size:
        assert [len(b) for b in batches] == [min(size, count - i) for i in range(0, count, size)]
    else:
        assert max(len(b) for b in batches) == size and min(len(b) for b in batches) >= 1


def test_many_workers_end_on_small_batches_without_dropping_or_repeating_links() -> None:
    batches = link_batches(jobs(130), 25, workers=8)  # the small tail would be 100 links: most of the pass
    assert [len(b) for b in batches[:2]] == [25, 5]
    assert all(len(b) <= 6 for b in batches[1:])
    assert sorted(job.link for batch in batches for job in batch) == sorted(job.link for job in jobs(130))
