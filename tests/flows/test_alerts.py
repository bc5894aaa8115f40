"""The spike-alerts flow finds a burst of coverage and posts it to a loopback webhook."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer

from extractors.models import EntityTag, ExtractedArticle, WatchedEntity, Watchlist
from flows.alerts import WebhookError, mask_webhook, spike_alerts
from storage.db import make_engine, upgrade
from storage.writes import Story, store_batch, sync_watchlist


def seed_burst(url: str, stories_today: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    sync_watchlist(engine, Watchlist((WatchedEntity("alibaba", "Alibaba", "company"),)))
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    when = [now - timedelta(days=5)] + [now] * stories_today
    batch = []
    for n, moment in enumerate(when):
        article = ExtractedArticle(f"https://n.example/{n}", f"https://n.example/{n}", "Alibaba.", published=moment)
        batch.append(Story(article.url, article, [EntityTag("alibaba", "Alibaba", "company", 1, False)], None, moment))
    store_batch(engine, batch, [])
    engine.dispose()


def test_a_burst_is_posted_to_the_webhook_as_json(httpserver: HTTPServer, sqlite_url: str) -> None:
    seed_burst(sqlite_url, stories_today=4)
    httpserver.expect_request("/hooks/secret-token", method="POST").respond_with_data("ok")
    found = spike_alerts(
        webhook_url=SecretStr(httpserver.url_for("/hooks/secret-token")), database_url=SecretStr(sqlite_url)
    )
    assert [(s["entity_id"], s["stories"]) for s in found] == [("alibaba", 4)]
    [(request, _)] = httpserver.log
    payload = json.loads(request.data)
    assert payload["spikes"][0]["entity_id"] == "alibaba" and payload["spikes"][0]["stories"] == 4
    assert "Coverage spikes" in payload["text"]


def test_quiet_coverage_posts_nothing(httpserver: HTTPServer, sqlite_url: str) -> None:
    seed_burst(sqlite_url, stories_today=2)
    found = spike_alerts(webhook_url=SecretStr(httpserver.url_for("/hook")), database_url=SecretStr(sqlite_url))
    assert found == [] and httpserver.log == []


def test_a_failing_webhook_fails_the_run_without_showing_the_token(httpserver: HTTPServer, sqlite_url: str) -> None:
    seed_burst(sqlite_url, stories_today=5)
    httpserver.expect_request("/hooks/secret-token").respond_with_data("nope", status=500)
    with pytest.raises(WebhookError) as caught:
        spike_alerts(
            webhook_url=SecretStr(httpserver.url_for("/hooks/secret-token")), database_url=SecretStr(sqlite_url)
        )
    assert "secret-token" not in str(caught.value) and "HTTP 500" in str(caught.value)


def test_mask_webhook_keeps_only_scheme_and_host() -> None:
    assert mask_webhook("https://hooks.slack.example/services/T000/B000/XXXX?x=1") == "https://hooks.slack.example/***"
