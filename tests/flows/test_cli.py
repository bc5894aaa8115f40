"""The `presswatch` command line: one clear line for every mistake, real output for real work."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import text

from flows.cli import main
from storage.db import make_engine

REPO = Path(__file__).resolve().parents[2]
SEED_PAGE = REPO / "seeds" / "fixture" / "jack-ma-comeback.html"
EXPECTED = json.loads((REPO / "seeds" / "fixture" / "jack-ma-comeback.expected.json").read_text(encoding="utf-8"))


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    return err


def test_mistyped_option_is_one_line_with_a_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--feds", "x.yaml"]) == 2
    assert "No such option: --feds" in one_error_line(capsys)


def test_mistyped_command_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runn"]) == 2
    assert "Did you mean 'run'" in one_error_line(capsys)


def test_bad_database_url_is_one_line_and_masks_the_password(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--database-url", "postgres://analyst:t0psecret@db/press"]) == 1
    line = one_error_line(capsys)
    assert "unsupported database" in line and "t0psecret" not in line


def test_unreachable_database_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql+psycopg://analyst:t0psecret@127.0.0.1:1/press?connect_timeout=2"
    assert main(["run", "--database-url", url]) == 1
    line = one_error_line(capsys)
    assert "cannot connect" in line and "t0psecret" not in line


def test_missing_feeds_file_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["run", "--feeds", str(tmp_path / "nope.yaml")]) == 1
    assert "feeds file not found" in one_error_line(capsys)


def test_help_does_not_show_secrets(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PRESSWATCH_DATABASE_URL", "postgresql+psycopg://u:t0psecret@db/press")
    assert main(["run", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--database-url" in out and "t0psecret" not in out


def test_extract_json_prints_one_object_per_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["extract", str(SEED_PAGE), str(SEED_PAGE), "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    record = json.loads(lines[0])
    assert set(record) == {
        "url",
        "canonical_url",
        "title",
        "author",
        "published",
        "language",
        "sitename",
        "text",
        "entities",
        "date_source",
        "word_count",
        "truncated",
        "extractor",
    }
    assert record["canonical_url"] == EXPECTED["canonical_url"]
    assert record["published"] == "2025-03-14T08:30:00+00:00"
    ids = {entity["id"] for entity in record["entities"]}
    assert {"alibaba", "jd", "pdd", "tencent", "huawei", "amazon", "microsoft", "jack-ma"} <= ids
    alibaba = next(entity for entity in record["entities"] if entity["id"] == "alibaba")
    assert alibaba["kind"] == "company" and alibaba["in_title"] is True


def test_extract_from_a_loopback_url(httpserver: HTTPServer, capsys: pytest.CaptureFixture[str]) -> None:
    httpserver.expect_request("/story").respond_with_data(SEED_PAGE.read_bytes(), content_type="text/html")
    assert main(["extract", httpserver.url_for("/story"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == EXPECTED["title"]


def test_extract_of_a_pdf_fails_with_a_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pdf = tmp_path / "report.html"
    pdf.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")
    assert main(["extract", str(pdf)]) == 1
    assert "report.html" in one_error_line(capsys)


def test_run_prints_the_stored_story_then_says_nothing_new(
    seed_site: HTTPServer, feeds_file: Callable[..., Path], sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    feeds = str(feeds_file(seed_site.url_for("/feed.xml")))
    assert main(["run", "--feeds", feeds, "--database-url", sqlite_url]) == 0
    first = capsys.readouterr().out
    assert "Pacific Wire" in first and "2025-03-14 08:30" in first and "Stored 1 new story" in first
    assert main(["run", "--feeds", feeds, "--database-url", sqlite_url]) == 0
    second = capsys.readouterr().out
    assert "No new stories" in second and "1 not modified" in second  # same body: nothing to look at
    engine = make_engine(sqlite_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM articles")).scalar_one() == 1
    engine.dispose()


def test_db_upgrade_command(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade", "--database-url", sqlite_url]) == 0
    assert "newest schema revision" in capsys.readouterr().out


def test_console_script_is_installed() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "presswatch"), "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and "run" in result.stdout and "extract" in result.stdout
