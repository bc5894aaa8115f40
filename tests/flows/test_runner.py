"""The pass's link workers: batches run in worker processes (and here while they start), every link once."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from prefect import flow
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from sqlalchemy import text

from fetcher import host_key
from flows.monitor import prepare_database
from flows.runner import LinkWorkers
from flows.steps import BatchReport, LinkJob, PassConfig, pass_config
from presswatch.errors import ConfigError
from presswatch.settings import load_settings
from storage.db import make_engine

FIXTURE = Path(__file__).resolve().parents[2] / "seeds" / "fixture"


def pass_setup(httpserver: HTTPServer, database_url: str, pages: int) -> tuple[PassConfig, list[LinkJob]]:
    """A migrated database, the pass's configuration, and one job per page served over loopback."""
    page = (FIXTURE / "jack-ma-comeback.html").read_bytes()
    jobs = []
    for n in range(pages):
        httpserver.expect_request(f"/story-{n}.html").respond_with_data(
            page.replace(b"jack-ma-comeback-alibaba-ai", f"story-{n}".encode()), content_type="text/html"
        )
        jobs.append(LinkJob(httpserver.url_for(f"/story-{n}.html"), None))
    settings = load_settings(database_url=SecretStr(database_url))
    prepare_database(settings)
    config = replace(pass_config(settings), trusted_hosts=frozenset({host_key(httpserver.url_for("/"))}))
    return config, jobs


@flow(name="link-workers-test")
def run_batches(config: PassConfig, workers: int, batches: list[list[LinkJob]]) -> list[BatchReport | BaseException]:
    """The batches through the pass's link workers, inside a flow run as in a pass."""
    with LinkWorkers(config, workers) as link_workers:
        return link_workers.run(batches)


def stored_urls(database_url: str) -> list[str]:
    """Every stored story's link, one row per story."""
    engine = make_engine(database_url)
    with engine.connect() as connection:
        urls = list(connection.execute(text("SELECT url FROM articles ORDER BY url")).scalars())
    engine.dispose()
    return urls


def test_every_batch_is_stored_once_by_worker_processes_and_this_one(httpserver: HTTPServer, sqlite_url: str) -> None:
    config, jobs = pass_setup(httpserver, sqlite_url, 8)
    batches = [jobs[start : start + 2] for start in range(0, len(jobs), 2)]
    reports = run_batches(config, 2, batches)
    assert all(isinstance(report, BatchReport) for report in reports)
    assert [len(report.stored_ids) for report in reports if isinstance(report, BatchReport)] == [2, 2, 2, 2]
    assert stored_urls(sqlite_url) == sorted(job.link for job in jobs)
    assert len(httpserver.log) == 8  # each page downloaded once: no batch ran both here and in a worker


def test_a_single_worker_runs_the_batches_in_this_process(httpserver: HTTPServer, sqlite_url: str) -> None:
    config, jobs = pass_setup(httpserver, sqlite_url, 3)
    reports = run_batches(config, 1, [jobs[:2], jobs[2:]])
    assert [len(r.stored_ids) for r in reports if isinstance(r, BatchReport)] == [2, 1]
    assert len(stored_urls(sqlite_url)) == 3


def test_a_broken_watchlist_fails_each_batch_with_its_reason_not_the_worker_pool(
    tmp_path: Path, sqlite_url: str
) -> None:
    config = PassConfig(
        database_url=sqlite_url,
        watchlist_file=str(tmp_path / "missing.yaml"),
        policy=pass_config(load_settings()).policy,
    )
    batches = [[LinkJob(f"http://127.0.0.1:9/{n}.html", None)] for n in range(4)]
    outcomes = run_batches(config, 2, batches)
    # Had the workers' warm-up raised, the pool would be broken and its batches would say only that.
    assert [type(outcome) for outcome in outcomes] == [ConfigError] * 4
    assert all("missing.yaml" in str(outcome) for outcome in outcomes)


PRELOAD_PROBE = "import flows.preload, extractors.tagging as t; print(t._matchers.cache_info().currsize)"  # noqa: SLF001


def test_the_fork_server_preload_builds_the_configured_watchlists_matchers(tmp_path: Path) -> None:
    env = {**os.environ, "PRESSWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}"}
    done = subprocess.run([sys.executable, "-c", PRELOAD_PROBE], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["1"]  # every worker forked from the server starts with them built


def test_the_fork_server_preload_survives_a_broken_watchlist(tmp_path: Path) -> None:
    broken = tmp_path / "watchlist.yaml"
    broken.write_text("entities: [unclosed\n")
    env = {**os.environ, "PRESSWATCH_WATCHLIST_FILE": str(broken)}
    done = subprocess.run([sys.executable, "-c", PRELOAD_PROBE], env=env, capture_output=True, text=True)
    assert (done.returncode, done.stdout.split()) == (0, ["0"])  # nothing warmed, and the server still starts
