"""Fetching feeds and pages from servers nobody controls: address checks, caps, deadlines, politeness."""

from __future__ import annotations

from fetcher.addresses import check_url, host_key, politeness_key
from fetcher.http import (
    FetchPolicy,
    FetchResult,
    fetch,
    is_feed_like,
    is_html,
    make_client,
    read_local_file,
)
from fetcher.politeness import HostGate
from fetcher.responses import parse_retry_after

__all__ = [
    "FetchPolicy",
    "FetchResult",
    "HostGate",
    "check_url",
    "fetch",
    "host_key",
    "politeness_key",
    "is_feed_like",
    "is_html",
    "make_client",
    "parse_retry_after",
    "read_local_file",
]
