"""HostGate: bounded concurrency and spaced starts per host, independent hosts, slowing after 429/503."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from fetcher import FetchPolicy, HostGate, fetch, politeness_key

PolicyFactory = Callable[..., FetchPolicy]


class ConcurrencyProbe:
    """A request handler that sleeps a while and records how many requests were in flight at once."""

    def __init__(self, hold: float) -> None:
        self.hold = hold
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most = 0
        self.starts: list[float] = []

    def __call__(self, request: Request) -> Response:
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            self.starts.append(time.monotonic())
        time.sleep(self.hold)
        with self.lock:
            self.in_flight -= 1
        return Response("<html><body>ok</body></html>", content_type="text/html")


def test_eight_threads_on_one_host_never_have_more_than_two_in_flight(
    server: HTTPServer, client: httpx.Client, fast_policy: PolicyFactory
) -> None:
    probe = ConcurrencyProbe(hold=0.2)
    server.expect_request("/page").respond_with_handler(probe)
    gate = HostGate(max_per_host=2, min_delay=0.0)
    policy = fast_policy()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: fetch(client, server.url_for("/page"), policy, gate=gate), range(8)))
    assert [result.status for result in results] == [200] * 8
    assert probe.most == 2  # bounded, and the bound is actually used
    assert len(server.log) == 8


def test_without_a_gate_the_same_threads_do_overlap_more(
    server: HTTPServer, client: httpx.Client, fast_policy: PolicyFactory
) -> None:
    probe = ConcurrencyProbe(hold=0.2)
    server.expect_request("/page").respond_with_handler(probe)
    policy = fast_policy()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: fetch(client, server.url_for("/page"), policy), range(8)))
    assert probe.most > 2  # so the bound in the test above is the gate's doing


def test_request_starts_to_one_host_are_spaced_by_min_delay(
    server: HTTPServer, client: httpx.Client, fast_policy: PolicyFactory
) -> None:
    probe = ConcurrencyProbe(hold=0.0)
    server.expect_request("/page").respond_with_handler(probe)
    gate = HostGate(max_per_host=4, min_delay=0.15)
    policy = fast_policy()
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda _: fetch(client, server.url_for("/page"), policy, gate=gate), range(4)))
    starts = sorted(probe.starts)
    gaps = [later - earlier for earlier, later in zip(starts, starts[1:], strict=False)]
    assert len(gaps) == 3
    assert min(gaps) >= 0.12


def test_a_slow_host_does_not_hold_up_another_host(
    server: HTTPServer, other_server: HTTPServer, client: httpx.Client, fast_policy: PolicyFactory
) -> None:
    slow = ConcurrencyProbe(hold=1.0)
    server.expect_request("/slow").respond_with_handler(slow)
    other_server.expect_request("/fast").respond_with_data("quick", content_type="text/html")
    gate = HostGate(max_per_host=2, min_delay=0.0)
    policy = fast_policy(read_timeout=3.0)
    with ThreadPoolExecutor(max_workers=3) as pool:
        # Both slots of the slow host busy, and one more request queued behind them.
        pending = [pool.submit(fetch, client, server.url_for("/slow"), policy, gate=gate) for _ in range(3)]
        while slow.in_flight < 2:
            time.sleep(0.01)
        started = time.monotonic()
        result = fetch(client, other_server.url_for("/fast"), policy, gate=gate)
        elapsed = time.monotonic() - started
        assert [future.result().status for future in pending] == [200, 200, 200]
    assert result.body == b"quick"
    assert elapsed < 0.5
    assert slow.most == 2


def test_too_many_requests_slows_the_host_down(
    server: HTTPServer, client: httpx.Client, fast_policy: PolicyFactory
) -> None:
    server.expect_ordered_request("/busy").respond_with_data("no", status=429, headers={"Retry-After": "0"})
    server.expect_ordered_request("/busy").respond_with_data("ok", content_type="text/html")
    gate = HostGate(max_per_host=2, min_delay=0.05, slow_for=60)
    host = politeness_key(server.url_for("/busy"))
    assert gate.delay_for(host) == 0.05
    started = time.monotonic()
    result = fetch(client, server.url_for("/busy"), fast_policy(retries=1, backoff=0.01), gate=gate)
    assert result.status == 200
    assert gate.delay_for(host) >= 1.0  # raised after the 429, for a while
    assert time.monotonic() - started >= 0.95  # and the retry itself waited for the raised delay


def test_retry_after_holds_back_the_next_start_and_then_the_delay_recovers() -> None:
    now = [100.0]
    gate = HostGate(max_per_host=2, min_delay=0.5, slow_for=10, clock=lambda: now[0])
    gate.slow_down("news.example.com", retry_after=5)
    assert gate.delay_for("news.example.com") == 5
    assert gate.acquire("news.example.com", timeout=0) is False  # nothing may start for 5 s
    assert gate.acquire("other.example.com", timeout=0) is True  # other hosts go on
    now[0] += 5
    assert gate.acquire("news.example.com", timeout=0) is True
    now[0] += 10
    assert gate.delay_for("news.example.com") == 0.5


def test_acquire_gives_up_after_its_timeout_when_all_slots_are_taken() -> None:
    gate = HostGate(max_per_host=1, min_delay=0.0)
    assert gate.acquire("a.example", timeout=0.1) is True
    started = time.monotonic()
    assert gate.acquire("a.example", timeout=0.1) is False
    assert time.monotonic() - started >= 0.09
    gate.release("a.example")
    assert gate.acquire("a.example", timeout=0.1) is True
