"""Reliability tests: loopback news sites, and `presswatch run` in its own process against a shared Prefect API.

Every pass here runs as a real `presswatch run` subprocess (so it can be SIGKILLed, run twice at once, and have
its peak memory measured), talking to the session's Prefect test server instead of starting an ephemeral one:
that makes a pass cost ~4 s instead of ~17 s.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import pytest
from sqlalchemy import Engine, text

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "seeds" / "fixture"
SEED_HTML = (FIXTURE / "jack-ma-comeback.html").read_bytes()
SEED_CANONICAL = b"https://www.pacificwire.example/business/2025/03/jack-ma-comeback-alibaba-ai"
SEED_TITLE = "Jack Ma’s Bold Comeback: Reviving Alibaba With AI and Global Ambitions".encode()
PRESSWATCH = Path(sys.executable).parent / "presswatch"
# Watched companies the seed story names; every stored copy of it must carry at least these tags.
SEED_COMPANIES = frozenset({"alibaba", "jd", "pdd", "tencent", "huawei", "amazon", "microsoft"})


def pytest_configure(config: pytest.Config) -> None:
    """Register the `slow` marker used by the longest reliability runs."""
    config.addinivalue_line("markers", "slow: takes more than ~30 s; deselect with -m 'not slow'")


# --- pages and feeds -----------------------------------------------------------------------------


def story_page(canonical: str, title: str | None = None) -> bytes:
    """The seed news page as a distinct story: its canonical URL (and optionally its headline) rewritten."""
    page = SEED_HTML.replace(SEED_CANONICAL, canonical.encode())
    if title is not None:
        page = page.replace(SEED_TITLE, escape(title).encode())
    return page


def rss(items: Sequence[tuple[str, str, str | None]], title: str = "Loopback news") -> bytes:
    """An RSS 2.0 feed of (title, link, pubDate or None) items."""
    parts = []
    for item_title, link, published in items:
        date = f"<pubDate>{escape(published)}</pubDate>" if published else ""
        parts.append(f"<item><title>{escape(item_title)}</title><link>{escape(link)}</link>{date}</item>")
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{escape(title)}</title>'
        f"<link>http://127.0.0.1/</link>{''.join(parts)}</channel></rss>"
    ).encode()


def write_feeds_file(path: Path, urls: Sequence[str]) -> Path:
    """A feeds file listing the URLs."""
    path.write_text("feeds:\n" + "".join(f"  - url: {url}\n" for url in urls), encoding="utf-8")
    return path


# --- a loopback web site with programmable misbehaviour -------------------------------------------

Responder = Callable[["SiteHandler"], None]


class SiteHandler(BaseHTTPRequestHandler):
    """Dispatches GETs to the site's routes; everything else is a 404."""

    protocol_version = "HTTP/1.1"
    server: _SiteServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        site = self.server.site
        path = urlsplit(self.path).path
        site.record(path)
        responder = site.routes.get(path)
        if responder is None:
            self.send_plain(404, b"not found", "text/plain")
            return
        # The client may give up mid-answer, as a capped or timed-out fetch should.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            responder(self)

    def send_plain(
        self, status: int, body: bytes, content_type: str | None, headers: Mapping[str, str] | None = None
    ) -> None:
        """Answer with a complete body and a Content-Length."""
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        pass


