"""Through a real `prefect server start` and a real `presswatch serve`: schedules, API runs, overlap.

Deterministic on a loaded machine: a feed handler that blocks until the test releases it keeps the
scheduled monitoring run RUNNING for exactly as long as the test needs, so "a run is in progress" is a fact
the test controls, not a race against a sleep. Only Prefect's own scheduling gets generous waits.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import text
from werkzeug import Request, Response

from flows.deployments import stop
from storage.db import make_engine
from tests.prefect_api import api_call

FIXTURE = Path(__file__).resolve().parents[2] / "seeds" / "fixture"
PAGE = (FIXTURE / "jack-ma-comeback.html").read_bytes()
SEED_STORY = "https://www.pacificwire.example/business/2025/03/jack-ma-comeback-alibaba-ai"
OTHER_STORY = "https://www.pacificwire.example/business/2025/03/other-story"
SETTLED = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
pytestmark = pytest.mark.server


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll until `predicate` returns something truthy and return it; fail with `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def flow_run(api: str, run_id: str) -> dict[str, Any]:
    """The flow run as the API reports it."""
    run: dict[str, Any] = api_call(api, "GET", f"/flow_runs/{run_id}")
    return run


def settled_state(api: str, run_id: str, timeout: float, what: str) -> str:
    """Wait until the run reaches a final state and return its type."""
    return str(wait_for(lambda: (state := flow_run(api, run_id)["state"]["type"]) in SETTLED and state, timeout, what))


def monitor_runs(api: str, deployment_id: str, states: list[str]) -> list[dict[str, Any]]:
    """The deployment's flow runs currently in one of `states`."""
    body = {"deployments": {"id": {"any_": [deployment_id]}}, "flow_runs": {"state": {"type": {"any_": states}}}}
    runs: list[dict[str, Any]] = api_call(api, "POST", "/flow_runs/filter", body)
    return runs


class BlockingFeed:
    """A feed handler that holds every request until the test calls `release()`; `entered` says one arrived."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.released = threading.Event()

    def __call__(self, _request: Request) -> Response:
        self.entered.set()
        self.released.wait(600)  # a bound, so a failed test never leaves the server thread hanging for good
        body = b"<rss version='2.0'><channel><title>held</title></channel></rss>"
        return Response(body, 200, content_type="application/rss+xml")


@pytest.fixture
def blocking_feed() -> Iterator[tuple[HTTPServer, BlockingFeed]]:
    """A second loopback site whose one feed blocks until released."""
    handler = BlockingFeed()
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.expect_request("/held.xml").respond_with_handler(handler)
    server.start()
    try:
        yield server, handler
    finally:
        handler.released.set()
        server.clear()
        if server.is_running():
            server.stop()


def stored_urls(database: str) -> set[str]:
    """Canonical URLs stored so far (empty before the first run creates the schema)."""
    engine = make_engine(database)
    try:
        with engine.connect() as connection:
            return set(connection.scalars(text("SELECT canonical_url FROM articles")).all())
    except Exception:  # noqa: BLE001 - the schema appears with the first run
        return set()
    finally:
        engine.dispose()


def alive(process: subprocess.Popen[bytes], log: Path) -> bool:
    """True while `process` runs; once it has exited, fail at once with its output rather than time out later."""
    if process.poll() is not None:
        raise AssertionError(f"presswatch serve exited with {process.returncode}:\n{log.read_text(errors='replace')}")
    return True


def start_serve(api: str, feeds: Path, database: str, log: Path) -> subprocess.Popen[bytes]:
    """`presswatch serve` against the test server, with a 20 s monitoring interval and its output in `log`."""
    env = {
        **os.environ,
        "PREFECT_API_URL": api,
        "PRESSWATCH_FEEDS_FILE": str(feeds),
        "PRESSWATCH_DATABASE_URL": database,
        "PRESSWATCH_ALLOWED_NETWORKS": "127.0.0.0/8",
        "PRESSWATCH_MONITOR_INTERVAL_SECONDS": "20",
        # The held feed answers only when the test says so: no client-side time-out may end the wait first.
        "PRESSWATCH_READ_TIMEOUT": "900",
        "PRESSWATCH_TOTAL_TIMEOUT": "900",
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
    }
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "flows.cli", "serve", "--limit", "4"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def test_serve_runs_schedules_api_runs_and_cancels_overlaps(
    prefect_server: str, httpserver: HTTPServer, blocking_feed: tuple[HTTPServer, BlockingFeed], tmp_path: Path
) -> None:
    api = prefect_server
    held_site, held = blocking_feed
    httpserver.expect_request("/feed.xml").respond_with_data(
        (FIXTURE / "feed.xml").read_bytes(), content_type="application/rss+xml"
    )
    httpserver.expect_request("/jack-ma-comeback.html").respond_with_data(PAGE, content_type="text/html")
    httpserver.expect_request("/other.html").respond_with_data(
        PAGE.replace(b"jack-ma-comeback-alibaba-ai", b"other-story"), content_type="text/html"
    )
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f"feeds:\n  - url: {httpserver.url_for('/feed.xml')}\n  - url: {held_site.url_for('/held.xml')}\n")
    database = f"sqlite:///{tmp_path / 'served.db'}"
    log = tmp_path / "serve.log"
    serve = start_serve(api, feeds, database, log)
    monitor: dict[str, Any] = {}
    try:
        # 1. A scheduled run starts by itself and reads the feeds; the held feed keeps it RUNNING.
        wait_for(lambda: alive(serve, log) and held.entered.is_set(), 240, "a scheduled run to read the feeds")
        monitor.update(api_call(api, "GET", "/deployments/name/monitor-feeds/monitor-feeds"))
        [scheduled] = wait_for(lambda: monitor_runs(api, monitor["id"], ["RUNNING"]), 60, "the held run as RUNNING")
        assert scheduled["auto_scheduled"] is True

        # 2. A run that would overlap it is cancelled, not queued (the held run is certainly still running).
        second = api_call(api, "POST", f"/deployments/{monitor['id']}/create_flow_run", {})
        assert settled_state(api, second["id"], 180, "the overlapping run to settle") == "CANCELLED"
        assert flow_run(api, scheduled["id"])["state"]["type"] == "RUNNING"

        # 3. A run triggered through the API with parameters completes and stores exactly its story.
        ingest = api_call(api, "GET", "/deployments/name/ingest-urls/ingest-urls")
        page = httpserver.url_for("/other.html")
        run = api_call(api, "POST", f"/deployments/{ingest['id']}/create_flow_run", {"parameters": {"urls": [page]}})
        assert settled_state(api, run["id"], 180, "the ingest run") == "COMPLETED", log.read_text(errors="replace")
        assert flow_run(api, run["id"])["parameters"] == {"urls": [page]}
        assert stored_urls(database) == {OTHER_STORY}

        # 4. Released, the scheduled run finishes and stores the seed feed's story.
        held.released.set()
        assert settled_state(api, scheduled["id"], 180, "the released run") == "COMPLETED"
        assert stored_urls(database) == {OTHER_STORY, SEED_STORY}
    finally:
        held.released.set()
        stop(serve)
        if monitor:
            # The schedule outlives `serve` (pause_on_shutdown=False): drop it, so later server tests start clean.
            api_call(api, "DELETE", f"/deployments/{monitor['id']}")
