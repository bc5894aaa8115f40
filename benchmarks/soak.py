"""Twenty monitoring cycles in one long-running `presswatch serve`: does its memory stay flat?

Issue 9: memory after the twentieth cycle within 10% of after the second. The script starts the loopback feed
servers of `benchmarks/feed_cycle.py` (a few new items each cycle), a real `prefect server start` on a free
loopback port with a temporary PREFECT_HOME, and `presswatch serve` against it. It then triggers `monitor-feeds`
through the API twenty times, one after the other, each with `only_due: false` so that every cycle reads every
feed (the schedule's own runs would find the feeds not due yet), waits for each run to finish, and samples the
resident memory of the serve process (and of its process tree) after each cycle.

`--in-process` also runs the twenty cycles as plain `monitor_feeds` calls inside this process (ephemeral
Prefect), the stricter case: every cache, engine and pipeline of a pass then lives in the one process measured.

    .venv/bin/python benchmarks/soak.py [--cycles 20] [--feeds 1000] [--in-process] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.feed_cycle import Servers, SiteShape  # noqa: E402 - after the path is set

TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "CRASHED"}


def rss_mb(pid: int, tree: bool = False) -> float:
    """Resident memory of a process (with `tree`, plus all its descendants) in MB, from /proc."""
    pids = [pid] + (_descendants(pid) if tree else [])
    total = 0
    for one in pids:
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue  # the process ended while we looked
    return round(total / 1024, 1)


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(status.parent.name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def _api(api: str, method: str, path: str, body: Any = None) -> Any:
    import httpx

    for attempt in range(6):  # a busy Prefect server answers 503 now and then
        response = httpx.request(method, f"{api}{path}", json=body, timeout=60)
        if response.status_code != 503 or attempt == 5:
            break
        time.sleep(2)
    response.raise_for_status()
    return response.json()


def _feeds_file(servers: Servers, feeds: int, workdir: Path) -> Path:
    path = workdir / "feeds.yaml"
    lines = "".join(f"  - url: http://{servers.origins[n % len(servers.origins)]}/f/{n}.xml\n" for n in range(feeds))
    path.write_text("feeds:\n" + lines, encoding="utf-8")
    return path


def _wait_for_deployment(api: str, name: str, serve: subprocess.Popen[bytes], timeout: float = 180) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if serve.poll() is not None:
            raise RuntimeError(f"presswatch serve exited with {serve.returncode} before registering {name}")
        found = _api(api, "POST", "/deployments/filter", {"deployments": {"name": {"any_": [name]}}})
        if found:
            return str(found[0]["id"])
        time.sleep(1)
    raise RuntimeError(f"deployment {name} not registered within {timeout:.0f} s")


def _run_once(api: str, deployment_id: str, timeout: float = 600) -> tuple[str, float]:
    started = time.monotonic()
    run = _api(api, "POST", f"/deployments/{deployment_id}/create_flow_run", {"parameters": {"only_due": False}})
    while time.monotonic() - started < timeout:
        state = _api(api, "GET", f"/flow_runs/{run['id']}")["state"]["type"]
        if state in TERMINAL:
            return state, time.monotonic() - started
        time.sleep(0.5)
    return "TIMED_OUT", time.monotonic() - started


def soak_serve(cycles: int, shape: SiteShape, workdir: Path) -> dict[str, Any]:
    """Run `cycles` monitoring cycles through one `presswatch serve` process and sample its memory after each."""
    from flows.deployments import free_port, stop, wait_healthy

    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(workdir / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_UI_API_URL": api,
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    env.pop("PREFECT_API_URL", None)
    servers = Servers(shape)
    server = serve = None
    try:
        server = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_healthy(api, server)
        feeds_file = _feeds_file(servers, shape.feeds, workdir)
        serve_env = {
            **env,
            "PREFECT_API_URL": api,
            "PRESSWATCH_FEEDS_FILE": str(feeds_file),
            "PRESSWATCH_DATABASE_URL": f"sqlite:///{workdir / 'presswatch.db'}",
            "PRESSWATCH_MONITOR_INTERVAL_SECONDS": "86400",  # the cycles are the API runs below, nothing else
        }
        serve = subprocess.Popen(
            [str(Path(sys.executable).parent / "presswatch"), "serve"],
            env=serve_env,
            stdout=subprocess.DEVNULL,
            stderr=(workdir / "serve.log").open("wb"),
        )
        deployment_id = _wait_for_deployment(api, "monitor-feeds", serve)
        samples = []
        for number in range(1, cycles + 1):
            servers.apply("typical", number)
            state, seconds = _run_once(api, deployment_id)
            time.sleep(1)  # let the finished run's process be reaped before sampling
            samples.append(
                {
                    "cycle": number,
                    "state": state,
                    "seconds": round(seconds, 1),
                    "serve_rss_mb": rss_mb(serve.pid),
                    "serve_tree_rss_mb": rss_mb(serve.pid, tree=True),
                }
            )
            print(json.dumps(samples[-1]), file=sys.stderr, flush=True)
    finally:
        stop(serve)
        stop(server)
        servers.stop()
    return {"mode": "presswatch serve", "samples": samples, **_verdict(samples, "serve_rss_mb")}


def soak_in_process(cycles: int, shape: SiteShape, workdir: Path) -> dict[str, Any]:
    """Run `cycles` monitoring cycles as `monitor_feeds` calls in this process and sample its memory after each."""
    os.environ.update(
        PREFECT_HOME=str(workdir / "prefect-inproc"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_LOGGING_LEVEL="WARNING",
    )
    from pydantic import SecretStr

    from flows.monitor import monitor_feeds  # after the environment is set: Prefect reads it on import

    servers = Servers(shape)
    samples = []
    try:
        feeds_file = _feeds_file(servers, shape.feeds, workdir)
        url = SecretStr(f"sqlite:///{workdir / 'in-process.db'}")
        for number in range(1, cycles + 1):
            servers.apply("typical", number)
            started = time.monotonic()
            state = monitor_feeds(feeds_file=str(feeds_file), database_url=url, workers=1, return_state=True)
            samples.append(
                {
                    "cycle": number,
                    "state": state.type.value,
                    "seconds": round(time.monotonic() - started, 1),
                    "rss_mb": rss_mb(os.getpid()),
                }
            )
            print(json.dumps(samples[-1]), file=sys.stderr, flush=True)
    finally:
        servers.stop()
    return {"mode": "in process", "samples": samples, **_verdict(samples, "rss_mb")}


def _verdict(samples: list[dict[str, Any]], key: str) -> dict[str, Any]:
    second, last = samples[1][key], samples[-1][key]
    return {
        "after_second_mb": second,
        "after_last_mb": last,
        "growth": round(last / second - 1, 3),
        "within_10_percent": last <= second * 1.10,
        "all_completed": all(s["state"] == "COMPLETED" for s in samples),
    }


def main(argv: list[str] | None = None) -> int:
    """Parse options, run the soak(s), print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--feeds", type=int, default=1000, help="feeds (1 in 100 gets a new item each cycle)")
    parser.add_argument("--in-process", action="store_true", help="also run the cycles inside this process")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.cycles < 3:
        parser.error("--cycles must be at least 3 (memory after the second cycle is the baseline)")
    shape = SiteShape(feeds=args.feeds, addresses=50, ports=2, servers=1, new_every=100)
    results = []
    with tempfile.TemporaryDirectory(prefix="presswatch-soak-") as tmp:
        results.append(soak_serve(args.cycles, shape, Path(tmp)))
        if args.in_process:
            results.append(soak_in_process(args.cycles, shape, Path(tmp)))
    load = os.getloadavg()[0]
    if args.json:
        print(json.dumps({"load_average": load, "results": results}, indent=2))
        return 0
    for result in results:
        print(
            f"{result['mode']}: {len(result['samples'])} cycles, all completed: {result['all_completed']}; "
            f"RSS after cycle 2: {result['after_second_mb']} MB, after the last: {result['after_last_mb']} MB "
            f"({result['growth']:+.1%}; within 10%: {result['within_10_percent']}); load average {load:.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
