"""A loopback news site for benchmarks: N article pages under distinct URLs and RSS feeds listing them.

The site is served by a threaded HTTP server on 127.0.0.1 in a child process of its own, so that
serving pages never competes for the GIL with the code being measured. Every response is built
(and gzip-compressed) before the server starts, so serving costs a dictionary look-up and a write.
"""

from __future__ import annotations

import dataclasses
import gzip
import importlib.util
import multiprocessing
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
CORPUS_DIR = SHARED / "corpora" / "article-extraction-benchmark" / "html"
SEED_TEXT = SHARED / "seeds" / "jack-ma-comeback.txt"
MAKE_FIXTURE = REPO_ROOT / "seeds" / "make_fixture.py"

HTML_TYPE = "text/html; charset=utf-8"
FEED_TYPE = "application/rss+xml; charset=utf-8"
_HEAD_OPEN = re.compile(rb"<head(?:\s[^>]*)?>", re.IGNORECASE)
_HTML_OPEN = re.compile(rb"<html(?:\s[^>]*)?>", re.IGNORECASE)
_FIRST_PUBLISHED = datetime(2025, 3, 14, 8, 0, tzinfo=UTC)
# Companies swapped into generated pages, so that their tags differ from page to page.
_ROTATED_NAMES = ("Tencent", "Huawei", "JD.com", "Pinduoduo", "Baidu", "Meituan", "ByteDance")


@dataclasses.dataclass(frozen=True)
class Route:
    """One resource of the site: its body, the same body gzip-compressed, its type and its ETag."""

    body: bytes
    gzipped: bytes
    content_type: str
    etag: str


@dataclasses.dataclass(frozen=True)
class Site:
    """Where the running site is: its root, its feeds and its article pages (in feed order)."""

    base_url: str
    feed_urls: tuple[str, ...]
    page_urls: tuple[str, ...]


def corpus_pages(directory: Path = CORPUS_DIR) -> list[bytes]:
    """The real article pages of the extraction benchmark corpus (181 gzipped news pages), in name order."""
    files = sorted(directory.glob("*.html.gz"))
    if not files:
        raise FileNotFoundError(f"no *.html.gz pages in {directory}")
    return [gzip.decompress(path.read_bytes()) for path in files]


def _make_fixture() -> ModuleType:
    spec = importlib.util.spec_from_file_location("presswatch_make_fixture", MAKE_FIXTURE)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"cannot load {MAKE_FIXTURE}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is being made
    spec.loader.exec_module(module)
    return module


def generated_pages(count: int, seed_text: Path = SEED_TEXT) -> list[bytes]:
    """`count` news pages rendered from the seed article like the seed fixture, each varied.

    Each page rotates the body's blocks, numbers its headline and swaps one rival company's name
    for another, so pages differ in text, length of runs and tags, as a real outlet's pages would.
    """
    fixture = _make_fixture()
    seed = fixture.parse_seed(seed_text.read_text(encoding="utf-8"))
    pages = []
    for index in range(count):
        blocks = list(seed.blocks)
        shift = index % max(1, len(blocks))
        old = _ROTATED_NAMES[index % len(_ROTATED_NAMES)]
        new = _ROTATED_NAMES[(index + 3) % len(_ROTATED_NAMES)]
        rotated = [dataclasses.replace(block, text=block.text.replace(old, new)) for block in blocks]
        varied = dataclasses.replace(
            seed,
            title=f"{seed.title} (part {index + 1})",
            blocks=tuple(rotated[shift:] + rotated[:shift]),
        )
        pages.append(fixture.render_html(varied).encode("utf-8"))
    return pages


def with_canonical(page: bytes, url: str) -> bytes:
    """The page with `<link rel="canonical">` to `url` as the first element of its head.

    Cycled copies of one page would otherwise share the page's own canonical URL and be stored
    as one story; presswatch takes the first canonical link in document order.
    """
    link = f'<link rel="canonical" href="{escape(url, quote=True)}">'.encode()
    for pattern in (_HEAD_OPEN, _HTML_OPEN):
        match = pattern.search(page)
        if match:
            return page[: match.end()] + link + page[match.end() :]
    return link + page


