"""`monitor-shard`: shards split by host, cover every feed once, and are safe in any order and twice."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from sqlalchemy import text

from flows.shards import monitor_shard, shard_of, split_feeds
from presswatch.errors import ConfigError
from presswatch.feedlist import FeedSource
from storage.db import make_engine

PAGE = (Path(__file__).resolve().parents[2] / "seeds" / "fixture" / "jack-ma-comeback.html").read_bytes()


def test_a_host_always_lands_in_the_same_shard_whatever_its_port_or_path() -> None:
    urls = [
        f"https://News{n}.example.com:{port}/feeds/{path}.xml"
        for n in range(40)
        for port in (443, 8443)
        for path in "ab"
    ]
    for shards in (1, 2, 3, 7, 64):
        by_host: dict[str, set[int]] = {}
        for url in urls:
            by_host.setdefault(url.split("//")[1].split(":")[0].lower(), set()).add(shard_of(url, shards))
        assert all(len(found) == 1 for found in by_host.values())
        assert all(0 <= shard_of(url, shards) < shards for url in urls)
    assert shard_of("https://NEWS1.example.com/x", 7) == shard_of("http://news1.example.com:81/y", 7)
    # Stable across processes and machines: a fixed hash, not Python's per-process salted hash().
    assert [shard_of(f"https://news{n}.example.com/", 4) for n in range(8)] == [2, 1, 1, 3, 2, 2, 3, 3]


def test_the_shards_split_every_feed_exactly_once() -> None:
    sources = [FeedSource(f"https://site{n % 13}.example.org/feed{n}.xml", None) for n in range(200)]
    parts = split_feeds(sources, 5)
    assert sorted(s.url for part in parts for s in part) == sorted(s.url for s in sources)
    assert sum(1 for part in parts if part) > 1


def _story(server: HTTPServer, name: str) -> str:
    """Serve the seed article under a canonical URL of its own (the seed's canonical link is replaced)."""
    url = server.url_for(f"/{name}.html")
    html = re.sub(rb'<link rel="canonical" href="[^"]*"', f'<link rel="canonical" href="{url}"'.encode(), PAGE)
    server.expect_request(f"/{name}.html").respond_with_data(html, content_type="text/html; charset=utf-8")
    return url


@pytest.fixture
def two_hosts() -> Iterator[list[HTTPServer]]:
    """Two loopback sites whose host names fall into different shards of 2."""
    hosts = [f"127.0.0.{n}" for n in range(31, 60)]
    first = hosts[0]
    second = next(h for h in hosts if shard_of(f"http://{h}/", 2) != shard_of(f"http://{first}/", 2))
    servers = [HTTPServer(host=first, port=0), HTTPServer(host=second, port=0)]
    for server in servers:
        server.start()
    yield servers
    for server in servers:
        server.clear()
        server.stop()


def test_shards_store_their_own_feeds_and_a_shard_run_twice_stores_nothing_new(
    two_hosts: list[HTTPServer], tmp_path: Path, sqlite_url: str
) -> None:
    feeds, stories = [], {}
    for server in two_hosts:
        for n in range(2):
            story = _story(server, f"story-{n}")
            server.expect_request(f"/feed-{n}.xml").respond_with_data(
                f"<rss version='2.0'><channel><title>t</title><item><title>s</title><link>{story}</link></item>"
                "</channel></rss>",
                content_type="application/rss+xml",
            )
            feeds.append(server.url_for(f"/feed-{n}.xml"))
            stories[feeds[-1]] = story
    feeds_file = tmp_path / "feeds.yaml"
    feeds_file.write_text("feeds:\n" + "".join(f"  - url: {u}\n" for u in feeds), encoding="utf-8")
    database = SecretStr(sqlite_url)
    order = sorted(range(2), key=lambda shard: -shard)  # the second shard first: order does not matter
    engine = make_engine(sqlite_url)

    def rows(sql: str) -> list[tuple[Any, ...]]:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]

    first = monitor_shard(shard=order[0], shards=2, feeds_file=str(feeds_file), database_url=database)
    mine = [u for u in feeds if shard_of(u, 2) == order[0]]
    assert first.stories_stored == 2 and first.feeds_read == 2
    assert sorted(url for (url,) in rows("SELECT url FROM feeds")) == sorted(mine)  # no rows for other shards
    monitor_shard(shard=order[1], shards=2, feeds_file=str(feeds_file), database_url=database)
    feeds_after = rows("SELECT url, etag, last_modified, body_hash, last_status FROM feeds ORDER BY url")
    assert len(rows("SELECT id FROM articles")) == 4
    assert {url for (url,) in rows("SELECT canonical_url FROM articles")} == set(stories.values())

    again = monitor_shard(shard=order[0], shards=2, feeds_file=str(feeds_file), database_url=database)
    assert again.stories_stored == 0 and again.feeds_not_modified == 2  # same bodies: "unchanged"
    assert len(rows("SELECT id FROM articles")) == 4
    changed = rows("SELECT url, etag, last_modified, body_hash, last_status FROM feeds ORDER BY url")
    kept = [row for row in changed if row[0] not in mine]
    assert kept == [row for row in feeds_after if row[0] not in mine]  # the other shard's feeds untouched
    assert [row[:4] for row in changed] == [row[:4] for row in feeds_after]  # validators kept on a re-read

    ids = [feed_id for (feed_id,) in rows("SELECT id FROM feeds ORDER BY id")]
    by_ids = monitor_shard(feed_ids=ids, feeds_file=str(feeds_file), database_url=database)
    assert by_ids.feeds_not_modified == 4 and by_ids.stories_stored == 0
    engine.dispose()


