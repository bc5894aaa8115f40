"""Every feed of feedparser's own test corpus, served over loopback, goes through presswatch's feed ingestion.

Each feed is fetched by the hardened fetcher (`fetcher.http.fetch`, loopback opened by policy) and polled by
the very function a monitoring pass uses (`flows.steps.poll_feed`), so the outcome counted here is the one a
pass would write to `fetch_events`: "ok" with entries, or a failure with a reason a person can read.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from extractors.models import FeedEntry
from extractors.urls import normalize_url
from fetcher.http import FetchPolicy, make_client
from flows.steps import FeedJob, PassConfig, poll_feed

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpora" / "feedparser-feeds"
EXPECTED_FILES = 2_106
TIME_BUDGET_SECONDS = 90.0
# Fetch outcomes (not parse outcomes): none may occur, since the loopback server answers every feed with a 200.
FETCH_FAILURES = frozenset(
    {"http_error", "timeout", "connection_error", "too_large", "redirect_error", "blocked", "invalid_url"}
)
LOOPBACK_POLICY = FetchPolicy(
    allowed_networks=("127.0.0.0/8",), connect_timeout=5.0, read_timeout=5.0, total_timeout=10.0, retries=0
)

# "Header:      Content-type: text/xml" inside each file's leading comment.
_HEADER_LINE = re.compile(r"^Header:\s*([A-Za-z0-9-]+):[ \t]*(.*?)\s*$", re.MULTILINE)
_POSITION = re.compile(r" at line \d+, column \d+")
_COUNT = re.compile(r"^\d+ entries")


def _served_headers(body: bytes) -> list[tuple[str, str]]:
    """The `Header:` lines of a corpus file, plus application/xml when it declares no content type."""
    comment = body[:4096].decode("latin-1")
    headers = [(match.group(1), match.group(2)) for match in _HEADER_LINE.finditer(comment)]
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/xml"))
    return headers


def _reason_class(reason: str | None) -> str:
    """A reason without its counts and line/column detail, so equal causes count together."""
    text = _POSITION.sub("", reason or "(no reason)")
    return _COUNT.sub("N entries", text)


def _assert_clean(entries: list[FeedEntry], where: str) -> None:
    """Links absolute http(s)/file and normalized, no script tag left in a title or summary."""
    for entry in entries:
        parts = urlsplit(entry.link)
        assert parts.scheme in ("http", "https", "file"), (where, entry.link)
        assert parts.scheme == "file" or parts.hostname, (where, entry.link)
        assert normalize_url(entry.link) == entry.link, (where, entry.link)
        assert entry.title is None or "<script" not in entry.title.lower(), (where, entry.title)
        assert entry.summary is None or "<script" not in entry.summary.lower(), (where, entry.summary)


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"feedparser corpus not found at {CORPUS}")
def test_every_corpus_feed_is_read_or_recorded_with_a_reason(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="werkzeug")  # one access-log line per feed drowns the counts
    files = sorted(path for path in CORPUS.rglob("*.xml") if path.is_file())
    assert len(files) == EXPECTED_FILES, f"corpus has {len(files)} feeds, expected {EXPECTED_FILES}"

    served: dict[str, tuple[bytes, list[tuple[str, str]]]] = {}
    for path in files:
        body = path.read_bytes()
        served["/" + path.relative_to(CORPUS).as_posix()] = (body, _served_headers(body))

    # One handler looking paths up in a dict: 2,106 separate expectations would be matched one by one
    # on every request.
    def respond(request: Request) -> Response:
        body, headers = served[request.path]
        return Response(body, status=200, headers=headers)

    httpserver.expect_request(re.compile(r"^/.+\.xml$")).respond_with_handler(respond)

    config = PassConfig(database_url="sqlite://", watchlist_file="", policy=LOOPBACK_POLICY)
    outcomes: Counter[str] = Counter()
    by_folder: Counter[tuple[str, str]] = Counter()
    reasons: Counter[tuple[str, str]] = Counter()
    with_entries = 0
    bytes_read = 0
    crashes: list[str] = []
    started = time.perf_counter()
    with make_client(config.policy) as client:
        for number, path_on_server in enumerate(served):
            url = httpserver.url_for(path_on_server)
            try:
                result = poll_feed(client, FeedJob(number, url), config)
            except Exception as exc:  # the assertion below reports them all at once
                crashes.append(f"{path_on_server}: {type(exc).__name__}: {exc}")
                continue
            poll = result.poll
            outcomes[poll.outcome] += 1
            by_folder[(path_on_server.split("/")[1], poll.outcome)] += 1
            reasons[(poll.outcome, _reason_class(poll.reason))] += 1
            assert poll.reason, (path_on_server, poll)  # every outcome is explained, success included
            assert poll.status_code == 200, (path_on_server, poll)
            if result.entries:
                with_entries += 1
                _assert_clean(result.entries, path_on_server)
            bytes_read += len(served[path_on_server][0])
    elapsed = time.perf_counter() - started

    print(
        f"\nfeedparser corpus: {len(files)} feeds through poll_feed in {elapsed:.1f} s, "
        f"{bytes_read:,} bytes; {with_entries} yielded linked entries"
    )
    for outcome, count in sorted(outcomes.items()):
        print(f"  {count:5d}  {outcome}")
    for (folder, outcome), count in sorted(by_folder.items()):
        print(f"  {count:5d}  {folder}/: {outcome}")
    for (outcome, reason), count in sorted(reasons.items(), key=lambda item: (-item[1], item[0])):
        print(f"  {count:5d}  {outcome}: {reason}")

    assert crashes == []
    assert sum(outcomes.values()) == len(files)
    assert not FETCH_FAILURES & set(outcomes), outcomes  # the fetcher read every corpus answer
    # Most corpus files test one element and carry no <link> at all (1,101 such entries); 87 feeds yield
    # linked entries, and a drop below 80 means links are being lost.
    assert with_entries >= 80
    assert set(outcomes) <= {"ok", "parse_error", "not_feed"}, outcomes
    # Every well-formed feed is read. Failures are the ill-formed documents, the entity tests (HTML entities
    # undefined in XML, in documents with no entries: "broken feed") and a few encoding tests; 277 measured.
    wellformed = sum(1 for path in served if path.startswith("/wellformed/"))
    assert by_folder[("wellformed", "ok")] == wellformed
    assert outcomes["parse_error"] + outcomes["not_feed"] <= 280
    assert elapsed < TIME_BUDGET_SECONDS, f"corpus took {elapsed:.1f} s"
