"""Runs the command line starts against Prefect's ephemeral API send no heartbeats; runs against a server do."""

from __future__ import annotations

from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

from flows.local import local_runs


def test_runs_against_the_ephemeral_api_send_no_heartbeats() -> None:
    default = get_current_settings().flows.heartbeat_frequency
    with temporary_settings(updates={PREFECT_API_URL: None}):
        with local_runs():
            assert get_current_settings().flows.heartbeat_frequency is None
        assert get_current_settings().flows.heartbeat_frequency == default


def test_runs_against_a_prefect_server_keep_their_heartbeats() -> None:
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:4200/api"}):
        default = get_current_settings().flows.heartbeat_frequency
        with local_runs():
            assert get_current_settings().flows.heartbeat_frequency == default
    assert default is not None  # Prefect's own default (180 s): the case worth keeping