def test_a_shard_outside_the_count_is_refused_with_a_reason(tmp_path: Path, sqlite_url: str) -> None:
    feeds_file = tmp_path / "feeds.yaml"
    feeds_file.write_text("feeds:\n  - url: http://127.0.0.1:9/feed.xml\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="shard below 2"):
        monitor_shard(shard=2, shards=2, feeds_file=str(feeds_file), database_url=SecretStr(sqlite_url))


def test_a_cycle_whose_shard_runs_never_start_ends_failed_and_names_them(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.client.schemas.sorting import FlowRunSort

    from flows.shards import monitor_cycle
    from presswatch.errors import PresswatchError

    monkeypatch.setenv("PRESSWATCH_DATABASE_URL", sqlite_url)  # the cycle's database is the worker's setting
    # A deployment no worker serves: its runs stay SCHEDULED, so the cycle must give up at its deadline.
    deployment: Any = monitor_shard.to_deployment("unserved-shards")  # sync here; typed sync-or-async
    deployment_id = deployment.apply()
    assert isinstance(deployment_id, UUID)  # called from sync code: the sync implementation ran
    hosts = [f"http://news{n}.example.com/feed.xml" for n in range(12)]
    expected = sorted(i for i, part in enumerate(split_feeds([FeedSource(u, None) for u in hosts], 3)) if part)
    feeds_file = tmp_path / "feeds.yaml"
    feeds_file.write_text("feeds:\n" + "".join(f"  - url: {u}\n" for u in hosts), encoding="utf-8")
    with pytest.raises(PresswatchError, match=r"did not complete \(shard-\d-of-3: SCHEDULED"):
        monitor_cycle(
            shards=3,
            feeds_file=str(feeds_file),
            deployment="monitor-shard/unserved-shards",
            wait_seconds=10,
        )
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
            sort=FlowRunSort.ID_DESC,
            limit=10,
            offset=0,
        )
    assert sorted(run.parameters["shard"] for run in runs) == expected
    for run in runs:
        assert run.name == f"shard-{run.parameters['shard'] + 1}-of-3"
        assert run.parameters["shards"] == 3 and run.parameters["feeds_file"] == str(feeds_file)
        assert "database_url" not in run.parameters  # a secret never travels in stored parameters
        assert run.state is not None and run.state.type.value == "SCHEDULED"
