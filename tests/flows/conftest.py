"""Flow tests run under Prefect's test harness (one per session: it takes ~10 s to start)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

FIXTURE = Path(__file__).resolve().parents[2] / "seeds" / "fixture"


@pytest.fixture(scope="session", autouse=True)
def prefect_harness() -> Iterator[None]:
    """A temporary Prefect API and database for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture
def seed_site(httpserver: HTTPServer) -> HTTPServer:
    """The seed feed and page served over loopback, as a news site would."""
    httpserver.expect_request("/feed.xml").respond_with_data(
        (FIXTURE / "feed.xml").read_bytes(), content_type="application/rss+xml", headers={"ETag": '"seed-v1"'}
    )
    httpserver.expect_request("/jack-ma-comeback.html").respond_with_data(
        (FIXTURE / "jack-ma-comeback.html").read_bytes(), content_type="text/html; charset=utf-8"
    )
    return httpserver


@pytest.fixture
def feeds_file(tmp_path: Path) -> Callable[..., Path]:
    """Write a feeds file listing the given URLs and return its path."""

    def write(*urls: str) -> Path:
        path = tmp_path / "feeds.yaml"
        path.write_text("feeds:\n" + "".join(f"  - url: {url}\n" for url in urls), encoding="utf-8")
        return path

    return write
