"""The throughput benchmark at a tiny N: every variant stores exactly one story per page (a check, not a timing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `benchmarks` is a folder of scripts, not an installed package
    sys.path.insert(0, str(REPO))

from benchmarks.loopback import SEED_TEXT, LoopbackSite, build_routes, generated_pages  # noqa: E402
from benchmarks.throughput import run_bare, run_steps  # noqa: E402

# The generated pages are rendered from the shared seed text, which lives beside the checkout (../shared).
pytestmark = pytest.mark.skipif(not SEED_TEXT.exists(), reason=f"shared seed text not found at {SEED_TEXT}")

N = 12
PER_FEED = 5


def rows(database_url: str, table: str) -> int:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        count = int(connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())
    engine.dispose()
    return count


def test_generated_pages_share_a_canonical_url_that_the_site_overrides_per_url() -> None:
    pages = generated_pages(3)
    assert len(set(pages)) == 3
    routes, site = build_routes(pages, 7, "http://127.0.0.1:9", per_feed=PER_FEED)
    assert len(site.page_urls) == 7 and len(site.feed_urls) == 2
    for url in site.page_urls:
        body = routes[url.removeprefix(site.base_url)].body
        assert f'<link rel="canonical" href="{url}">'.encode() in body
    feed = routes[site.feed_urls[1].removeprefix(site.base_url)].body
    assert feed.count(b"<item>") == 2 and site.page_urls[6].encode() in feed


def test_bare_loops_and_presswatch_steps_store_one_story_per_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRESSWATCH_BATCH_SIZE", "5")  # three batches, so both processes get work
    with LoopbackSite(generated_pages(N), N, PER_FEED) as site:
        feeds_file = tmp_path / "feeds.yaml"
        feeds_file.write_text("feeds:\n" + "".join(f"  - url: {url}\n" for url in site.feed_urls), encoding="utf-8")
        results = []
        for processes in (1, 2):
            url = f"sqlite:///{tmp_path / f'bare-{processes}.db'}"
            results.append((run_bare(site, processes, url, batch_size=5), url))
        (tmp_path / "stages").mkdir()
        url = f"sqlite:///{tmp_path / 'steps.db'}"
        results.append((run_steps(feeds_file, url, str(tmp_path / "stages"), workers=2), url))
    for result, url in results:
        assert result.stories == N, result.name
        assert rows(url, "articles") == N
        assert rows(url, "mentions") > N  # every generated page names several watched companies
        assert result.seconds > 0
        assert set(result.stages) == {"feeds", "fetch", "extract", "tag", "store", "other"}
        assert result.stages["extract"] > 0 and result.stages["tag"] > 0, result.name
    steps = results[2][0]
    assert steps.notes["batches"] == 3 and steps.notes["failures"] == 0
    assert rows(results[2][1], "fetch_events") == N + len(site.feed_urls)


def test_script_runs_a_prefect_pass_and_reports_every_variant_as_json(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PRESSWATCH_BATCH_SIZE": "25",  # one batch: the flow runs it in a thread, which keeps this test short
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    env.pop("PREFECT_API_URL", None)  # ephemeral mode, as `presswatch run` uses by default
    command = [sys.executable, str(REPO / "benchmarks" / "throughput.py"), "--n", str(N), "--pages", "generated"]
    command += ["--per-feed", str(PER_FEED), "--skip-steps", "--json"]
    command += ["--workdir", str(tmp_path / "work")]
    finished = subprocess.run(command, capture_output=True, text=True, env=env, timeout=150, check=False)
    assert finished.returncode == 0, finished.stderr[-3000:]
    report = json.loads(finished.stdout)
    names = [variant["name"] for variant in report["variants"]]
    assert names == [
        "bare loop, 1 process",
        "bare loop, 2 processes",
        "Prefect pass (server already up)",
        "Prefect pass (incl. first server start)",
    ]
    assert all(variant["stories"] == N for variant in report["variants"])
    assert rows(f"sqlite:///{tmp_path / 'work' / 'flow-1.db'}", "articles") == N
    flow_pass = report["variants"][2]
    assert f"Stored {N} new stories" in flow_pass["notes"]["headline"]
    assert flow_pass["stages"]["extract"] > 0  # the timers wrapped around flows.steps saw the work
    assert report["variants"][3]["seconds"] > flow_pass["seconds"]
    assert {"pass_vs_bare_1_process", "pass_vs_bare_2_processes"} <= set(report["ratios"])
    assert report["config"]["pages"] == N and report["machine"]["cpus"] >= 1
