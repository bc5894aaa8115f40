"""The database going away mid-pass: one clear line, no secret, and nothing marked done that wasn't written.

Two ways to lose PostgreSQL while a pass downloads pages: the database is dropped (`DROP DATABASE ... WITH
(FORCE)`), or the network path to it is cut (a loopback TCP proxy in front of the server is closed). Each
scenario runs once per module; several tests read what it left.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from storage.db import make_engine
from tests.reliability.conftest import (
    TRACEBACK,
    Integrity,
    LoopbackSite,
    PassLauncher,
    PassRun,
    canonical_urls,
    integrity,
    rss,
    story_page,
    write_feeds_file,
)

pytestmark = pytest.mark.postgres

# Under the test server's trust authentication any password is accepted, so a real-looking one can be
# given and then searched for in everything a pass printed, logged or published.
PASSWORD = "Pw-3xAmple-s3cret-d0-not-print"
STORIES = 16
SETTINGS = {"batch_size": "4", "workers": "1"}
# The first batch's pages are quick and the others slow, so the first batch is stored well before the rest:
# a cut then falls between the commits of one pass.
FAST_PAGE, SLOW_PAGE = 0.02, 0.25
FEED_ETAG = '"feed-v1"'


@dataclass
class Scenario:
    """What a pass that lost its database left behind, and what the next pass did."""

    failed: PassRun
    recovered: PassRun
    expected: list[str]
    stored_before_recovery: list[str]
    stored: list[str]
    integrity: Integrity
    database_name: str


def _admin(postgres_url: str, sql: str) -> None:
    engine = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(sql))
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def _module_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("database-loss")


def _scratch_database(postgres_url: str) -> URL:
    """A new PostgreSQL database addressed with a password (the caller drops it)."""
    name = f"presswatch_loss_{uuid.uuid4().hex[:10]}"
    _admin(postgres_url, f'CREATE DATABASE "{name}"')
    return make_url(postgres_url).set(database=name, password=PASSWORD)


def _news_site(workdir: Path, slow: float = SLOW_PAGE) -> tuple[LoopbackSite, Path, list[str]]:
    """One feed (with an ETag) of slow-ish pages; returns the site, its feeds file and the canonical URLs."""
    site = LoopbackSite()
    items, canonicals = [], []
    for number in range(STORIES):
        path = f"/news/{number}.html"
        canonical = f"https://news.example/loss/{number}"
        site.add(path, story_page(canonical), delay=FAST_PAGE if number < int(SETTINGS["batch_size"]) else slow)
        items.append((f"Story {number}", site.url(path), None))
        canonicals.append(canonical)
    feed = site.add("/feed.xml", rss(items), "application/rss+xml", headers={"ETag": FEED_ETAG})
    return site, write_feeds_file(workdir / "feeds.yaml", [feed]), sorted(canonicals)


def _stored(url: str) -> tuple[list[str], Integrity]:
    engine = make_engine(url)
    try:
        return canonical_urls(engine), integrity(engine)
    finally:
        engine.dispose()


class TcpProxy:
    """A loopback TCP forwarder to PostgreSQL that can be cut: every connection dropped, new ones refused."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Refuse new connections and reset the open ones, as a dead server or network would."""
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()


@pytest.fixture(scope="module")
def dropped(postgres_url: str, prefect_api_url: str, _module_dir: Path, _prefect_home: Path) -> Iterator[Scenario]:
    """A pass whose database is dropped once it downloads pages; then the database is recreated and a pass run."""
    workdir = _module_dir / "dropped"
    workdir.mkdir()
    launcher = PassLauncher(prefect_api_url, workdir, _prefect_home)
    # Retries re-download a failed batch's pages: quick pages keep this scenario short.
    site, feeds, expected = _news_site(workdir, slow=0.05)
    database = _scratch_database(postgres_url)
    url = database.render_as_string(hide_password=False)
    try:
        running = launcher.start(feeds, url, SETTINGS)
        assert site.wait_for("/news/", 2, timeout=60, give_up=lambda: not running.alive()), running.wait(5).stderr
        _admin(postgres_url, f'DROP DATABASE "{database.database}" WITH (FORCE)')
        failed = running.wait(timeout=120)
        _admin(postgres_url, f'CREATE DATABASE "{database.database}"')
        recovered = launcher.run(feeds, url, SETTINGS)
        stored, found = _stored(url)
        yield Scenario(failed, recovered, expected, [], stored, found, str(database.database))
    finally:
        site.close()
        _admin(postgres_url, f'DROP DATABASE IF EXISTS "{database.database}" WITH (FORCE)')


@pytest.fixture(scope="module")
def cut_off(postgres_url: str, prefect_api_url: str, _module_dir: Path, _prefect_home: Path) -> Iterator[Scenario]:
    """A pass reaching PostgreSQL through a proxy that is cut after its first batch is stored; then a direct pass."""
    workdir = _module_dir / "cut"
    workdir.mkdir()
    launcher = PassLauncher(prefect_api_url, workdir, _prefect_home)
    site, feeds, expected = _news_site(workdir)
    database = _scratch_database(postgres_url)
    direct = database.render_as_string(hide_password=False)
    target = (database.host or "127.0.0.1", database.port or 5432)
    proxy = TcpProxy(target)
    through_proxy = database.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    try:
        running = launcher.start(feeds, through_proxy, SETTINGS)
        deadline = time.monotonic() + 90
        while running.alive() and time.monotonic() < deadline:
            if site.count("/news/") and _count_articles(direct) > 0:
                break
            time.sleep(0.05)
        proxy.cut()
        failed = running.wait(timeout=120)
        stored_before, _ = _stored(direct)
        recovered = launcher.run(feeds, direct, SETTINGS)
        stored, found = _stored(direct)
        yield Scenario(failed, recovered, expected, stored_before, stored, found, str(database.database))
    finally:
        proxy.cut()
        site.close()
        _admin(postgres_url, f'DROP DATABASE IF EXISTS "{database.database}" WITH (FORCE)')


