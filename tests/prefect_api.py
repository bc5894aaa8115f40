"""Calls to a real Prefect server's REST API from the tests that start one (served deployments, topology, stack)."""

from __future__ import annotations

import time
from typing import Any

import httpx


def api_call(api: str, method: str, path: str, body: Any = None) -> Any:
    """One Prefect API call, its JSON answer (None when empty); retried while a busy server answers 503.

    A Prefect server on a loaded 2-core machine answers 503 now and then, when its database is busy.
    """
    for attempt in range(6):
        response = httpx.request(method, f"{api}{path}", json=body, timeout=30)
        if response.status_code != 503 or attempt == 5:
            break
        time.sleep(2)
    response.raise_for_status()
    return response.json() if response.content else None
