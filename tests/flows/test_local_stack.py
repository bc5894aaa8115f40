"""`presswatch up` as a user runs it: a local Prefect server plus the served deployments, stopped in order.

The command runs as a real subprocess with its own data directory (so its own PREFECT_HOME) on a free port;
its two children are found through /proc, so the test can see which one goes first and that none is left.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import text

from flows.deployments import DEPLOYMENT_NAMES, free_port
from storage.db import make_engine
from tests.prefect_api import api_call

PAGE = (Path(__file__).resolve().parents[2] / "seeds" / "fixture" / "jack-ma-comeback.html").read_bytes()
pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds child processes through /proc (Linux)"),
]


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, every: float = 1.0) -> Any:
    """Poll until `predicate` returns something truthy and return it; fail with `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def running(pid: int) -> bool:
    """True while `pid` exists and has not exited (a zombie has exited: it only waits to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def children(pid: int) -> dict[int, str]:
    """The direct children of `pid`, with their command lines."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue  # the process ended while we looked
        if parent == pid:
            found[int(entry.name)] = command
    return found


def prefect_servers_on(port: int) -> list[int]:
    """Pids of any `prefect server start` still listening on our port: orphans, if any."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "prefect server start" in command and f"--port {port}" in command and running(int(entry.name)):
            found.append(int(entry.name))
    return found


@dataclass
class Stack:
    """A running `presswatch up` and what the test needs to reach it."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path
    database: str

    @property
    def api(self) -> str:
        """The Prefect API of the stack."""
        return f"http://127.0.0.1:{self.port}/api"

    def output(self) -> str:
        """Everything the command printed so far."""
        return self.log.read_text(errors="replace")

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """One call to the stack's Prefect API (retried while the server answers 503)."""
        return api_call(self.api, method, path, body)

    def served(self) -> set[str]:
        """Names of the deployments registered so far."""
        return {deployment["name"] for deployment in self.call("POST", "/deployments/filter", {})}


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """`presswatch up` on a free port with its data under tmp_path, waited for until it prints the UI address."""
    port = free_port()
    log = tmp_path / "up.log"
    database = f"sqlite:///{tmp_path / 'stack.db'}"
    (tmp_path / "feeds.yaml").write_text("feeds: []\n", encoding="utf-8")
    env = {
        **os.environ,
        "PRESSWATCH_DATABASE_URL": database,
        "PRESSWATCH_FEEDS_FILE": str(tmp_path / "feeds.yaml"),
        "PRESSWATCH_ALLOWED_NETWORKS": "127.0.0.0/8",
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
    }
    env.pop("PREFECT_API_URL", None)
    command = [sys.executable, "-m", "flows.cli", "up", "--port", str(port), "--data-dir", str(tmp_path / "data")]
    with log.open("wb") as out:
        # A session of its own, like a terminal's foreground job: the test can then press "Ctrl-C" on it.
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    made = Stack(process, port, log, database)
    try:
        address = f"Prefect UI: http://127.0.0.1:{port}/"
        wait_for(lambda: address in made.output() or process.poll() is not None, 180, "the UI address")
        assert process.poll() is None, made.output()
        yield made
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # the test failed before stopping it: leave nothing behind
            process.wait()
        for pid in prefect_servers_on(port):
            os.kill(pid, signal.SIGKILL)


def stop_and_watch(stack: Stack, send: Callable[[], None]) -> tuple[list[tuple[str, float]], int]:
    """Send the stop signal and watch the two children go: (name, seconds after the signal) in order, exit code."""
    kids = children(stack.process.pid)
    named = {
        "serve": [pid for pid, command in kids.items() if "flows.cli serve" in command],
        "server": [pid for pid, command in kids.items() if "prefect server start" in command],
    }
    assert [len(pids) for pids in named.values()] == [1, 1], kids
    gone: list[tuple[str, float]] = []
    signalled = time.monotonic()
    send()
    deadline = signalled + 90
    while time.monotonic() < deadline and (len(gone) < 2 or stack.process.poll() is None):
        for name, [pid] in named.items():
            if name not in dict(gone) and not running(pid):
                gone.append((name, time.monotonic() - signalled))
        time.sleep(0.02)
    code = stack.process.wait(timeout=5)
    assert all(not running(pid) for [pid] in named.values())
    return gone, code


def exit_statuses(output: str) -> dict[str, int]:
    """The children's exit statuses as `presswatch up` reports them when it stops them."""
    found = re.findall(r"^(presswatch serve|the Prefect server) stopped \(exit status (-?\d+)\)$", output, re.M)
    return {name: int(status) for name, status in found}


def assert_clean_exits(output: str) -> None:
    """serve exits 0; the server ends by the SIGTERM `up` sent, which uvicorn re-raises after its graceful shutdown."""
    assert exit_statuses(output) == {"presswatch serve": 0, "the Prefect server": -signal.SIGTERM}, output


def test_up_serves_runs_and_stops_serve_then_server_on_sigterm(stack: Stack, httpserver: HTTPServer) -> None:
    assert httpx.get(f"{stack.api}/health", timeout=10).json() is True
    assert wait_for(lambda: set(DEPLOYMENT_NAMES) <= stack.served(), 120, "every deployment to be registered")

    httpserver.expect_request("/up-story.html").respond_with_data(
        PAGE.replace(b"jack-ma-comeback-alibaba-ai", b"stored-through-up"), content_type="text/html"
    )
    page = httpserver.url_for("/up-story.html")
    ingest = stack.call("GET", "/deployments/name/ingest-urls/ingest-urls")
    run = stack.call("POST", f"/deployments/{ingest['id']}/create_flow_run", {"parameters": {"urls": [page]}})
    final = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
    state = wait_for(
        lambda: (kind := stack.call("GET", f"/flow_runs/{run['id']}")["state"]["type"]) in final and kind,
        180,
        "the ingest run",
    )
    assert state == "COMPLETED", stack.output()
    engine = make_engine(stack.database)
    with engine.connect() as connection:
        urls = set(connection.scalars(text("SELECT canonical_url FROM articles")).all())
    engine.dispose()
    assert urls == {"https://www.pacificwire.example/business/2025/03/stored-through-up"}

    gone, code = stop_and_watch(stack, lambda: stack.process.send_signal(signal.SIGTERM))
    assert [name for name, _ in gone] == ["serve", "server"], gone
    assert gone[-1][1] < 60, gone
    assert code == 0, stack.output()
    assert_clean_exits(stack.output())
    assert prefect_servers_on(stack.port) == []


def test_ctrl_c_stops_serve_then_server(stack: Stack) -> None:
    assert wait_for(lambda: set(DEPLOYMENT_NAMES) <= stack.served(), 120, "every deployment to be registered")
    # What a terminal does on Ctrl-C: SIGINT to the whole foreground process group.
    gone, code = stop_and_watch(stack, lambda: os.killpg(stack.process.pid, signal.SIGINT))
    assert [name for name, _ in gone] == ["serve", "server"], gone
    assert gone[-1][1] < 60, gone
    assert code == 0, stack.output()
    assert_clean_exits(stack.output())
    assert prefect_servers_on(stack.port) == []
