"""Loopback-only servers for the fetcher tests: threaded pytest-httpservers and a raw-socket server."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer

from fetcher import FetchPolicy, make_client
from presswatch.errors import FetchError

# Fast limits and loopback opened: every test talks to 127.0.0.1 only.
FAST = FetchPolicy(
    allowed_networks=("127.0.0.0/8",),
    connect_timeout=1.0,
    read_timeout=1.0,
    total_timeout=5.0,
    retries=2,
    backoff=0.01,
    max_bytes=1_000_000,
)

RawHandler = Callable[[socket.socket, threading.Event], None]


@pytest.fixture
def fast_policy() -> Callable[..., FetchPolicy]:
    """A factory of loopback-allowed, fast policies: `fast_policy(read_timeout=0.3)`."""

    def make(**overrides: Any) -> FetchPolicy:
        return replace(FAST, **overrides)

    return make


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    """A client from make_client with loopback allowed (fetch's policy argument sets the limits)."""
    with make_client(FAST) as made:
        yield made


@pytest.fixture
def strict_client() -> Iterator[httpx.Client]:
    """A client from make_client with no extra network opened: loopback is refused at connect time."""
    with make_client(FetchPolicy(connect_timeout=1.0, read_timeout=1.0)) as made:
        yield made


def _started(host: str = "127.0.0.1") -> HTTPServer:
    server = HTTPServer(host=host, port=0, threaded=True)
    server.start()
    return server


@pytest.fixture(scope="session")
def _server_a() -> Iterator[HTTPServer]:
    server = _started()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _server_b() -> Iterator[HTTPServer]:
    server = _started("127.0.0.2")  # another address: politeness is per host name, whatever the port
    yield server
    server.stop()


@pytest.fixture
def server(_server_a: HTTPServer) -> Iterator[HTTPServer]:
    """A threaded pytest-httpserver on 127.0.0.1, cleared around each test."""
    _server_a.clear()
    yield _server_a
    _server_a.clear()


@pytest.fixture
def other_server(_server_b: HTTPServer) -> Iterator[HTTPServer]:
    """A second server on 127.0.0.2: another host for trust and politeness."""
    _server_b.clear()
    yield _server_b
    _server_b.clear()


def _read_request_head(conn: socket.socket, timeout: float = 2.0) -> bytes:
    conn.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


class RawServer:
    """A tiny threaded TCP server on 127.0.0.1: reads the request head, then the handler writes what a case needs."""

    def __init__(self, handler: RawHandler) -> None:
        self.handler = handler
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self.connections = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.05)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._serve, daemon=True)
        self._acceptor.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
            thread = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            try:
                _read_request_head(conn)
                self.handler(conn, self.stop)
            except OSError:
                pass  # the client hung up, which is what most cases expect

    def close(self) -> None:
        """Stop accepting, release handlers waiting on `stop`, and join the threads."""
        self.stop.set()
        self._sock.close()
        self._acceptor.join(2)
        for thread in self._threads:
            thread.join(2)


@pytest.fixture
def raw_server() -> Iterator[Callable[[RawHandler], RawServer]]:
    """A factory: `raw_server(handler)` starts a RawServer that is closed after the test."""
    servers: list[RawServer] = []

    def start(handler: RawHandler) -> RawServer:
        made = RawServer(handler)
        servers.append(made)
        return made

    yield start
    for made in servers:
        made.close()


@pytest.fixture
def bytes_in() -> Callable[[FetchError], int]:
    """The byte count a FetchError's reason reports ('... after 1,234 bytes')."""

    def parse(error: FetchError) -> int:
        match = re.search(r"after ([\d,]+) bytes", error.reason)
        assert match is not None, error.reason
        return int(match.group(1).replace(",", ""))

    return parse
