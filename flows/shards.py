"""Monitoring beyond one machine: `monitor-shard` runs a pass over one shard of the feeds, `monitor-cycle`
splits the feeds into shards and runs each as its own flow run of the `monitor-shard` deployment, so every
worker of a work pool takes part (docs/scaling.md).

Shards are split by a stable hash of the feed's host name, so all feeds of a host are in the same shard and
that shard's politeness gate sees every request to the host. A shard is safe anywhere, in any order, twice:
stories are written with ON CONFLICT on their canonical URL. Two runs of one shard at once may leave the
older read's validators on a feed row (the later writer wins), which costs one extra download, never a story.

The cycle takes no database URL: on a fleet the database is each worker's PRESSWATCH_DATABASE_URL, so the
secret never travels in flow-run parameters, which Prefect stores and shows in plain text.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from typing import Annotated, Any
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.states import Failed
from pydantic import BaseModel, Field, SecretStr

from fetcher.addresses import politeness_key
from flows.monitor import prepare_database, run_cycle
from flows.summary import PassSummary
from presswatch.errors import ConfigError, PresswatchError
from presswatch.feedlist import FeedSource, load_feed_list
from presswatch.settings import Settings, load_settings
from storage.db import make_engine
from storage.writes import upsert_feeds

MAX_SHARDS = 1024
SHARD_DEPLOYMENT = "monitor-shard/monitor-shard"
SHARD_ARTIFACT = "shard-summary"
COUNTS = (
    "feeds_read",
    "feeds_not_modified",
    "feeds_not_due",
    "feeds_failed",
    "links_seen",
    "links_already_stored",
    "stories_stored",
    "duplicates",
    "links_failed",
)
FINAL_STATES = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def shard_key(url: str) -> str:
    """What a feed is sharded by: its lower-case host name without port ('' for a file: URL)."""
    return politeness_key(url)


def shard_of(url: str, shards: int) -> int:
    """The shard (0 .. shards-1) a feed belongs to: a stable hash of its host, the same on every machine."""
    digest = hashlib.blake2b(shard_key(url).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def split_feeds(sources: Sequence[FeedSource], shards: int) -> list[list[FeedSource]]:
    """The feeds of each shard, in feeds-file order."""
    parts: list[list[FeedSource]] = [[] for _ in range(shards)]
    for source in sources:
        parts[shard_of(source.url, shards)].append(source)
    return parts


def counts(summary: PassSummary) -> dict[str, int]:
    """The counters of a pass summary, as a shard reports them to its cycle."""
    return {
        "feeds_read": summary.feeds_read,
        "feeds_not_modified": summary.feeds_not_modified,
        "feeds_not_due": summary.feeds_not_due,
        "feeds_failed": len(summary.feeds_failed),
        "links_seen": summary.links_seen,
        "links_already_stored": summary.links_already_stored,
        "stories_stored": summary.stories_stored,
        "duplicates": summary.duplicates,
        "links_failed": len(summary.links_failed),
    }


class ShardRun(BaseModel):
    """One shard's flow run as the cycle saw it."""

    shard: int
    flow_run_id: str
    name: str
    state: str
    message: str | None = None
    counts: dict[str, int] = Field(default_factory=dict)


class CycleSummary(BaseModel):
    """What a `monitor-cycle` run did: its shards and the sum of their counts."""

    shards: int
    runs: list[ShardRun] = Field(default_factory=list)
    totals: dict[str, int] = Field(default_factory=lambda: dict.fromkeys(COUNTS, 0))

    @property
    def incomplete(self) -> list[ShardRun]:
        """Shard runs that did not complete (failed, crashed, cancelled, or still running at the deadline)."""
        return [run for run in self.runs if run.state != "COMPLETED"]

    def headline(self) -> str:
        """One sentence saying what the cycle did."""
        t = self.totals
        done = len(self.runs) - len(self.incomplete)
        return (
            f"Cycle of {self.shards} shard(s): {done} of {len(self.runs)} run(s) completed; "
            f"{t['stories_stored']} new stories, {t['feeds_read']} feed(s) read, {t['feeds_not_modified']} not "
            f"modified, {t['feeds_not_due']} not due, {t['feeds_failed']} failed, {t['links_failed']} link(s) skipped."
        )


ShardIndex = Annotated[
    int | None,
    Field(title="Shard", description="Which shard to run (0-based); empty with Feed ids.", ge=0, le=MAX_SHARDS - 1),
]
ShardCount = Annotated[
    int, Field(title="Shards", description="How many shards the feeds are split into.", ge=1, le=MAX_SHARDS)
]
FeedIds = Annotated[
    list[int] | None,
    Field(title="Feed ids", description="Explicit feeds.id rows to read instead of a shard.", max_length=100_000),
]
FeedsFile = Annotated[
    str | None, Field(title="Feeds file", description="YAML feeds file on the worker; empty: PRESSWATCH_FEEDS_FILE.")
]
DatabaseUrl = Annotated[
    SecretStr | None, Field(title="Database URL", description="Empty: the worker's PRESSWATCH_DATABASE_URL.")
]
Workers = Annotated[
    int | None, Field(title="Worker processes", description="Processes for extraction and tagging.", ge=1, le=64)
]
OnlyDue = Annotated[
    bool,
    Field(title="Only feeds that are due", description="Skip feeds whose adaptive polling interval has not passed."),
]