class _SiteServer(ThreadingHTTPServer):
    daemon_threads = True
    site: LoopbackSite

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (a killed pass, a capped fetch) is expected here, not worth a traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class LoopbackSite:
    """A threaded HTTP server on 127.0.0.1 whose routes are plain functions; counts every request."""

    def __init__(self) -> None:
        self.routes: dict[str, Responder] = {}
        self.hits: Counter[str] = Counter()
        self.closing = threading.Event()
        self._changed = threading.Condition()
        self._server = _SiteServer(("127.0.0.1", 0), SiteHandler)
        self._server.site = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()

    @property
    def host(self) -> str:
        """host:port of the site."""
        return f"127.0.0.1:{self._server.server_port}"

    def url(self, path: str) -> str:
        """Absolute URL of a path on this site."""
        return f"http://{self.host}{path}"

    def record(self, path: str) -> None:
        """Count a request and wake anyone waiting for traffic."""
        with self._changed:
            self.hits[path] += 1
            self._changed.notify_all()

    def count(self, prefix: str) -> int:
        """Requests so far for paths starting with prefix."""
        with self._changed:
            return sum(n for path, n in self.hits.items() if path.startswith(prefix))

    def wait_for(self, prefix: str, count: int, timeout: float, give_up: Callable[[], bool] = lambda: False) -> bool:
        """Block until `count` requests under prefix were seen, the time is up, or give_up() says so."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while sum(n for path, n in self.hits.items() if path.startswith(prefix)) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or give_up():
                    return False
                self._changed.wait(min(remaining, 0.05))
        return True

    def add(
        self,
        path: str,
        body: bytes,
        content_type: str | None = "text/html; charset=utf-8",
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
    ) -> str:
        """Serve a fixed body (after `delay` seconds; an ETag header makes If-None-Match answer 304)."""
        given = dict(headers or {})

        def respond(handler: SiteHandler) -> None:
            if delay:
                time.sleep(delay)
            etag = given.get("ETag")
            if etag and handler.headers.get("If-None-Match") == etag:
                handler.send_plain(304, b"", None, {"ETag": etag})
                return
            handler.send_plain(status, body, content_type, given)

        self.routes[path] = respond
        return self.url(path)

    def add_handler(self, path: str, responder: Responder) -> str:
        """Serve a path with a function of the request handler."""
        self.routes[path] = responder
        return self.url(path)

    def close(self) -> None:
        """Stop serving and release handlers that wait forever."""
        self.closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def site() -> Iterator[LoopbackSite]:
    """A fresh loopback site for one test."""
    made = LoopbackSite()
    yield made
    made.close()


# --- Prefect API and pass subprocesses ------------------------------------------------------------


@pytest.fixture(scope="session")
def prefect_api_url() -> Iterator[str]:
    """The API URL of this session's Prefect test server (reusing one already started, e.g. by tests/flows)."""
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_API_URL

    running = SubprocessASGIServer._instances.get(None)
    if running is not None and running.running and PREFECT_API_URL.value():
        yield str(PREFECT_API_URL.value())
        return
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield str(PREFECT_API_URL.value())


@dataclass
class PassRun:
    """How one `presswatch run` process ended, with its output and peak memory."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss_mb: float
    killed: bool = False

    @property
    def output(self) -> str:
        """stdout and stderr together."""
        return self.stdout + self.stderr


@dataclass
class RunningPass:
    """A `presswatch run` process started with its own process group."""

    process: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path
    started: float
    result: PassRun | None = field(default=None)

    def alive(self) -> bool:
        """Whether the process is still running (reaps it, measuring it, when it has ended)."""
        return self._reap(block=False) is None

    def kill(self) -> PassRun:
        """SIGKILL the whole process group (the pass and any worker processes), as an OOM killer would."""
        killed = self.alive()
        if killed:
            os.killpg(self.process.pid, signal.SIGKILL)
        result = self.wait(timeout=30)
        result.killed = killed
        return result

    def wait(self, timeout: float) -> PassRun:
        """Wait for the pass to end; kill it and fail the test if it outlives the timeout."""
        deadline = time.monotonic() + timeout
        while (result := self._reap(block=False)) is None:
            if time.monotonic() > deadline:
                os.killpg(self.process.pid, signal.SIGKILL)
                self._reap(block=True)
                pytest.fail(f"presswatch run did not finish within {timeout} s:\n{self._read(self.stderr_path)}")
            time.sleep(0.02)
        return result

    def _reap(self, block: bool) -> PassRun | None:
        if self.result is not None:
            return self.result
        pid, status, usage = os.wait4(self.process.pid, 0 if block else os.WNOHANG)
        if pid == 0:
            return None
        self.process.returncode = os.waitstatus_to_exitcode(status)
        self.result = PassRun(
            returncode=self.process.returncode,
            stdout=self._read(self.stdout_path),
            stderr=self._read(self.stderr_path),
            seconds=time.monotonic() - self.started,
            peak_rss_mb=usage.ru_maxrss / 1024,  # ru_maxrss is in KiB on Linux
        )
        return self.result

    @staticmethod
    def _read(path: Path) -> str:
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


class PassLauncher:
    """Starts `presswatch run` processes wired to the session's Prefect API, with PRESSWATCH_* settings."""

    def __init__(self, prefect_api_url: str, workdir: Path, prefect_home: Path) -> None:
        self.workdir = workdir
        self._count = 0
        env = {key: value for key, value in os.environ.items() if not key.startswith(("PRESSWATCH_", "PREFECT_"))}
        env.update(
            PREFECT_API_URL=prefect_api_url,
            PREFECT_HOME=str(prefect_home),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            DO_NOT_TRACK="1",
            # The editable install may predate a package's __init__.py; the repo on the path wins either way.
            PYTHONPATH=str(REPO),
            PYTHONUNBUFFERED="1",
        )
        self.env = env

    def start(
        self, feeds: Path, database_url: str, settings: Mapping[str, str] | None = None, *args: str
    ) -> RunningPass:
        """Start one pass (`presswatch run --feeds F --database-url U`) in a new process group."""
        command = [str(PRESSWATCH), "run", "--feeds", str(feeds), "--database-url", database_url, *args]
        return self.start_command(command, settings)

    def start_python(self, code: str, *args: str, settings: Mapping[str, str] | None = None) -> RunningPass:
        """Start the venv's Python on `code` (sys.argv[1:] = args), with the same environment as a pass."""
        return self.start_command([sys.executable, "-c", code, *args], settings)

    def start_command(self, command: Sequence[str], settings: Mapping[str, str] | None = None) -> RunningPass:
        """Start a command in a new process group, PRESSWATCH_<KEY> set from `settings`, output to files."""
        self._count += 1
        stdout_path = self.workdir / f"pass-{self._count}.out"
        stderr_path = self.workdir / f"pass-{self._count}.err"
        env = dict(self.env)
        env.update({f"PRESSWATCH_{key.upper()}": value for key, value in (settings or {}).items()})
        with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
            process = subprocess.Popen(
                list(command), stdout=out, stderr=err, env=env, cwd=self.workdir, start_new_session=True
            )
        return RunningPass(process, stdout_path, stderr_path, time.monotonic())

    def run(
        self, feeds: Path, database_url: str, settings: Mapping[str, str] | None = None, timeout: float = 120
    ) -> PassRun:
        """Run one pass to the end."""
        return self.start(feeds, database_url, settings).wait(timeout)


