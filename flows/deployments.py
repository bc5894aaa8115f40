"""Every presswatch flow as a Prefect deployment, and `presswatch serve` / `presswatch up` around them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy

from presswatch.errors import ConfigError
from presswatch.settings import Settings

DEPLOYMENT_NAMES = (
    "monitor-feeds",
    "ingest-urls",
    "backfill-feed",
    "spike-alerts",
    "retag",
    "reextract",
    "monitor-shard",
    "monitor-cycle",
)


def build_deployments(settings: Settings) -> list[Any]:
    """The deployments `presswatch serve` offers; prefect.yaml declares the same ones for work pools."""
    from flows.alerts import spike_alerts
    from flows.ingest import backfill_feed, ingest_urls
    from flows.monitor import monitor_feeds
    from flows.reextract import reextract
    from flows.retag import retag
    from flows.shards import monitor_cycle, monitor_shard

    one_at_a_time = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW)
    return [
        monitor_feeds.to_deployment(
            "monitor-feeds",
            interval=timedelta(seconds=settings.monitor_interval_seconds),
            parameters={"only_due": True},  # each feed's adaptive interval decides whether it is read
            concurrency_limit=one_at_a_time,
            description="Read every feed in the feeds file and store new stories (scheduled).",
            tags=["presswatch"],
        ),
        ingest_urls.to_deployment(
            "ingest-urls", description="Store and tag article URLs typed into the form.", tags=["presswatch"]
        ),
        backfill_feed.to_deployment(
            "backfill-feed", description="Store every entry currently in one feed.", tags=["presswatch"]
        ),
        spike_alerts.to_deployment(
            "spike-alerts",
            cron=settings.alerts_cron,
            concurrency_limit=one_at_a_time,
            description="Find coverage spikes against the 14-day baseline and post them (daily).",
            tags=["presswatch"],
        ),
        retag.to_deployment(
            "retag",
            description="Re-tag stored stories after the watchlist or topic rules change (no downloads).",
            tags=["presswatch"],
        ),
        reextract.to_deployment(
            "reextract",
            description="Re-run extraction over the stored raw pages after an upgrade (no downloads).",
            tags=["presswatch"],
        ),
        # For a fleet of workers (prefect.yaml schedules the cycle there); served here, they run ad hoc.
        monitor_shard.to_deployment(
            "monitor-shard",
            description="Read one shard of the feeds (a stable hash of each feed's host) and store new stories.",
            tags=["presswatch"],
        ),
        monitor_cycle.to_deployment(
            "monitor-cycle",
            parameters={"only_due": True},
            concurrency_limit=one_at_a_time,
            description="Split the due feeds into shards and run each as a monitor-shard flow run; sum them.",
            tags=["presswatch"],
        ),
    ]


def serve_deployments(settings: Settings) -> None:
    """Serve every deployment against the configured Prefect server until SIGINT/SIGTERM."""
    from prefect import serve
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        raise ConfigError("presswatch serve needs a Prefect server: set PREFECT_API_URL, or run `presswatch up`")
    serve(*build_deployments(settings), limit=settings.serve_limit, pause_on_shutdown=False)


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_healthy(api_url: str, process: subprocess.Popen[bytes], timeout: float = 90.0) -> None:
    """Wait until the Prefect server answers /health, or fail with one line."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ConfigError(f"the Prefect server exited with status {process.returncode} before it was ready")
        try:
            if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise ConfigError(f"the Prefect server at {api_url} was not ready within {timeout:.0f} s")


def stop(process: subprocess.Popen[bytes] | None, timeout: float = 20.0) -> int | None:
    """SIGTERM a child (background children ignore SIGINT), then SIGKILL if it will not go; its exit status."""
    if process is None:
        return None
    if process.poll() is not None:
        return process.returncode
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def run_local_stack(data_dir: Path, port: int | None, settings_env: dict[str, str]) -> int:
    """`presswatch up`: a local Prefect server (state under data_dir) plus `presswatch serve`, stopped in order."""
    port = port or free_port()
    home = (data_dir / "prefect").resolve()
    home.mkdir(parents=True, exist_ok=True)
    api_url = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        **settings_env,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    env.pop("PREFECT_API_URL", None)
    env["PREFECT_UI_API_URL"] = api_url  # the UI assumes port 4200 otherwise
    server = serve_process = None
    stopping = False

    def on_signal(_signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        # Each child in a process group of its own: a Ctrl-C in the terminal reaches only this process,
        # which then stops them in the right order (serve first) instead of both at once.
        server = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            process_group=0,
        )
        wait_healthy(api_url, server)
        print(f"Prefect UI: http://127.0.0.1:{port}/  (API {api_url}); Ctrl-C stops everything", flush=True)
        serve_process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "flows.cli", "serve"],
            env={**env, "PREFECT_API_URL": api_url},
            stdin=subprocess.DEVNULL,
            process_group=0,
        )
        status = _watch(serve_process, server, lambda: stopping)
    finally:
        clean = _stop_in_order(serve_process, server)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status or (0 if clean else 1)  # asked to stop, but a child had to be killed: say so


def _watch(
    serve_process: subprocess.Popen[bytes], server: subprocess.Popen[bytes], stopping: Callable[[], bool]
) -> int:
    """Wait until asked to stop (0), or until a child exits on its own (its status, never 0)."""
    while not stopping():
        for name, child in (("presswatch serve", serve_process), ("the Prefect server", server)):
            if child.poll() is not None:
                print(f"{name} exited with status {child.returncode}", file=sys.stderr)
                return child.returncode or 1
        time.sleep(0.3)
    return 0


def _stop_in_order(serve_process: subprocess.Popen[bytes] | None, server: subprocess.Popen[bytes] | None) -> bool:
    """Stop serve, then the server (a serve whose server is gone hangs); print each exit status; True if clean.

    Clean is 0, or death by the SIGTERM we sent: uvicorn (Prefect's server) finishes its graceful shutdown and
    then re-raises the signal, so a server that stopped properly reports -15.
    """
    clean = True
    for name, child in (("presswatch serve", serve_process), ("the Prefect server", server)):
        status = stop(child)
        if status is not None:
            print(f"{name} stopped (exit status {status})", flush=True)
            clean = clean and status in (0, -signal.SIGTERM)
    return clean