def rss_feed(title: str, site_url: str, items: Sequence[tuple[str, str, datetime]]) -> bytes:
    """An RSS 2.0 document listing (title, link, published) items."""
    entries = "".join(
        f"<item><title>{escape(item_title)}</title><link>{escape(link)}</link>"
        f'<guid isPermaLink="true">{escape(link)}</guid><pubDate>{format_datetime(published)}</pubDate></item>\n'
        for item_title, link, published in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>\n'
        f"<title>{escape(title)}</title><link>{escape(site_url)}</link><description>Benchmark feed</description>\n"
        f"{entries}</channel></rss>\n"
    ).encode()


def _route(body: bytes, content_type: str, etag: str) -> Route:
    return Route(body, gzip.compress(body, compresslevel=6), content_type, etag)


def build_routes(
    pages: Sequence[bytes], count: int, base_url: str, per_feed: int = 50
) -> tuple[dict[str, Route], Site]:
    """The site's resources: `count` pages cycled from `pages`, each under its own URL, and feeds of `per_feed`."""
    if not pages:
        raise ValueError("no pages to serve")
    routes: dict[str, Route] = {}
    page_urls: list[str] = []
    for index in range(count):
        path = f"/articles/{index:05d}.html"
        url = base_url + path
        routes[path] = _route(with_canonical(pages[index % len(pages)], url), HTML_TYPE, f'"page-{index}"')
        page_urls.append(url)
    feed_urls: list[str] = []
    for number, start in enumerate(range(0, count, per_feed)):
        items = [
            (f"Story {index + 1}", page_urls[index], _FIRST_PUBLISHED + timedelta(minutes=index))
            for index in range(start, min(start + per_feed, count))
        ]
        path = f"/feeds/{number:03d}.xml"
        feed = rss_feed(f"Benchmark feed {number}", base_url + "/", items)
        routes[path] = _route(feed, FEED_TYPE, f'"feed-{number}"')
        feed_urls.append(base_url + path)
    return routes, Site(base_url, tuple(feed_urls), tuple(page_urls))


class _Handler(BaseHTTPRequestHandler):
    """Serves the prepared routes over HTTP/1.1 keep-alive, gzip when asked, 304 on a matching ETag."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the client's delayed ACK adds 40 ms to each response.
    disable_nagle_algorithm = True
    routes: dict[str, Route] = {}

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        route = self.routes.get(self.path.split("?", 1)[0])
        if route is None:
            self._send(404, b"not found", "text/plain")
            return
        if self.headers.get("If-None-Match") == route.etag:
            self.send_response(304)
            self.send_header("ETag", route.etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if "gzip" in (self.headers.get("Accept-Encoding") or ""):
            self._send(200, route.gzipped, route.content_type, route.etag, encoding="gzip")
        else:
            self._send(200, route.body, route.content_type, route.etag)

    def _send(self, status: int, body: bytes, content_type: str, etag: str | None = None, encoding: str = "") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if etag:
            self.send_header("ETag", etag)
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        """Quiet: a benchmark must not spend its time printing access logs."""


class LoopbackSite:
    """Context manager: serve `count` pages cycled from `pages`, and their feeds, on 127.0.0.1 from a child process."""

    def __init__(self, pages: Sequence[bytes], count: int, per_feed: int = 50) -> None:
        self._pages = pages
        self._count = count
        self._per_feed = per_feed
        self._process: multiprocessing.process.BaseProcess | None = None

    @property
    def pid(self) -> int | None:
        """The server process's id, so that memory figures can leave it out."""
        return self._process.pid if self._process else None

    def __enter__(self) -> Site:
        class SiteHandler(_Handler):
            routes: dict[str, Route] = {}

        server = ThreadingHTTPServer(("127.0.0.1", 0), SiteHandler)
        server.daemon_threads = True
        base_url = f"http://127.0.0.1:{server.server_address[1]}"
        SiteHandler.routes, site = build_routes(self._pages, self._count, base_url, self._per_feed)
        # Forked: the child inherits the bound socket and the prepared routes without pickling them.
        self._process = multiprocessing.get_context("fork").Process(
            target=server.serve_forever, name="loopback-site", daemon=True
        )
        self._process.start()
        server.socket.close()  # the child serves; the parent keeps no copy of the listening socket
        return site

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.join(timeout=10)
            self._process = None
