"""Engines and sessions for SQLite and PostgreSQL, and the Alembic upgrade every pass runs first."""

from __future__ import annotations

import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError, SQLAlchemyError

from presswatch.errors import ConfigError, StorageError

if sys.platform != "win32":
    import fcntl
if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Any fixed 64-bit number, the same in every presswatch process: the key of the PostgreSQL migration lock.
MIGRATION_LOCK_KEY = 7_305_847_411_203_551_311


def mask_url(url: str | URL) -> str:
    """The URL with its password replaced by ***, safe to print."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        return "<unparseable database URL>"
    return parsed.render_as_string(hide_password=True)


def parse_database_url(url: str) -> URL:
    """Parse and check a database URL, raising ConfigError with one clear line when it is unusable."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            f"invalid database URL {mask_url(url)!r}: expected e.g. sqlite:///data/presswatch.db "
            "or postgresql+psycopg://user@host:5432/dbname"
        ) from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(f"unsupported database {backend!r} in {mask_url(parsed)}: use sqlite or postgresql")
    return parsed


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling begins lazily and deferred; two writers then deadlock with
    # "database is locked". We take over: autocommit at the driver, BEGIN IMMEDIATE at SQLAlchemy's begin.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        _enable_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _enable_wal(cursor: Any) -> None:
    """Switch the database to WAL, retrying while another connection does the same.

    On a new database file, connections opened at the same moment (two passes started together) race to
    change the journal mode, and SQLite refuses the losers at once with "database is locked" instead of
    waiting for the busy time-out. Once the file is in WAL mode the statement is a cheap no-op.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


# The views and reports use AS MATERIALIZED (3.35), NULLS LAST (3.30), window functions and FTS5.
MIN_SQLITE = (3, 35, 0)


def require_sqlite_version(version: tuple[int, int, int] = sqlite3.sqlite_version_info) -> None:
    """Refuse, with one line, an SQLite library older than the schema's SQL needs."""
    if version < MIN_SQLITE:
        found, needed = ".".join(map(str, version)), ".".join(map(str, MIN_SQLITE))
        raise ConfigError(f"SQLite {found} is too old: presswatch needs {needed} or newer (or use PostgreSQL)")


def make_engine(url: str) -> Engine:
    """An engine for the URL; SQLite gets WAL, a busy time-out and immediate write transactions."""
    parsed = parse_database_url(url)
    if parsed.get_backend_name() == "sqlite":
        require_sqlite_version()
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(parsed, pool_pre_ping=True)
    except NoSuchModuleError:
        raise ConfigError(f"no driver for {mask_url(parsed)}: install it or use postgresql+psycopg://") from None
    except (ArgumentError, ImportError) as exc:
        raise ConfigError(f"cannot use database URL {mask_url(parsed)}: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        _configure_sqlite(engine)
    return engine


def describe_db_error(exc: SQLAlchemyError, url: str | URL) -> str:
    """One line explaining a database failure, with the URL's password masked."""
    original = exc.orig if isinstance(exc, DBAPIError) else exc
    first_line = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    return f"database {mask_url(url)}: {first_line}"


def check_connection(engine: Engine) -> None:
    """Connect once, raising StorageError with one clear line when the database cannot be reached."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        raise StorageError(f"cannot connect to {describe_db_error(exc, engine.url)}") from None


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """A connection inside one transaction; a lost or refused connection becomes one-line StorageError."""
    try:
        with engine.begin() as connection:
            yield connection
    except OperationalError as exc:
        raise StorageError(f"database error on {describe_db_error(exc, engine.url)}") from None


def bind_time(engine: Engine, value: datetime | None) -> object:
    """A UTC timestamp in the form this backend compares with stored ones (SQLite: naive ISO text)."""
    if value is None:
        return None
    utc = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return utc.replace(tzinfo=None).isoformat(sep=" ") if engine.dialect.name == "sqlite" else utc


def alembic_config(engine: Engine) -> Config:
    """An Alembic config that runs the project's migrations on this engine."""
    from alembic.config import Config  # imported when needed: link workers never migrate (0.3 s of imports)

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    config.attributes["engine"] = engine
    return config


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """One migrator at a time: two passes starting on a fresh database would both run the same migration.

    PostgreSQL: a session advisory lock. SQLite: an exclusive lock on a file beside the database, because
    Alembic runs each SQLite migration in a transaction of its own after reading the revision once, so a
    second migrator could slip in between two of them. Both locks go away with the process that held them.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
        return
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if sys.platform == "win32" or not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    lock_path = Path(database).expanduser().resolve().with_name(Path(database).name + "-migrate.lock")
    try:
        handle = lock_path.open("a+b")
    except OSError:
        # A read-only folder: nothing can be migrated there anyway, and Alembic says so if it must try.
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision` (the newest by default); concurrent callers migrate one after another."""
    from alembic import command

    check_connection(engine)
    try:
        with _migration_lock(engine):
            command.upgrade(alembic_config(engine), revision)
    except SQLAlchemyError as exc:
        raise StorageError(f"migration failed on {describe_db_error(exc, engine.url)}") from None


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema down to `revision` ("base" removes every table)."""
    from alembic import command

    try:
        command.downgrade(alembic_config(engine), revision)
    except SQLAlchemyError as exc:
        raise StorageError(f"downgrade failed on {describe_db_error(exc, engine.url)}") from None