@flow(name="monitor-shard", log_prints=True)
def monitor_shard(
    shard: ShardIndex = None,
    shards: ShardCount = 1,
    feed_ids: FeedIds = None,
    feeds_file: FeedsFile = None,
    database_url: DatabaseUrl = None,
    workers: Workers = None,
    only_due: OnlyDue = False,
) -> PassSummary:
    """Run a monitoring pass over one shard of the feeds file (or over explicit feed ids).

    Args:
        shard: Which shard (0-based) of `shards`; leave empty when giving `feed_ids`.
        shards: How many shards the feeds are split into (by a stable hash of each feed's host).
        feed_ids: Explicit `feeds.id` rows to read instead of a shard.
        feeds_file: YAML feeds file on the worker; empty uses PRESSWATCH_FEEDS_FILE.
        database_url: presswatch's database; empty uses the worker's PRESSWATCH_DATABASE_URL.
        workers: Processes that extract and tag in parallel (1-64).
        only_due: Read only feeds whose adaptive polling interval has passed.
    """
    try:
        settings = load_settings(feeds_file=feeds_file, database_url=database_url, workers=workers)
        index = _checked(shard, shards) if feed_ids is None else None
        # Idempotent: a shard run by hand works on a fresh database; under a cycle the schema is already at head.
        prepare_database(settings)
        ids = list(feed_ids or []) if index is None else shard_feed_ids(settings, index, shards)
        summary = run_cycle(settings, ids, only_due)
    except PresswatchError as exc:
        # As in monitor-feeds: an expected failure ends the run Failed with its one-line reason, no traceback.
        return Failed(message=str(exc), data=exc)  # type: ignore[return-value]
    row = {"shard": -1 if shard is None else shard, "shards": shards, **counts(summary)}
    create_table_artifact(table=[row], key=SHARD_ARTIFACT, description="This shard's counts, summed by its cycle")
    return summary


def _checked(shard: int | None, shards: int) -> int:
    if shard is None or shard >= shards:
        raise ConfigError(f"monitor-shard needs a shard below {shards} or a list of feed ids (got shard={shard})")
    return shard


def shard_feed_ids(settings: Settings, shard: int, shards: int) -> list[int]:
    """Row ids of the feeds-file feeds in this shard; rows are created for new ones (shards never overlap)."""
    mine = split_feeds(load_feed_list(settings.feeds_file), shards)[shard]
    if not mine:
        return []
    engine = make_engine(settings.database_url.get_secret_value())
    try:
        return [state.id for state in upsert_feeds(engine, [(s.url, s.name) for s in mine])]
    finally:
        engine.dispose()


@flow(name="monitor-cycle", log_prints=True)
def monitor_cycle(
    shards: ShardCount = 4,
    feeds_file: FeedsFile = None,
    workers: Workers = None,
    only_due: OnlyDue = False,
    deployment: Annotated[
        str,
        Field(
            title="Shard deployment", description="The monitor-shard deployment to run each shard on.", max_length=200
        ),
    ] = SHARD_DEPLOYMENT,
    wait_seconds: Annotated[
        int,
        Field(
            title="Wait (seconds)", description="How long to wait for the shards before giving up.", ge=10, le=86_400
        ),
    ] = 840,
) -> CycleSummary:
    """Split the feeds into shards, run each as a flow run of the `monitor-shard` deployment, and sum them.

    Args:
        shards: How many shards (flow runs) to split the feeds into; shards without feeds are not started.
        feeds_file: YAML feeds file on the workers; empty uses PRESSWATCH_FEEDS_FILE.
        workers: Processes that extract and tag in parallel inside each shard (1-64).
        only_due: Read only feeds whose adaptive polling interval has passed (the schedule sets this).
        deployment: The `flow/deployment` name of the monitor-shard deployment.
        wait_seconds: How long to wait for every shard to finish; the unfinished ones are reported.
    """
    logger = get_run_logger()
    try:
        settings = load_settings(feeds_file=feeds_file, workers=workers)
        prepare_database(settings)  # once here, so that the shards never race to migrate
        parts = split_feeds(load_feed_list(settings.feeds_file), shards)
    except PresswatchError as exc:
        return Failed(message=str(exc), data=exc)  # type: ignore[return-value]
    parameters: dict[str, Any] = {"shards": shards, "only_due": only_due, "feeds_file": feeds_file, "workers": workers}
    wanted = [index for index, part in enumerate(parts) if part]
    logger.info("%d feed(s) in %d non-empty shard(s) of %d", sum(map(len, parts)), len(wanted), shards)
    started = start_shards(deployment, wanted, parameters)
    summary = CycleSummary(shards=shards, runs=wait_for_shards(started, wait_seconds))
    for run in summary.runs:
        for name in COUNTS:
            summary.totals[name] += run.counts.get(name, 0)
    _publish(summary)
    logger.info(summary.headline())
    if summary.incomplete:
        unfinished = ", ".join(f"{run.name}: {run.state}" for run in summary.incomplete)
        error = PresswatchError(f"{len(summary.incomplete)} shard run(s) did not complete ({unfinished})")
        return Failed(message=f"{summary.headline()} {error}", data=error)  # type: ignore[return-value]
    return summary