@pytest.fixture(scope="session")
def _prefect_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prefect-home")


@pytest.fixture
def launcher(prefect_api_url: str, tmp_path: Path, _prefect_home: Path) -> PassLauncher:
    """Starts `presswatch run` subprocesses for this test."""
    return PassLauncher(prefect_api_url, tmp_path, _prefect_home)


# --- what the database holds ----------------------------------------------------------------------


@dataclass(frozen=True)
class Integrity:
    """What is wrong with the stored stories, if anything (every list empty means all is well)."""

    stories: int
    duplicate_canonicals: list[str]
    without_mentions: list[str]
    without_stored_event: list[str]
    stored_events_without_article: list[int]
    stored_events_per_article_over_one: list[int]
    without_links: list[str]


def integrity(engine: Engine) -> Integrity:
    """Check the invariants every pass must keep, whatever happened to it."""
    with engine.connect() as connection:

        def rows(sql: str) -> list[Any]:
            return list(connection.execute(text(sql)).scalars())

        return Integrity(
            stories=connection.execute(text("SELECT count(*) FROM articles")).scalar_one(),
            duplicate_canonicals=rows("SELECT canonical_url FROM articles GROUP BY canonical_url HAVING count(*) > 1"),
            without_mentions=rows(
                "SELECT a.canonical_url FROM articles a WHERE NOT EXISTS "
                "(SELECT 1 FROM mentions m WHERE m.article_id = a.id)"
            ),
            without_stored_event=rows(
                "SELECT a.canonical_url FROM articles a WHERE NOT EXISTS "
                "(SELECT 1 FROM fetch_events e WHERE e.article_id = a.id AND e.outcome = 'stored')"
            ),
            stored_events_without_article=rows(
                "SELECT e.id FROM fetch_events e WHERE e.outcome IN ('stored', 'duplicate') AND (e.article_id IS NULL "
                "OR NOT EXISTS (SELECT 1 FROM articles a WHERE a.id = e.article_id))"
            ),
            stored_events_per_article_over_one=rows(
                "SELECT article_id FROM fetch_events WHERE outcome = 'stored' GROUP BY article_id HAVING count(*) > 1"
            ),
            without_links=rows(
                "SELECT a.canonical_url FROM articles a WHERE NOT EXISTS "
                "(SELECT 1 FROM article_links l WHERE l.article_id = a.id AND l.url = a.url) "
                "OR NOT EXISTS (SELECT 1 FROM article_links l WHERE l.article_id = a.id "
                "AND l.url = a.canonical_url)"
            ),
        )


def canonical_urls(engine: Engine) -> list[str]:
    """Every stored story's canonical URL, sorted."""
    with engine.connect() as connection:
        return sorted(connection.execute(text("SELECT canonical_url FROM articles")).scalars())


def companies_per_story(engine: Engine) -> dict[str, set[str]]:
    """canonical URL -> the companies its mentions name."""
    found: dict[str, set[str]] = {}
    with engine.connect() as connection:
        for url, entity in connection.execute(
            text("SELECT url, entity_id FROM coverage WHERE entity_kind = 'company'")
        ):
            found.setdefault(url, set()).add(entity)
    return found


TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\s+File \"", re.MULTILINE)
