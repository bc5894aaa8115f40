"""Limits: an oversized page is refused with a reason, an extraction over its time limit is stopped with one."""

from __future__ import annotations

import multiprocessing
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest

from extractors.articles import extract_article, run_with_timeout
from presswatch.errors import ExtractionError

URL = "https://news.example.org/long"
STORY = "<p>" + "The port authority said on Tuesday that container volumes rose for a third month. " * 4 + "</p>"


def small_page() -> str:
    return f"<html><body><article><h1>Port volumes</h1>{STORY * 3}</article></body></html>"


def slow_page(paragraphs: int = 3000) -> str:
    # Thousands of blocks: trafilatura needs seconds for this, far more than the limits used below.
    blocks = "".join(
        f"<div><p>Paragraph {i} of a long page, with words enough to count as prose.</p><a href='/x{i}'>{i}</a></div>"
        for i in range(paragraphs)
    )
    return f"<html><body><article>{blocks}</article></body></html>"


def test_a_page_over_the_size_cap_is_refused_with_a_reason() -> None:
    with pytest.raises(ExtractionError, match=r"page too large: .* \(limit 1,000 characters\)"):
        extract_article(small_page() * 2, URL, max_chars=1000)


def test_bytes_that_cannot_fit_the_cap_are_refused_before_decoding() -> None:
    with pytest.raises(ExtractionError, match="page too large"):
        extract_article(b"<html>" + b"x" * 5000 + b"</html>", URL, max_chars=1000)


def test_multibyte_text_is_capped_by_characters_not_bytes() -> None:
    paragraph = "<p>" + "阿里巴巴的股价在财报公布后上涨了百分之四。" * 12 + "</p>"
    chinese = f"<html><body><article>{paragraph * 3}</article></body></html>"
    article = extract_article(chinese.encode("utf-8"), URL, max_chars=len(chinese) + 10)
    assert "阿里巴巴" in article.text


def test_a_page_under_the_cap_is_extracted() -> None:
    assert extract_article(small_page(), URL, max_chars=100_000).text


def test_an_extraction_over_its_time_limit_is_stopped_with_a_reason() -> None:
    started = time.monotonic()
    with pytest.raises(ExtractionError, match=r"extraction took longer than 0.3 s"):
        extract_article(slow_page(), URL, timeout=0.3)
    assert time.monotonic() - started < 1.5


def test_the_time_limit_works_in_a_worker_thread() -> None:
    # Prefect runs tasks on worker threads, where signal-based timers are not available.
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(extract_article, slow_page(), URL, timeout=0.3)
        started = time.monotonic()
        with pytest.raises(ExtractionError, match="took longer than"):
            future.result(timeout=10)
        assert time.monotonic() - started < 1.5
        # The worker thread survives and serves the next page.
        assert pool.submit(extract_article, small_page(), URL, timeout=5).result(timeout=10).text


def test_the_time_limit_works_in_a_process_pool_worker() -> None:
    context = multiprocessing.get_context("spawn")  # as a process pool task runner starts its workers
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        future = pool.submit(extract_article, slow_page(), URL, timeout=0.3)
        with pytest.raises(ExtractionError, match="took longer than"):
            future.result(timeout=60)


def test_a_fast_extraction_under_a_time_limit_leaves_nothing_behind() -> None:
    threads = threading.active_count()
    article = extract_article(small_page(), URL, timeout=0.4)
    time.sleep(0.6)  # past the deadline: no stray exception may surface now
    assert article.text
    assert threading.active_count() == threads


def test_the_time_limit_is_not_swallowed_by_code_that_catches_every_exception() -> None:
    def stubborn() -> None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                sum(range(1000))
            except Exception:  # noqa: SIM105 - what careless third-party code does
                continue

    started = time.monotonic()
    with pytest.raises(ExtractionError, match="took longer than 0.2 s"):
        run_with_timeout(stubborn, 0.2)
    assert time.monotonic() - started < 1.0


def test_a_time_limit_must_be_positive() -> None:
    with pytest.raises(ValueError):
        run_with_timeout(lambda: None, 0)
