"""10,000 feeds in one monitoring cycle (issue 9): wall time, stages, task runs and per-host concurrency.

Serves N feeds (default 10,000) over loopback from many distinct hosts: `--addresses` addresses across
127.0.0.0/8 (127.0.1.1, 127.0.1.2, ...), `--ports` ports each, split over `--servers` server processes of
their own (raw asyncio, keep-alive, `--latency-ms` before each answer, like a server across a network), so
serving never competes with the pass for the GIL; their CPU seconds are reported apart. Each feed lists
`--items` links into a pool of `--pool` small article pages on the same hosts.

Cycles, each a real `monitor_feeds` flow run (ephemeral Prefect) into one fresh SQLite database:

- prime: everything is new (stores the pool's pages, primes ETags and body hashes); not a measured target;
- typical: most feeds answer 304, every `--ignore-every`-th ignores conditional GET and answers 200 with the
  same body, every `--new-every`-th has one new item (a new article page to download, extract and store);
- nothing: nothing changed (304s, and 200s with unchanged bodies);
- everything: every feed answers 200 with a new body, its entries already stored (polling and parsing only).

Prints wall and CPU seconds per cycle, the pass's stage times, Prefect task runs per cycle (from Prefect's
own records), the most requests in flight per host (address) and per host:port the servers saw, and the
ratio nothing / everything.

    .venv/bin/python benchmarks/feed_cycle.py                 # 10,000 feeds, 250 addresses x 4 ports
    .venv/bin/python benchmarks/feed_cycle.py --feeds 2000 --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from benchmarks.probes import TreeProbe  # noqa: E402 - after the path is set

CYCLES = ("prime", "typical", "nothing", "everything")
_EPOCH = datetime(2026, 11, 1, tzinfo=UTC)
_COMPANIES = ("Alibaba", "Tencent", "JD.com", "Pinduoduo", "Huawei", "Baidu", "Meituan", "ByteDance", "Amazon")


@dataclass(frozen=True)
class SiteShape:
    """How many feeds, hosts and pages, and which feeds change how."""

    feeds: int = 10_000
    addresses: int = 250
    ports: int = 4
    servers: int = 2
    items: int = 5
    pool: int = 400
    latency_ms: float = 20.0
    new_every: int = 100
    ignore_every: int = 10


# --- the site: feeds and pages, in the server processes -------------------------------------------------


@dataclass
class FeedSite:
    """Every feed's version and extra items; renders feeds and article pages."""

    shape: SiteShape
    origins: list[str] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)
    extra: dict[int, list[str]] = field(default_factory=dict)

    def apply(self, cycle: str, number: int) -> None:
        """Change the feeds as cycle `cycle` (the `number`-th) wants."""
        if not self.versions:
            self.versions = [0] * self.shape.feeds
        if cycle == "typical":
            for feed in range(number % self.shape.new_every, self.shape.feeds, self.shape.new_every):
                self.extra.setdefault(feed, []).insert(0, f"n{feed}-{number}")
        elif cycle == "everything":
            self.versions = [version + 1 for version in self.versions]

    def feed(self, feed: int, if_none_match: str | None) -> tuple[int, bytes, str]:
        """Status, body and ETag of feed `feed` for a request that sent `if_none_match`."""
        extra = self.extra.get(feed, [])
        etag = f'"{feed}-{self.versions[feed]}-{len(extra)}"'
        honours_conditional_get = feed % self.shape.ignore_every != self.shape.ignore_every - 3
        if if_none_match == etag and honours_conditional_get:
            return 304, b"", etag
        origin = self.origins[feed % len(self.origins)]
        links = [(f"http://{origin}/a/{name}.html", name) for name in extra]
        for item in range(self.shape.items):
            page = (feed * 7 + item * 97) % self.shape.pool
            links.append((f"http://{self.origins[page % len(self.origins)]}/a/{page}.html", str(page)))
        built = format_datetime(_EPOCH + timedelta(hours=self.versions[feed]), usegmt=True)
        items = "".join(
            f"<item><title>Story {name}</title><link>{link}</link><guid>{link}</guid>"
            f"<pubDate>{format_datetime(_EPOCH, usegmt=True)}</pubDate><description>About {name}.</description></item>"
            for link, name in links
        )
        body = (
            f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Feed {feed}</title>'
            f"<link>http://{origin}/</link><description>Loopback feed {feed}</description>"
            f"<lastBuildDate>{built}</lastBuildDate>{items}</channel></rss>"
        )
        return 200, body.encode(), etag


