"""Flow tests run under Prefect's test harness (one per session: it takes ~10 s to start)."""

from __future__ import annotations

import os
import subprocess
import sys
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


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prefect server on a free loopback port with its own PREFECT_HOME (started once per session)."""
    from flows.deployments import free_port, stop, wait_healthy

    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
    env.pop("PREFECT_API_URL", None)
    env["PREFECT_UI_API_URL"] = f"http://127.0.0.1:{port}/api"
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    api = f"http://127.0.0.1:{port}/api"
    try:
        wait_healthy(api, server)
        yield api
    finally:
        stop(server)
