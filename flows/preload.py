"""Imported by the link workers' fork server only (flows/runner.py): the pipeline, warmed for the configured pass.

The fork server imports its preload modules once, before it forks any worker; a worker forked from it then
starts with the watchlist and topics parsed and their matchers built (flows.steps.warm_worker, ~0.2 s of CPU
each), as it would after its first batch. They are warmed for the PRESSWATCH_* settings the fork server was
started with; a pass configured otherwise loads its own files in each worker, as without this module.
"""

from __future__ import annotations

from contextlib import suppress

from flows.steps import pass_config, warm_worker
from presswatch.settings import load_settings

# Only a head start: settings that do not load, or files that do not parse, leave workers to warm up as before
# (and each batch to report the problem); the fork server must start whatever happens here.
with suppress(Exception):
    warm_worker(pass_config(load_settings()))
