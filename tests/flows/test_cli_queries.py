"""`presswatch search`, `report` and `sql` over a database holding the seed story."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from flows.cli import main

DEFAULT_FEEDS = Path(__file__).resolve().parents[2] / "seeds" / "feeds.yaml"


@pytest.fixture(scope="module")
def seeded_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('cli') / 'presswatch.db'}"
    assert main(["run", "--feeds", str(DEFAULT_FEEDS), "--database-url", url]) == 0
    return url


def test_search_prints_matching_stories_with_a_snippet(seeded_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert (
        main(
            [
                "search",
                "artificial intelligence",
                "--entity",
                "alibaba",
                "--format",
                "csv",
                "--database-url",
                seeded_url,
            ]
        )
        == 0
    )
    [row] = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert row["outlet"] == "Pacific Wire" and row["published"] == "2025-03-14 08:30"
    assert "[artificial]" in row["snippet"] and row["url"].startswith("https://www.pacificwire.example/")


def test_search_since_after_the_story_finds_nothing(seeded_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["search", "Alibaba", "--since", "2026-01-01", "--format", "json", "--database-url", seeded_url]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_search_shows_times_in_the_requested_zone(seeded_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["search", "Hangzhou", "--tz", "Asia/Shanghai", "--format", "json", "--database-url", seeded_url]) == 0
    assert json.loads(capsys.readouterr().out)[0]["published"] == "2025-03-14 16:30"


def test_report_json_has_share_of_voice_top_stories_and_spikes(
    seeded_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["report", "--since", "2025-03-01", "--format", "json", "--database-url", seeded_url]) == 0
    report = json.loads(capsys.readouterr().out)
    shares = {row["entity_id"]: row["stories"] for row in report["share_of_voice"]}
    assert {"alibaba", "jd", "pdd", "tencent"} <= set(shares) and shares["alibaba"] == 1
    assert report["top_stories"][0]["entity_id"] == "alibaba" and report["top_stories"][0]["in_title"] is True
    assert report["spikes"] == []


def test_report_shows_top_story_times_in_the_requested_zone(
    seeded_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The seed story was published 2025-03-14 08:30 UTC: 16:30 in Shanghai (UTC+8).
    published: dict[str, list[str]] = {}
    for zone in ("UTC", "Asia/Shanghai"):
        capsys.readouterr()
        args = ["report", "--since", "2025-03-01", "--tz", zone, "--format", "csv", "--database-url", seeded_url]
        assert main(args) == 0
        sections = capsys.readouterr().out.split("\n\n")
        [top] = [section for section in sections if section.startswith("entity,title,outlet,published,")]
        published[zone] = [row["published"] for row in csv.DictReader(io.StringIO(top))]
    assert published["UTC"] and set(published["UTC"]) == {"2025-03-14 08:30"}
    assert set(published["Asia/Shanghai"]) == {"2025-03-14 16:30"}
    capsys.readouterr()
    args = [
        "report",
        "--since",
        "2025-03-01",
        "--tz",
        "Asia/Shanghai",
        "--format",
        "json",
        "--database-url",
        seeded_url,
    ]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert {story["published_at"] for story in report["top_stories"]} == {"2025-03-14 16:30"}


def test_sql_reads_the_views_and_refuses_writes(seeded_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    query = "SELECT entity_id, stories FROM coverage_daily WHERE entity_id = 'alibaba'"
    assert main(["sql", query, "--format", "csv", "--database-url", seeded_url]) == 0
    assert capsys.readouterr().out == "entity_id,stories\nalibaba,1\n"
    assert main(["sql", "DELETE FROM articles", "--database-url", seeded_url]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "read-only" in err


def test_bad_format_timezone_and_since_are_one_line(seeded_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["report", "--format", "xml"], ["report", "--tz", "Mars/Base"], ["report", "--since", "soon"]):
        capsys.readouterr()
        assert main([*args, "--database-url", seeded_url]) != 0
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err


def test_feeds_add_list_and_remove_keep_the_file_readable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("# my feeds\nfeeds:\n  - url: https://a.example/feed.xml\n    name: A\n", encoding="utf-8")
    monkeypatch.setenv("PRESSWATCH_FEEDS_FILE", str(feeds))
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    assert main(["feeds", "add", "https://b.example/rss", "--name", "B"]) == 0
    assert main(["feeds", "add", "https://b.example/rss"]) == 0
    capsys.readouterr()
    assert main(["feeds", "--format", "csv", "--database-url", url]) == 0
    listed = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(row["name"], row["url"], row["last status"]) for row in listed] == [
        ("A", "https://a.example/feed.xml", "never read"),
        ("B", "https://b.example/rss", "never read"),
    ]
    assert main(["feeds", "remove", "https://a.example/feed.xml"]) == 0
    assert feeds.read_text(encoding="utf-8") == "# my feeds\nfeeds:\n  - url: https://b.example/rss\n    name: B\n"
    assert main(["feeds", "remove", "https://nope.example/"]) == 1