def article_page(name: str, url: str) -> bytes:
    """A small news page about two watched companies, with its own URL as canonical."""
    seed = sum(map(ord, name))
    first, second = _COMPANIES[seed % len(_COMPANIES)], _COMPANIES[(seed // 3 + 1) % len(_COMPANIES)]
    paragraphs = "".join(
        f"<p>{first} said on Tuesday that its cloud unit would cut prices again, story {name} paragraph {n}, "
        f"as {second} and other rivals press into the same market with cheaper models and bigger data centres.</p>"
        for n in range(6)
    )
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="canonical" href="{url}">'
        f"<title>{first} and {second}: story {name}</title></head><body><header>Loopback Wire</header>"
        f"<article><h1>{first} and {second}: story {name}</h1>{paragraphs}</article><footer>(c)</footer></body></html>"
    ).encode()


@dataclass
class ServerStats:
    """What one server process saw since the last read."""

    in_flight: Counter[str] = field(default_factory=Counter)
    max_feed_per_address: int = 0
    max_feed_per_origin: int = 0
    max_page_per_origin: int = 0
    statuses: Counter[str] = field(default_factory=Counter)


class _Http(asyncio.Protocol):
    """A minimal HTTP/1.1 server connection: keep-alive, one request at a time, `latency` before each answer."""

    def __init__(self, site: FeedSite, stats: ServerStats, latency: float) -> None:
        self.site, self.stats, self.latency = site, stats, latency
        self.buffer = b""
        self.busy = False
        self.transport: asyncio.Transport | None = None
        self.address = self.origin = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        address, port = transport.get_extra_info("sockname")[:2]
        self.address, self.origin = address, f"{address}:{port}"

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._next()

    def _next(self) -> None:
        if self.busy or b"\r\n\r\n" not in self.buffer:
            return
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        path = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else "/"
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        kind = "feed" if path.startswith("/f/") else "page"
        self.busy = True
        stats = self.stats
        stats.in_flight[self.address + kind] += 1
        stats.in_flight[self.origin + kind] += 1
        if kind == "feed":
            stats.max_feed_per_address = max(stats.max_feed_per_address, stats.in_flight[self.address + kind])
            stats.max_feed_per_origin = max(stats.max_feed_per_origin, stats.in_flight[self.origin + kind])
        else:
            stats.max_page_per_origin = max(stats.max_page_per_origin, stats.in_flight[self.origin + kind])
        asyncio.get_running_loop().call_later(self.latency, self._answer, path, headers, kind)

    def _answer(self, path: str, headers: dict[str, str], kind: str) -> None:
        status, body, extra = 404, b"not here", ""
        if path.startswith("/f/") and path.endswith(".xml"):
            status, body, etag = self.site.feed(int(path[3:-4]), headers.get("if-none-match"))
            extra = f"ETag: {etag}\r\nContent-Type: application/rss+xml; charset=utf-8\r\n"
        elif path.startswith("/a/") and path.endswith(".html"):
            status, body = 200, article_page(path[3:-5], f"http://{headers.get('host', self.origin)}{path}")
            extra = "Content-Type: text/html; charset=utf-8\r\n"
        reason = {200: "OK", 304: "Not Modified", 404: "Not Found"}[status]
        self.stats.statuses[f"{kind} {status}"] += 1
        self.stats.in_flight[self.address + kind] -= 1
        self.stats.in_flight[self.origin + kind] -= 1
        if self.transport is not None and not self.transport.is_closing():
            length = "" if status == 304 else f"Content-Length: {len(body)}\r\n"
            self.transport.write(f"HTTP/1.1 {status} {reason}\r\n{extra}{length}\r\n".encode() + body)
        self.busy = False
        self._next()


def serve(addresses: list[str], shape: SiteShape, conn: Connection) -> None:
    """Server process: bind `shape.ports` ports on each address, then answer requests and commands."""
    asyncio.run(_serve(addresses, shape, conn))


async def _serve(addresses: list[str], shape: SiteShape, conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    site, stats = FeedSite(shape), ServerStats()
    servers = []
    for address in addresses:
        for _ in range(shape.ports):
            servers.append(
                await loop.create_server(lambda: _Http(site, stats, shape.latency_ms / 1000), address, 0, backlog=512)
            )
    conn.send([f"{s.sockets[0].getsockname()[0]}:{s.sockets[0].getsockname()[1]}" for s in servers])
    site.origins = conn.recv()
    stopped = loop.create_future()
    cpu = time.process_time()

    def command() -> None:
        nonlocal cpu
        message = conn.recv()
        if message[0] == "apply":
            site.apply(message[1], message[2])
            conn.send("ok")
        elif message[0] == "stats":
            now = time.process_time()
            conn.send({**stats.__dict__, "in_flight": None, "cpu_seconds": round(now - cpu, 2)})
            stats.max_feed_per_address = stats.max_feed_per_origin = stats.max_page_per_origin = 0
            stats.statuses = Counter()
            cpu = now
        else:
            stopped.set_result(None)

    loop.add_reader(conn.fileno(), command)
    await stopped
    for server in servers:
        server.close()


class Servers:
    """The server processes: started and bound, told what each cycle changes, asked what they saw."""

    def __init__(self, shape: SiteShape) -> None:
        """Bind every address and port (127.0.1.1 upwards) in `shape.servers` processes."""
        context = multiprocessing.get_context("spawn")
        addresses = [f"127.0.{1 + n // 250}.{1 + n % 250}" for n in range(shape.addresses)]
        self.pipes: list[Connection] = []
        self.processes = []
        for index in range(shape.servers):
            parent, child = context.Pipe()
            process = context.Process(target=serve, args=(addresses[index :: shape.servers], shape, child), daemon=True)
            process.start()
            self.pipes.append(parent)
            self.processes.append(process)
        self.origins = [origin for pipe in self.pipes for origin in pipe.recv()]
        for pipe in self.pipes:
            pipe.send(self.origins)

    def apply(self, cycle: str, number: int) -> None:
        """Change the feeds for the next cycle (every server renders every feed the same way)."""
        for pipe in self.pipes:
            pipe.send(("apply", cycle, number))
        for pipe in self.pipes:
            pipe.recv()

    def stats(self) -> dict[str, Any]:
        """What the servers saw since the last call, merged."""
        for pipe in self.pipes:
            pipe.send(("stats",))
        seen = [pipe.recv() for pipe in self.pipes]
        statuses: Counter[str] = Counter()
        for one in seen:
            statuses.update(one["statuses"])
        return {
            "max_feed_requests_in_flight_per_host": max(one["max_feed_per_address"] for one in seen),
            "max_feed_requests_in_flight_per_host_port": max(one["max_feed_per_origin"] for one in seen),
            "max_page_requests_in_flight_per_host_port": max(one["max_page_per_origin"] for one in seen),
            "responses": dict(sorted(statuses.items())),
            "server_cpu_seconds": round(sum(one["cpu_seconds"] for one in seen), 2),
        }

    def stop(self) -> None:
        """Stop the server processes."""
        for pipe in self.pipes:
            pipe.send(("stop",))
        for process in self.processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()


# --- the cycles ------------------------------------------------------------------------------------------


def task_runs(flow_run_id: Any) -> dict[str, int]:
    """Task runs Prefect recorded for a flow run, by task name."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    wanted = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
    with get_client(sync_client=True) as client:
        names: Counter[str] = Counter()
        for _ in range(25):  # task runs of pool workers reach the API as events, a moment later
            runs = client.read_task_runs(flow_run_filter=wanted, sort=TaskRunSort.EXPECTED_START_TIME_ASC, limit=200)
            names = Counter(run.name.rsplit("-", 1)[0] for run in runs)
            if all(run.end_time for run in runs):
                break
            time.sleep(0.2)
    return dict(sorted(names.items()))


def run_cycle(name: str, feeds_file: Path, database_url: str, servers: Servers, workers: int) -> dict[str, Any]:
    """One `monitor_feeds` flow run, measured: wall, CPU of the pass's process tree, stages, task runs, servers."""
    from pydantic import SecretStr

    from flows.monitor import monitor_feeds

    servers.stats()  # reset the servers' counters
    probe = TreeProbe(exclude=[process.pid for process in servers.processes], exclude_kinds=["Prefect server(s)"])
    with probe:
        started = time.perf_counter()
        state = monitor_feeds(
            feeds_file=str(feeds_file), database_url=SecretStr(database_url), workers=workers, return_state=True
        )
        seconds = time.perf_counter() - started
    summary = state.result()
    return {
        "cycle": name,
        "wall_seconds": round(seconds, 2),
        "pass_cpu_seconds": probe.cpu_seconds,
        "stages": summary.stage_seconds,
        "feeds_read": summary.feeds_read,
        "feeds_not_modified": summary.feeds_not_modified,
        "feeds_failed": len(summary.feeds_failed),
        "failed_outcomes": dict(Counter(p.outcome for p in summary.feeds_failed)),
        "links_seen": summary.links_seen,
        "stories_stored": summary.stories_stored,
        "links_failed": len(summary.links_failed),
        "task_runs": task_runs(state.state_details.flow_run_id),
        "load_after": round(os.getloadavg()[0], 2),
        **servers.stats(),
    }


def run_benchmark(shape: SiteShape, workers: int, workdir: Path) -> dict[str, Any]:
    """Serve the feeds, run the four cycles into one fresh database, and return the figures."""
    home = workdir / "prefect"
    home.mkdir(parents=True, exist_ok=True)
    os.environ.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")  # 10,000 feeds: keep the console readable
    servers = Servers(shape)
    try:
        feeds_file = workdir / "feeds.yaml"
        feeds_file.write_text(
            "feeds:\n"
            + "".join(
                f"  - url: http://{servers.origins[n % len(servers.origins)]}/f/{n}.xml\n" for n in range(shape.feeds)
            ),
            encoding="utf-8",
        )
        database_url = f"sqlite:///{workdir / 'presswatch.db'}"
        uptime_before = _uptime()
        cycles = []
        for number, name in enumerate(CYCLES):
            servers.apply(name, number)
            cycles.append(run_cycle(name, feeds_file, database_url, servers, workers))
            print(_line(cycles[-1]), file=sys.stderr, flush=True)
    finally:
        servers.stop()
    by_name = {cycle["cycle"]: cycle for cycle in cycles}
    nothing, everything = by_name["nothing"], by_name["everything"]
    return {
        "shape": shape.__dict__,
        "hosts": shape.addresses,
        "host_ports": len(servers.origins),
        "workers": workers,
        "uptime_before": uptime_before,
        "uptime_after": _uptime(),
        "cycles": cycles,
        "nothing_over_everything_wall": round(nothing["wall_seconds"] / everything["wall_seconds"], 3),
        "nothing_over_everything_cpu": round(
            nothing["pass_cpu_seconds"] / max(everything["pass_cpu_seconds"], 0.01), 3
        ),
    }


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def _line(cycle: dict[str, Any]) -> str:
    return (
        f"{cycle['cycle']:>10}: {cycle['wall_seconds']:7.2f} s wall, {cycle['pass_cpu_seconds']:7.2f} s CPU; "
        f"{cycle['feeds_read']} read, {cycle['feeds_not_modified']} not modified, {cycle['feeds_failed']} failed, "
        f"{cycle['stories_stored']} stored; task runs {cycle['task_runs']}"
    )


def format_report(report: dict[str, Any]) -> str:
    """The figures as a plain-text table."""
    shape = report["shape"]
    lines = [
        f"{shape['feeds']:,} feeds on {report['hosts']} hosts x {shape['ports']} ports ({report['host_ports']} "
        f"host:port origins), {shape['items']} items each, {shape['latency_ms']:g} ms server latency, "
        f"{shape['servers']} server processes, {report['workers']} workers",
        f"before: {report['uptime_before']}",
        f"after:  {report['uptime_after']}",
        "",
        f"{'cycle':>10} {'wall s':>7} {'CPU s':>7} {'srv CPU':>7} {'read':>6} {'304/same':>8} {'failed':>6} "
        f"{'stored':>6} {'tasks':>5} {'host':>4} {'h:port':>6}  stages (s)",
    ]
    for cycle in report["cycles"]:
        stages = " ".join(f"{name}={seconds:.2f}" for name, seconds in cycle["stages"].items())
        lines.append(
            f"{cycle['cycle']:>10} {cycle['wall_seconds']:7.2f} {cycle['pass_cpu_seconds']:7.2f} "
            f"{cycle['server_cpu_seconds']:7.2f} {cycle['feeds_read']:6d} {cycle['feeds_not_modified']:8d} "
            f"{cycle['feeds_failed']:6d} {cycle['stories_stored']:6d} {sum(cycle['task_runs'].values()):5d} "
            f"{cycle['max_feed_requests_in_flight_per_host']:4d} "
            f"{cycle['max_feed_requests_in_flight_per_host_port']:6d}  {stages}"
        )
    lines += [
        "",
        "host / h:port: most feed requests in flight at once per host address / per host:port, seen by the servers",
        f"nothing-changed / everything-changed: {report['nothing_over_everything_wall']:.3f} of the wall time, "
        f"{report['nothing_over_everything_cpu']:.3f} of the CPU time",
    ]
    for cycle in report["cycles"]:
        lines.append(f"{cycle['cycle']:>10}: task runs {cycle['task_runs']}, responses {cycle['responses']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse options, run the cycles, print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = SiteShape()
    for name in ("feeds", "addresses", "ports", "servers", "items", "pool", "new_every", "ignore_every"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(defaults, name))
    parser.add_argument("--latency-ms", type=float, default=defaults.latency_ms)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    shape = SiteShape(**{name: getattr(args, name) for name in SiteShape.__dataclass_fields__})
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="presswatch-feed-cycle-"))
    report = run_benchmark(shape, args.workers, workdir)
    print(json.dumps(report, indent=2, default=str) if args.json else format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
