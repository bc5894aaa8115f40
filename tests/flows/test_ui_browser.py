"""What a user does in the Prefect UI: start a custom ingest-urls run from the form and see the story land."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import text

from flows.deployments import stop
from storage.db import make_engine

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PAGE = (Path(__file__).resolve().parents[2] / "seeds" / "fixture" / "jack-ma-comeback.html").read_bytes()
pytestmark = pytest.mark.server
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def wait_for_story(database: str, timeout: float) -> list[str]:
    """The canonical URLs stored, once there is at least one (or [] when the time is up)."""
    engine = make_engine(database)
    deadline = time.monotonic() + timeout
    urls: list[str] = []
    try:
        while time.monotonic() < deadline and not urls:
            try:
                with engine.connect() as connection:
                    urls = list(connection.scalars(text("SELECT canonical_url FROM articles")).all())
            except Exception:  # noqa: BLE001 - the schema appears with the run's first step
                urls = []
            if not urls:
                time.sleep(2)
    finally:
        engine.dispose()
    return urls


def test_custom_run_from_the_ui_form_stores_the_story(
    prefect_server: str, httpserver: HTTPServer, tmp_path: Path
) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run installs it)")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    httpserver.expect_request("/ui-story.html").respond_with_data(
        PAGE.replace(b"jack-ma-comeback-alibaba-ai", b"typed-into-the-ui"), content_type="text/html"
    )
    database = f"sqlite:///{tmp_path / 'ui.db'}"
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_server,
        "PRESSWATCH_DATABASE_URL": database,
        "PRESSWATCH_ALLOWED_NETWORKS": "127.0.0.0/8",
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
        "PRESSWATCH_FEEDS_FILE": str(tmp_path / "none.yaml"),
    }
    serve = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    ui = prefect_server.removesuffix("/api")
    screenshot = tmp_path / "completed-run.png"
    try:
        with playwright.sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(90_000)  # a loaded 2-core machine renders slowly
            page.goto(ui + "/")
            page.get_by_role("link", name="Deployments").click()
            page.get_by_role("link", name="ingest-urls").first.click(timeout=60_000)
            page.get_by_role("button", name="Run").first.click()
            page.get_by_text("Custom run").click()
            page.get_by_role("button", name="Add item").click()
            page.locator("textarea").first.fill(httpserver.url_for("/ui-story.html"))
            page.get_by_role("button", name="Submit").click()
            # Wait for the story itself: the page may list an earlier, completed run of the same deployment.
            urls = wait_for_story(database, timeout=300)
            page.reload()
            page.get_by_text("Completed").first.wait_for()
            page.screenshot(path=str(screenshot), full_page=True)
            browser.close()
    finally:
        stop(serve)
    assert urls == ["https://www.pacificwire.example/business/2025/03/typed-into-the-ui"]
    assert screenshot.stat().st_size > 10_000
    print(f"screenshot of the completed run: {screenshot}")