def _count_articles(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM articles")).scalar_one())
    except Exception:  # noqa: BLE001 - the schema may not exist yet
        return 0
    finally:
        engine.dispose()


def _error_lines(run: PassRun) -> list[str]:
    return [line for line in run.stderr.splitlines() if line.startswith("presswatch: error:")]


# --- the database is dropped ---------------------------------------------------------------------


def test_dropped_database_fails_the_pass_with_one_masked_line(dropped: Scenario) -> None:
    failed = dropped.failed
    print(f"\ndropped: exit {failed.returncode} after {failed.seconds:.1f} s: {_error_lines(failed)}")
    assert failed.returncode != 0
    [line] = _error_lines(failed)
    assert failed.stderr.strip().splitlines()[-1] == line  # the last word is the reason
    assert dropped.database_name in line and "does not exist" in line
    assert PASSWORD not in failed.output and "***" in line


def test_after_the_database_is_recreated_a_pass_stores_everything(dropped: Scenario) -> None:
    assert dropped.recovered.returncode == 0, dropped.recovered.stderr[-3000:]
    assert dropped.stored == dropped.expected
    assert dropped.integrity.without_mentions == []
    assert dropped.integrity.stored_events_without_article == []


def test_dropped_database_prints_no_traceback(dropped: Scenario) -> None:
    assert not TRACEBACK.search(dropped.failed.stderr), dropped.failed.stderr[-3000:]


# --- the connection is cut -----------------------------------------------------------------------


def test_cut_connection_fails_the_pass_with_one_masked_line(cut_off: Scenario) -> None:
    failed = cut_off.failed
    print(f"\ncut: exit {failed.returncode} after {failed.seconds:.1f} s: {_error_lines(failed)}")
    assert failed.returncode != 0
    [line] = _error_lines(failed)
    assert failed.stderr.strip().splitlines()[-1] == line
    assert cut_off.database_name in line
    assert PASSWORD not in failed.output


def test_after_a_cut_the_next_pass_stores_exactly_the_missing_stories(cut_off: Scenario) -> None:
    print(f"\ncut: {len(cut_off.stored_before_recovery)} of {STORIES} stories stored before the cut")
    assert 0 < len(cut_off.stored_before_recovery) < STORIES  # the cut really fell mid-pass
    assert cut_off.recovered.returncode == 0, cut_off.recovered.stderr[-3000:]
    # The feed was not marked read (its ETag not saved), so the next pass re-read it in full...
    headline = cut_off.recovered.stdout.strip().splitlines()[-1]
    assert "0 not modified" in headline, headline
    # ...and stored exactly the stories the cut pass had not written, each once.
    assert f"{len(cut_off.stored_before_recovery)} link(s) already stored" in headline, headline
    assert cut_off.stored == cut_off.expected
    assert cut_off.integrity.duplicate_canonicals == []
    assert cut_off.integrity.without_mentions == []
    assert cut_off.integrity.stored_events_per_article_over_one == []


def test_cut_connection_prints_no_traceback(cut_off: Scenario) -> None:
    assert not TRACEBACK.search(cut_off.failed.stderr), cut_off.failed.stderr[-3000:]


# --- secrets -------------------------------------------------------------------------------------


def test_password_never_reaches_output_logs_or_artifacts(dropped: Scenario, cut_off: Scenario) -> None:
    for run in (dropped.failed, dropped.recovered, cut_off.failed, cut_off.recovered):
        assert PASSWORD not in run.output
    for run in (dropped.failed, cut_off.failed):
        assert "presswatch_loss_" in run.stderr  # the errors do name the database
    published = _everything_prefect_recorded()
    assert dropped.database_name in published and cut_off.database_name in published  # logs reached the API
    assert PASSWORD not in published


def _everything_prefect_recorded() -> str:
    """Flow runs (with their parameters), logs and artifacts of this session's Prefect API, as one JSON text."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, FlowRunFilter, LogFilter, TaskRunFilter
    from prefect.client.schemas.sorting import ArtifactSort, FlowRunSort, LogSort

    records: list[object] = []
    with get_client(sync_client=True) as client:
        for offset in range(0, 100_000, 200):
            page = client.read_flow_runs(sort=FlowRunSort.ID_DESC, limit=200, offset=offset)
            records += [run.model_dump(mode="json") for run in page]
            if len(page) < 200:
                break
        for offset in range(0, 100_000, 200):
            logs = client.read_logs(LogFilter(), limit=200, offset=offset, sort=LogSort.TIMESTAMP_ASC)
            records += [log.model_dump(mode="json") for log in logs]
            if len(logs) < 200:
                break
        for offset in range(0, 100_000, 200):
            artifacts = client.read_artifacts(
                artifact_filter=ArtifactFilter(),
                flow_run_filter=FlowRunFilter(),
                task_run_filter=TaskRunFilter(),
                limit=200,
                offset=offset,
                sort=ArtifactSort.CREATED_DESC,
            )
            records += [artifact.model_dump(mode="json") for artifact in artifacts]
            if len(artifacts) < 200:
                break
    return json.dumps(records)
