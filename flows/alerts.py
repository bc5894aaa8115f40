"""The `spike-alerts` flow: find today's coverage spikes, publish them, and post them to a webhook."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

import httpx
from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from pydantic import Field, SecretStr

from presswatch.errors import PresswatchError
from presswatch.settings import load_settings
from storage.db import make_engine, upgrade
from storage.reports import BASELINE_DAYS, SPIKE_FACTOR, SPIKE_MIN_STORIES, SPIKE_SLACK, Spike, find_spikes


class WebhookError(PresswatchError):
    """The alert webhook refused or did not answer."""


def mask_webhook(url: str) -> str:
    """A webhook URL reduced to scheme and host: its path and query often carry a token."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}/***"


def spikes_markdown(spikes: list[Spike], first_day: str, last_day: str) -> str:
    """The spikes as a markdown report with the rule that found them."""
    rule = (
        f"a day with at least {SPIKE_MIN_STORIES} stories and more than {SPIKE_FACTOR:g} × the trailing "
        f"{BASELINE_DAYS}-day mean + {SPIKE_SLACK:g}"
    )
    lines = [f"## Coverage spikes, {first_day} to {last_day}", "", f"Rule: {rule}.", ""]
    if not spikes:
        return "\n".join([*lines, "No spikes."]) + "\n"
    lines += ["| day | entity | stories | baseline |", "|---|---|---|---|"]
    lines += [f"| {s.day} | {s.entity_name} ({s.entity_id}) | {s.stories} | {s.baseline} |" for s in spikes]
    return "\n".join(lines) + "\n"


def post_alert(url: str, payload: dict[str, Any], timeout: float = 10.0) -> None:
    """POST the alert as JSON; the webhook is the user's own setting, so its address is trusted."""
    try:
        response = httpx.post(url, json=payload, timeout=timeout)
    except httpx.HTTPError as exc:
        raise WebhookError(f"webhook {mask_webhook(url)} did not answer: {type(exc).__name__}") from None
    if response.status_code >= 300:
        raise WebhookError(f"webhook {mask_webhook(url)} answered HTTP {response.status_code}")


@flow(name="spike-alerts")
def spike_alerts(
    days: Annotated[int, Field(ge=1, le=90)] = 1,
    webhook_url: SecretStr | None = None,
    database_url: SecretStr | None = None,
) -> list[dict[str, Any]]:
    """Find spikes over the last `days` days (UTC), publish a markdown artifact, post JSON to the webhook.

    Args:
        days: How many days, ending today (UTC), to check for spikes (1-90).
        webhook_url: Where to post the alert as JSON; empty uses PRESSWATCH_WEBHOOK_URL.
        database_url: presswatch's database; empty uses the worker's PRESSWATCH_DATABASE_URL.
    """
    logger = get_run_logger()
    settings = load_settings(database_url=database_url, webhook_url=webhook_url)
    engine = make_engine(settings.database_url.get_secret_value())
    try:
        upgrade(engine)
        last = datetime.now(UTC).date()
        first = last - timedelta(days=max(days, 1) - 1)
        spikes = find_spikes(engine, first, last)
    finally:
        engine.dispose()
    report = spikes_markdown(spikes, first.isoformat(), last.isoformat())
    create_markdown_artifact(
        markdown=report, key="spike-alerts", description="Coverage spikes against a 14-day baseline"
    )
    found = [{**asdict(spike), "day": spike.day.isoformat()} for spike in spikes]
    logger.info("%d spike(s) from %s to %s", len(found), first, last)
    if found and settings.webhook_url is not None:
        url = settings.webhook_url.get_secret_value()
        post_alert(url, {"text": report, "spikes": found, "from": first.isoformat(), "to": last.isoformat()})
        logger.info("posted %d spike(s) to %s", len(found), mask_webhook(url))
    return found