def start_shards(deployment: str, wanted: Sequence[int], parameters: dict[str, Any]) -> dict[int, Any]:
    """Create one flow run per shard without waiting; a retried cycle finds its runs again by idempotency key."""
    from prefect.deployments import run_deployment
    from prefect.runtime import flow_run

    cycle_id = flow_run.get_id() or "no-cycle"
    shards = parameters["shards"]
    return {
        index: run_deployment(
            deployment,
            parameters={**parameters, "shard": index},
            timeout=0,
            flow_run_name=f"shard-{index + 1}-of-{shards}",
            idempotency_key=f"{cycle_id}:shard:{index}:of:{shards}",
            tags=["presswatch", "shard"],
        )
        for index in wanted
    }


def wait_for_shards(started: dict[int, Any], wait_seconds: float, poll_seconds: float = 3.0) -> list[ShardRun]:
    """Poll the shard runs until all are final or the deadline passes, then read each one's counts."""
    from prefect.client.orchestration import get_client

    ids = [run.id for run in started.values()]
    deadline = time.monotonic() + wait_seconds
    with get_client(sync_client=True) as client:
        while True:
            runs = _read_runs(client, ids)
            finished = all(run.state is not None and run.state.type.value in FINAL_STATES for run in runs.values())
            if (finished and len(runs) == len(ids)) or time.monotonic() >= deadline:
                break
            time.sleep(poll_seconds)
        reported = _shard_counts(client, ids)
    outcome = []
    for index, first in started.items():
        run = runs.get(first.id, first)
        state = run.state.type.value if run.state is not None else "UNKNOWN"
        message = run.state.message if run.state is not None else None
        outcome.append(
            ShardRun(
                shard=index,
                flow_run_id=str(run.id),
                name=run.name,
                state=state,
                message=message,
                counts=reported.get(run.id, {}),
            )
        )
    return outcome


# The API answers at most this many rows per call. Every filter call below passes limit, offset and sort
# explicitly: Prefect 3.8.8's client sends them as null otherwise, which fastapi >= 0.151 refuses (422).
PAGE = 200


def _read_runs(client: Any, ids: list[UUID]) -> dict[UUID, Any]:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import FlowRunSort

    runs = {}
    for start in range(0, len(ids), PAGE):
        chunk = ids[start : start + PAGE]
        flow_run_filter = FlowRunFilter(id=FlowRunFilterId(any_=chunk))
        for run in client.read_flow_runs(
            flow_run_filter=flow_run_filter, sort=FlowRunSort.ID_DESC, limit=len(chunk), offset=0
        ):
            runs[run.id] = run
    return runs


def _shard_counts(client: Any, ids: list[UUID]) -> dict[UUID, dict[str, int]]:
    """Each shard run's counts, from the table artifact it published (the API carries them between machines)."""
    found: dict[UUID, dict[str, int]] = {}
    for start in range(0, len(ids), PAGE):
        chunk = [str(run_id) for run_id in ids[start : start + PAGE]]
        # The raw endpoint, with only the filter it needs: the client's read_artifacts sends the flow-run and
        # task-run filters as null (refused, see PAGE) or, when given empty ones, joins on task runs, which
        # leaves out artifacts made by a flow run itself.
        body = {
            "artifacts": {"key": {"any_": [SHARD_ARTIFACT]}, "flow_run_id": {"any_": chunk}},
            "sort": "ID_DESC",
            "limit": PAGE,
            "offset": 0,
        }
        response = client.request("POST", "/artifacts/filter", json=body)
        response.raise_for_status()
        for artifact in response.json():
            rows = json.loads(artifact["data"]) if isinstance(artifact["data"], str) else artifact["data"]
            found[UUID(artifact["flow_run_id"])] = {name: int(rows[0].get(name, 0)) for name in COUNTS}
    return found


def _publish(summary: CycleSummary) -> None:
    """The cycle's headline and one row per shard run, as Prefect artifacts."""
    create_markdown_artifact(
        markdown=f"## Monitoring cycle\n\n{summary.headline()}\n", key="monitor-cycle", description="The last cycle"
    )
    rows = [
        {"shard": run.shard, "flow_run": run.name, "state": run.state, **run.counts, "message": run.message or ""}
        for run in summary.runs
    ]
    if rows:
        create_table_artifact(table=rows, key="monitor-cycle-shards", description="Each shard run of the cycle")
