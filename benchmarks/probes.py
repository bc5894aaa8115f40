"""Instruments for benchmarks: a process tree's memory and CPU, the machine, Prefect's timeline, stage timers.

The timers wrap functions of `flows.steps` at run time, so the flow's own code is not changed to be
measured; each process writes its running totals to a JSON file of its own in a shared folder.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import resource
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

STAGE_DIR_ENV = "PRESSWATCH_BENCH_STAGE_DIR"
WORK_STAGES = ("fetch", "extract", "tag", "store")
PREFECT_SERVER = "Prefect server(s)"


# --- the process tree: memory sampled from /proc, CPU time from rusage and /proc -----------------------

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _children(pid: int) -> list[int]:
    """The ids of a process's children, from each of its threads' `children` file (no scan of all of /proc)."""
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                found.extend(int(child) for child in (task / "children").read_text().split())
            except OSError:
                continue  # the thread ended while we looked
    except OSError:
        pass  # the process ended while we looked
    return found


def _cpu(pid: int) -> tuple[float, float] | None:
    """A process's own CPU seconds and its reaped children's, from /proc/<pid>/stat (None: it has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may hold spaces and parentheses
    return (int(fields[11]) + int(fields[12])) / _TICKS, (int(fields[13]) + int(fields[14])) / _TICKS


def _kind(pid: int) -> str:
    """What a process of the tree is, from its command line."""
    if pid == os.getpid():
        return "main process"
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "other"
    if b"uvicorn" in command:
        return PREFECT_SERVER
    if b"multiprocessing" in command or command == Path("/proc/self/cmdline").read_bytes():
        return "worker processes"  # spawned (its command line says so) or forked (the same as ours)
    return "other"


def _rss_pss_kb(pid: int) -> tuple[int, int]:
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return rss, pss


def _reaped_cpu_seconds() -> float:
    """CPU seconds of this process plus every descendant that has ended and been waited for."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


class TreeProbe:
    """Peak memory and CPU time of this process and its descendants while the block runs.

    Left out: the processes in `exclude` and those of `exclude_kinds` (see `_kind`), with their descendants.

    Memory is sampled in a thread: RSS summed over processes counts shared pages once per process (an
    upper bound, inflated by fork); PSS splits shared pages between their users, so its sum is the
    tree's real footprint. CPU time is rusage (this process and reaped descendants) plus the /proc
    counters of descendants still alive, so a long-lived child such as Prefect's server is counted too.
    CPU seconds hardly change when other programs load the machine; wall time does.
    """

    def __init__(
        self, exclude: Sequence[int | None] = (), exclude_kinds: Sequence[str] = (), interval: float = 0.5
    ) -> None:
        self._exclude = {pid for pid in exclude if pid}
        self._exclude_kinds = set(exclude_kinds)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-probe", daemon=True)
        # Linux with CONFIG_PROC_CHILDREN (every common distribution kernel) has both files.
        self.available = (
            Path("/proc/self/smaps_rollup").exists() and Path(f"/proc/self/task/{os.getpid()}/children").exists()
        )
        self.peak_rss_kb = 0
        self.peak_pss_kb = 0
        self.cpu_seconds = 0.0
        self.load_before = self.load_after = 0.0
        self._kinds: dict[int, str] = {}
        self._last_cpu: dict[int, float] = {}
        self._first_cpu: dict[int, float] = {}
        self._cpu_start = 0.0

    def _descendants(self) -> tuple[list[int], float, dict[int, tuple[float, float]]]:
        """Live descendants (not this process), their CPU seconds so far (reaped children's included), CPU by pid."""
        cpu: dict[int, tuple[float, float]] = {}
        own = _cpu(os.getpid())
        if own is not None:
            cpu[os.getpid()] = own
        found, pending = [], _children(os.getpid())
        while pending:
            pid = pending.pop()
            if pid not in self._kinds:
                self._kinds[pid] = _kind(pid)
            if pid in self._exclude or self._kinds[pid] in self._exclude_kinds:
                continue
            times = _cpu(pid)
            if times is None:
                continue
            cpu[pid] = times
            found.append(pid)
            pending.extend(_children(pid))
        return found, sum(cpu[pid][0] + cpu[pid][1] for pid in found), cpu

    def sample(self) -> None:
        """Take one sample of the tree's memory, and of each process's own CPU seconds, now."""
        descendants, _, cpu = self._descendants()
        self._kinds.setdefault(os.getpid(), _kind(os.getpid()))
        for pid in [os.getpid(), *descendants]:
            if pid in cpu:
                self._last_cpu[pid] = cpu[pid][0]
        sizes = [_rss_pss_kb(pid) for pid in [os.getpid(), *descendants]]
        self.peak_rss_kb = max(self.peak_rss_kb, sum(rss for rss, _ in sizes))
        self.peak_pss_kb = max(self.peak_pss_kb, sum(pss for _, pss in sizes))

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.sample()

    def __enter__(self) -> TreeProbe:
        self.load_before = os.getloadavg()[0]
        self._kinds.clear()
        self._last_cpu.clear()
        self._cpu_start = _reaped_cpu_seconds()
        if self.available:
            self._cpu_start += self._descendants()[1]
            self.sample()
            self._first_cpu = dict(self._last_cpu)  # processes born later started from zero
            self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        live = 0.0
        if self.available:
            self._stop.set()
            self._thread.join()
            self.sample()
            live = self._descendants()[1]
        self.cpu_seconds = round(_reaped_cpu_seconds() + live - self._cpu_start, 2)
        self.load_after = os.getloadavg()[0]

    @property
    def cpu_by_kind(self) -> dict[str, float]:
        """CPU seconds per kind of process, as last sampled (a process that lived under `interval` is missed)."""
        totals: defaultdict[str, float] = defaultdict(float)
        for pid, cpu in self._last_cpu.items():
            totals[self._kinds[pid]] += cpu - self._first_cpu.get(pid, 0.0)
        return {kind: round(seconds, 2) for kind, seconds in sorted(totals.items())}

    @property
    def peaks_mb(self) -> tuple[float, float]:
        """Peak RSS and PSS sums seen, in MB."""
        return round(self.peak_rss_kb / 1024, 1), round(self.peak_pss_kb / 1024, 1)


# --- the machine, and Prefect's own records of a run -------------------------------------------------


def machine() -> dict[str, Any]:
    """The machine and library versions the figures were taken on."""
    cpu = next(
        (line.split(":", 1)[1].strip() for line in _read_lines("/proc/cpuinfo") if line.startswith("model name")), ""
    )
    memory = next((line.split(":", 1)[1].strip() for line in _read_lines("/proc/meminfo") if "MemTotal" in line), "")
    libraries = ("prefect", "trafilatura", "spacy", "httpx", "feedparser", "sqlalchemy", "lxml")
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory": memory,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "libraries": {name: version(name) for name in libraries},
    }


def _read_lines(path: str) -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except OSError:
        return []


def prefect_timeline(
    flow_run_id: Any, batches: int, called: datetime | None = None, returned: datetime | None = None
) -> dict[str, Any]:
    """Where the pass's wall time went, from the flow and task runs Prefect recorded (and when the call began/ended)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    wanted = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
    with get_client(sync_client=True) as client:
        for _ in range(25):  # task runs of pool workers reach the API as events, a moment later
            flow_run = client.read_flow_run(flow_run_id)
            runs = client.read_task_runs(flow_run_filter=wanted, sort=TaskRunSort.EXPECTED_START_TIME_ASC, limit=200)
            link_runs = [r for r in runs if r.name.startswith("process-links") and r.end_time and r.start_time]
            if len(link_runs) >= batches and flow_run.end_time:
                break
            time.sleep(0.2)
    poll_runs = [r for r in runs if r.name.startswith("poll-feeds") and r.end_time and r.start_time]
    if not (flow_run.start_time and flow_run.end_time and link_runs and poll_runs):
        names = Counter(r.name.rsplit("-", 1)[0] for r in runs)
        return {"complete": False, "task_runs_recorded": dict(names), "link_batches": batches}

    def since(moment: Any, origin: Any) -> float:
        return round(float((moment - origin).total_seconds()), 3)

    first_poll = min(r.start_time for r in poll_runs if r.start_time)
    last_poll = max(r.end_time for r in poll_runs if r.end_time)
    first_link = min(r.start_time for r in link_runs if r.start_time)
    last_link = max(r.end_time for r in link_runs if r.end_time)
    durations = [since(r.end_time, r.start_time) for r in link_runs]
    return {
        "complete": True,
        "task_runs": len(runs),
        "flow_run_seconds": since(flow_run.end_time, flow_run.start_time),
        "prepare_seconds": since(first_poll, flow_run.start_time),
        "poll_seconds": since(last_poll, first_poll),
        "to_first_batch_seconds": since(first_link, last_poll),
        "batches_span_seconds": since(last_link, first_link),
        "after_last_batch_seconds": since(flow_run.end_time, last_link),
        # Outside the run: creating it and entering it, then leaving the engine once it is Completed.
        **({"call_to_run_start_seconds": since(flow_run.start_time, called)} if called else {}),
        **({"run_end_to_return_seconds": since(returned, flow_run.end_time)} if returned else {}),
        "batch_task_seconds_sum": round(sum(durations), 3),
        "batch_task_seconds_mean": round(sum(durations) / len(durations), 3),
    }


# --- stage timers around flows.steps (no change to the flow's code) ------------------------------------

# Per-process totals, by nature global to the process they instrument; written to a file per process.
_STAGE_SECONDS: defaultdict[str, float] = defaultdict(float)
_STAGE_CPU: defaultdict[str, float] = defaultdict(float)
_STAGE_CALLS: Counter[str] = Counter()
_STAGE_LOCK = threading.Lock()
_STAGE_DIR: dict[str, str] = {}


def clocks() -> tuple[float, float]:
    """Wall time and this thread's CPU time, now: CPU seconds hardly change when other programs load the machine."""
    return time.perf_counter(), time.thread_time()


class StageClock:
    """Wall and CPU seconds per stage, each lap charged to the stage named when it ends."""

    def __init__(self) -> None:
        self.wall: defaultdict[str, float] = defaultdict(float)
        self.cpu: defaultdict[str, float] = defaultdict(float)
        self._mark = clocks()

    def restart(self) -> None:
        """Start the next lap now (time since the last lap is charged to nothing)."""
        self._mark = clocks()

    def lap(self, stage: str) -> None:
        """Charge the time since the last lap to `stage`."""
        now = clocks()
        self.wall[stage] += now[0] - self._mark[0]
        self.cpu[stage] += now[1] - self._mark[1]
        self._mark = now


def _dump_stage_totals() -> None:
    directory = Path(_STAGE_DIR["path"])
    with _STAGE_LOCK:
        payload = {"pid": os.getpid(), "seconds": _STAGE_SECONDS, "cpu": _STAGE_CPU, "calls": _STAGE_CALLS}
        text = json.dumps(payload)
    temporary = directory / f".{os.getpid()}.tmp"
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(directory / f"{os.getpid()}.json")  # processes may end without notice: always current


def _timed(stage: str | Callable[[dict[str, Any]], str], function: Any, dump: bool = False) -> Any:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        wall, cpu = clocks()
        try:
            return function(*args, **kwargs)
        finally:
            name = stage if isinstance(stage, str) else stage(kwargs)
            wall_end, cpu_end = clocks()
            with _STAGE_LOCK:
                _STAGE_SECONDS[name] += wall_end - wall
                _STAGE_CPU[name] += cpu_end - cpu
                _STAGE_CALLS[name] += 1
            if dump:
                _dump_stage_totals()

    wrapper.bench_timed = True  # type: ignore[attr-defined]
    return wrapper


def install_stage_timers(stage_dir: str) -> None:
    """Time fetch, extract, tag and store inside `flows.steps` in this process; totals go to `stage_dir`."""
    from flows import steps

    _STAGE_DIR["path"] = stage_dir
    with _STAGE_LOCK:
        _STAGE_SECONDS.clear()
        _STAGE_CPU.clear()
        _STAGE_CALLS.clear()
    if getattr(steps.process_links, "bench_timed", False):
        return
    page_accept = steps.PAGE_ACCEPT
    timers: dict[str, tuple[str | Callable[[dict[str, Any]], str], bool]] = {
        "_read": (lambda kwargs: "fetch" if kwargs.get("accept") == page_accept else "feed_fetch", False),
        "parse_feed": ("feed_parse", False),
        "extract_article": ("extract", False),
        "tag_article": ("tag", False),
        "analyze": ("tag", False),  # the tagging step's newer name: tags, topics and quotes in one pass
        "store_batch": ("store", False),
        "process_links": ("batch", True),
        "poll_feeds": ("poll", True),
    }
    for name, (stage, dump) in timers.items():
        if hasattr(steps, name):  # the steps module changes; time what it has
            setattr(steps, name, _timed(stage, getattr(steps, name), dump))
    tasks = sys.modules.get("flows.tasks")
    for name in ("process_links", "poll_feeds") if tasks is not None else ():
        setattr(tasks, name, getattr(steps, name))  # it imported them by name before they were wrapped


def timers_installed(stage_dir: str) -> bool:
    """Whether this process's stage timers are in place and writing to `stage_dir`."""
    from flows import steps

    return _STAGE_DIR.get("path") == stage_dir and getattr(steps.process_links, "bench_timed", False) is True


def read_stage_totals(stage_dir: str) -> tuple[dict[str, float], dict[str, float], int]:
    """Wall and CPU seconds per stage summed over every instrumented process, and how many ran link batches."""
    wall: defaultdict[str, float] = defaultdict(float)
    cpu: defaultdict[str, float] = defaultdict(float)
    link_processes = 0
    for path in Path(stage_dir).glob("*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        for totals, key in ((wall, "seconds"), (cpu, "cpu")):
            for name, seconds in data[key].items():
                totals[name] += seconds
        link_processes += "batch" in data["seconds"]
    return _stages(wall), _stages(cpu), link_processes


def _stages(totals: dict[str, float]) -> dict[str, float]:
    if not totals:
        return {}
    work = sum(totals.get(name, 0.0) for name in WORK_STAGES)
    stages = {name: totals.get(name, 0.0) for name in WORK_STAGES}
    stages.update(feeds=totals.get("poll", 0.0), other=max(0.0, totals.get("batch", 0.0) - work))
    return {name: round(stages[name], 3) for name in ("feeds", *WORK_STAGES, "other")}
