"""A mistyped or unreachable database URL gives one clear line, and never shows a password."""

from __future__ import annotations

import pytest

from presswatch.errors import ConfigError, StorageError
from storage.db import check_connection, make_engine, mask_url, require_sqlite_version


@pytest.mark.parametrize(
    "url",
    ["not a url", "sqllite:///data/x.db", "mysql://root@localhost/x", "postgresql+nosuchdriver://u@h/d"],
)
def test_unusable_database_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make_engine(url)
    assert "\n" not in str(caught.value)


def test_unreachable_postgres_is_one_line_with_the_password_masked() -> None:
    engine = make_engine("postgresql+psycopg://alice:s3cret@127.0.0.1:1/nowhere?connect_timeout=2")
    with pytest.raises(StorageError) as caught:
        check_connection(engine)
    message = str(caught.value)
    assert "\n" not in message
    assert "s3cret" not in message
    assert "alice:***@127.0.0.1:1" in message


def test_mask_url_hides_the_password() -> None:
    assert mask_url("postgresql+psycopg://bob:hunter2@db:5432/press") == "postgresql+psycopg://bob:***@db:5432/press"


def test_sqlite_file_folder_is_created(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'deep' / 'er' / 'x.db'}")
    check_connection(engine)
    assert (tmp_path / "deep" / "er" / "x.db").exists()
    engine.dispose()


def test_an_sqlite_library_too_old_for_the_schema_is_refused_in_one_line() -> None:
    with pytest.raises(ConfigError, match=r"^SQLite 3\.31\.1 is too old: presswatch needs 3\.35\.0 or newer"):
        require_sqlite_version((3, 31, 1))
    require_sqlite_version((3, 35, 0))  # the oldest accepted
