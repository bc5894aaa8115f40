"""The production topology on one machine: a Prefect server, a process work pool, two `prefect worker`
processes, presswatch on PostgreSQL, and a monitoring cycle split into shards over a few hundred feeds."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from pytest_httpserver import HTTPServer
from sqlalchemy import text
from werkzeug import Request, Response

from flows.shards import split_feeds
from presswatch.feedlist import FeedSource
from storage.db import make_engine
from tests.prefect_api import api_call

REPO = Path(__file__).resolve().parents[2]
HOSTS = [f"127.0.0.{n}" for n in range(11, 23)]  # 12 loopback hosts, so host-hashed shards all get feeds
FEEDS_PER_HOST = 25  # 300 feeds; feed j lists 1 or 2 new stories
SHARDS = 4
POOL = "presswatch-topology"
WORKERS = ("worker-a", "worker-b")
pytestmark = [pytest.mark.server, pytest.mark.postgres]


def page(url: str, number: int) -> bytes:
    """A small news page with its own canonical URL and a watched company in it."""
    rival = ("Tencent", "JD.com", "Pinduoduo", "Huawei", "Baidu")[number % 5]
    para = (
        f"Alibaba and {rival} are competing for cloud customers across Asia, story {number} reports. "
        "Analysts say prices for computing capacity fell again this quarter as both companies cut margins "
        "to win contracts from banks, retailers and logistics firms that are moving their systems online."
    )
    body = "".join(
        f"<p>{para} Paragraph {i} adds detail on pricing, staffing and regional demand.</p>" for i in range(5)
    )
    return (
        f'<html><head><link rel="canonical" href="{url}"><title>Cloud price war, part {number}</title></head>'
        f"<body><article><h1>Cloud price war, part {number}</h1>{body}</article></body></html>"
    ).encode()


def feed(title: str, links: list[str]) -> bytes:
    """An RSS 2.0 feed listing the links."""
    items = "".join(f"<item><title>Story {i}</title><link>{link}</link></item>" for i, link in enumerate(links))
    return f"<rss version='2.0'><channel><title>{title}</title>{items}</channel></rss>".encode()


@dataclass
class Sites:
    """The loopback sites: feed URLs, the stories they list, and the stories they list once `publish()` is called."""

    feed_urls: list[str] = field(default_factory=list)
    story_urls: set[str] = field(default_factory=set)
    late_urls: set[str] = field(default_factory=set)
    published: threading.Event = field(default_factory=threading.Event)

    def serve_feed(self, server: HTTPServer, j: int, links: list[str], late: list[str]) -> None:
        """Serve feed j: its links, plus the late ones after `publish()`."""
        title = f"{server.host} feed {j}"

        def handler(_request: Request) -> Response:
            listed = links + late if self.published.is_set() else links
            return Response(feed(title, listed), 200, content_type="application/rss+xml")

        server.expect_request(f"/feed-{j}.xml").respond_with_handler(handler)
        self.feed_urls.append(server.url_for(f"/feed-{j}.xml"))


@pytest.fixture
def sites() -> Iterator[Sites]:
    """Twelve loopback news sites serving 300 feeds (1-2 stories each; every fifth feed gets one more later)."""
    servers: list[HTTPServer] = []
    found = Sites()
    try:
        for host in HOSTS:
            server = HTTPServer(host=host, port=0, threaded=True)
            server.start()
            servers.append(server)
            for j in range(FEEDS_PER_HOST):
                links = [server.url_for(f"/story-{j}-{k}.html") for k in range(1 + j % 2)]
                late = [server.url_for(f"/story-{j}-late.html")] if j % 5 == 0 else []
                for link in links + late:
                    server.expect_request(urlsplit(link).path).respond_with_data(
                        page(link, len(found.story_urls) + len(found.late_urls)),
                        content_type="text/html; charset=utf-8",
                    )
                    (found.late_urls if link in late else found.story_urls).add(link)
                found.serve_feed(server, j, links, late)
        yield found
    finally:
        for server in servers:
            server.clear()
            if server.is_running():
                server.stop()


def deploy(api: str, tmp_path: Path) -> list[dict[str, Any]]:
    """`prefect deploy` the repository's monitor-shard and monitor-cycle onto the test pool, schedules left out."""
    project = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))
    chosen = [d for d in project["deployments"] if d["name"] in ("monitor-shard", "monitor-cycle")]
    for deployment in chosen:
        deployment.pop("schedules", None)  # this test starts its one cycle itself
        deployment["work_pool"] = {**deployment["work_pool"], "name": POOL}
    project["deployments"] = chosen
    project_file = tmp_path / "prefect.yaml"
    project_file.write_text(yaml.safe_dump(project, sort_keys=False), encoding="utf-8")
    env = {**os.environ, "PREFECT_API_URL": api, "PRESSWATCH_HOME": str(REPO)}
    # What the README tells a user to run (fastapi<0.151 is pinned: with 0.151+ this stopped after one deployment).
    command = [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all", "--prefect-file", str(project_file)]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"prefect deploy failed:\n{(done.stdout + done.stderr)[-4000:]}"
    deployed = []
    for name in ("monitor-shard", "monitor-cycle"):
        deployment = api_call(api, "GET", f"/deployments/name/{name}/{name}")
        assert deployment["work_pool_name"] == POOL and deployment["entrypoint"].startswith("flows/shards.py:")
        deployed.append(deployment)
    return deployed


def start_worker(name: str, api: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A `prefect worker start` on the test pool, in a process group of its own (its flow runs die with it)."""
    home = log.with_suffix(".home")
    home.mkdir()
    command = [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL, "--name", name, "--limit", "2"]
    with log.open("wb") as out:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command,
            cwd=REPO,
            env={**env, "PREFECT_HOME": str(home), "PREFECT_API_URL": api},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_worker(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the worker's process group, then SIGKILL it if it will not go."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_online(api: str, timeout: float, logs: list[Path]) -> None:
    """Wait until both workers have sent a heartbeat, so that neither can take every shard by starting first."""
    deadline = time.monotonic() + timeout
    online: set[str] = set()
    while time.monotonic() < deadline:
        workers = api_call(api, "POST", f"/work_pools/{POOL}/workers/filter", {"limit": 10, "offset": 0})
        online = {w["name"] for w in workers if w["status"] == "ONLINE"}
        if online >= set(WORKERS):
            return
        time.sleep(1)
    tails = "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-2000:]}" for log in logs)
    raise AssertionError(f"only {sorted(online)} of {WORKERS} online after {timeout:.0f} s\n{tails}")


def settle(api: str, run_id: str, timeout: float, logs: list[Path]) -> dict[str, Any]:
    """Wait until a flow run is final; fail with its state and the workers' last log lines otherwise."""
    deadline = time.monotonic() + timeout
    run: dict[str, Any] = {}
    while time.monotonic() < deadline:
        run = api_call(api, "GET", f"/flow_runs/{run_id}")
        if run["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            return run
        time.sleep(2)
    tails = "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-2500:]}" for log in logs)
    raise AssertionError(f"cycle run still {run.get('state', {}).get('type')} after {timeout:.0f} s\n{tails}")


def submitting_workers(api: str, run_ids: list[str]) -> dict[str, str]:
    """Which worker submitted each flow run, from the worker's own log line in the run's logs."""
    logs = api_call(api, "POST", "/logs/filter", {"logs": {"flow_run_id": {"any_": run_ids}}, "limit": 200})
    found = {}
    for entry in logs:
        match = re.search(r"Worker '([^']+)' submitting flow run", entry["message"])
        if match:
            found[entry["flow_run_id"]] = match.group(1)
    return found


def stored_stories(database: str) -> dict[str, int]:
    """How many rows each canonical URL has in `articles`."""
    engine = make_engine(database)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT canonical_url, count(*) FROM articles GROUP BY 1")).all()
            return {str(url): int(n) for url, n in rows}
    finally:
        engine.dispose()


def feed_records(database: str) -> tuple[dict[str, str], dict[int, int]]:
    """Each feed's last status, and how many `ok` fetch events each feed has."""
    engine = make_engine(database)
    try:
        with engine.connect() as connection:
            statuses = dict(connection.execute(text("SELECT url, last_status FROM feeds")).tuples().all())
            reads = connection.execute(
                text(
                    "SELECT feed_id, count(*) FROM fetch_events WHERE feed_id IS NOT NULL AND article_id IS NULL "
                    "AND outcome = 'ok' GROUP BY 1"
                )
            )
            return statuses, dict(reads.tuples().all())
    finally:
        engine.dispose()


def artifact_rows(api: str, key: str, run_ids: list[str]) -> list[dict[str, Any]]:
    """The rows of the table artifacts with this key published by these flow runs."""
    body = {"artifacts": {"key": {"any_": [key]}, "flow_run_id": {"any_": run_ids}}, "limit": 200, "offset": 0}
    return [
        row for artifact in api_call(api, "POST", "/artifacts/filter", body) for row in json.loads(artifact["data"])
    ]


def start_run(api: str, deployment: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """Create a flow run of a deployment through the API, as the UI's Run button does."""
    result: dict[str, Any] = api_call(
        api, "POST", f"/deployments/{deployment['id']}/create_flow_run", {"parameters": parameters}
    )
    return result


def test_a_cycle_runs_its_shards_on_both_workers_and_stores_every_story_once(
    prefect_server: str, sites: Sites, empty_postgres_url: str, tmp_path: Path
) -> None:
    api = prefect_server
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds:\n" + "".join(f"  - url: {url}\n" for url in sites.feed_urls), encoding="utf-8")
    parts = split_feeds([FeedSource(u, None) for u in sites.feed_urls], SHARDS)
    expected_shards = [i for i, part in enumerate(parts) if part]
    assert len(expected_shards) >= 2, "the test sites must spread over at least two shards"
    api_call(api, "POST", "/work_pools/", {"name": POOL, "type": "process"})
    env = {
        **os.environ,
        "PRESSWATCH_HOME": str(REPO),  # prefect.yaml's pull step: the flow runs start in the checkout
        "PRESSWATCH_DATABASE_URL": empty_postgres_url,
        "PRESSWATCH_FEEDS_FILE": str(feeds),
        "PRESSWATCH_WORKERS": "1",  # small pages: worker processes would cost more than they save on 2 cores
        "PREFECT_WORKER_QUERY_SECONDS": "2",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    logs = [tmp_path / f"{name}.log" for name in WORKERS]
    workers = []
    deployments: list[dict[str, Any]] = []
    try:
        deployments = deploy(api, tmp_path)
        workers = [start_worker(name, api, env, log) for name, log in zip(WORKERS, logs, strict=True)]
        wait_online(api, 120, logs)
        shard_deployment, cycle_deployment = deployments

        # 1. One cycle: every shard runs, on both workers; every story stored once, every feed read once.
        cycle = start_run(api, cycle_deployment, {"shards": SHARDS})
        state = settle(api, cycle["id"], 420, logs)["state"]
        assert state["type"] == "COMPLETED", (state, [log.read_text()[-3000:] for log in logs])
        shard_filter = {"deployments": {"id": {"any_": [shard_deployment["id"]]}}, "limit": 200, "offset": 0}
        shard_runs = api_call(api, "POST", "/flow_runs/filter", shard_filter)
        assert sorted(run["parameters"]["shard"] for run in shard_runs) == expected_shards
        assert {run["state"]["type"] for run in shard_runs} == {"COMPLETED"}
        by_worker = submitting_workers(api, [run["id"] for run in shard_runs])
        assert len(by_worker) == len(shard_runs), f"no worker log line for some shard runs: {by_worker}"
        assert set(by_worker.values()) == set(WORKERS), f"shards by worker: {by_worker}"
        stored = stored_stories(empty_postgres_url)
        assert set(stored) == sites.story_urls and set(stored.values()) == {1}
        statuses, reads = feed_records(empty_postgres_url)
        assert sorted(statuses) == sorted(sites.feed_urls) and set(statuses.values()) == {"ok"}
        assert len(reads) == len(sites.feed_urls) and set(reads.values()) == {1}, "each feed read exactly once"
        rows = artifact_rows(api, "monitor-cycle-shards", [cycle["id"]])
        assert sum(row["stories_stored"] for row in rows) == len(sites.story_urls)
        assert sum(row["feeds_read"] for row in rows) == len(sites.feed_urls)

        # 2. New stories appear, and the same shard (every feed: 1 shard) runs twice at once.
        sites.published.set()
        twins = [start_run(api, shard_deployment, {"shard": 0, "shards": 1}) for _ in range(2)]
        for twin in twins:
            state = settle(api, twin["id"], 420, logs)["state"]
            assert state["type"] == "COMPLETED", (state, [log.read_text()[-3000:] for log in logs])
        stored = stored_stories(empty_postgres_url)
        assert set(stored) == sites.story_urls | sites.late_urls and set(stored.values()) == {1}
        counts = artifact_rows(api, "shard-summary", [twin["id"] for twin in twins])
        assert len(counts) == 2 and sum(c["stories_stored"] for c in counts) == len(sites.late_urls)
    finally:
        for worker in workers:
            stop_worker(worker)
        for deployment in deployments:
            api_call(api, "DELETE", f"/deployments/{deployment['id']}")
        httpx.delete(f"{api}/work_pools/{POOL}", timeout=30)
