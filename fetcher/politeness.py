"""A per-host politeness gate: bounded concurrency and spaced request starts, slowed after 429/503.

`HostGate` holds its state in memory and is shared by the threads of one process. `SharedHostGate` adds
the same limits across processes (advisory file locks in a directory the pass creates), so a pass whose
link batches run in a process pool still never has more than `max_per_host` requests in flight to a host.
`pass_gate` gives every batch of a pass in one process the same gate.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass
class _HostState:
    in_flight: int = 0
    next_start: float = 0.0  # monotonic time before which no new request may start
    delay: float = 0.0  # current spacing between starts
    slowed_until: float = 0.0  # when a raised delay falls back to min_delay


class HostGate:
    """Thread-safe gate: at most `max_per_host` requests in flight and `min_delay` s between starts per host."""

    def __init__(
        self,
        max_per_host: int = 2,
        min_delay: float = 1.0,
        *,
        max_delay: float = 60.0,
        slow_for: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Create a gate; `slow_for` is how long a host stays slowed after a 429/503."""
        if max_per_host < 1:
            raise ValueError("max_per_host must be at least 1")
        self.max_per_host = max_per_host
        self.min_delay = max(0.0, min_delay)
        self.max_delay = max(max_delay, self.min_delay)
        self.slow_for = slow_for
        self._clock = clock
        self._cond = threading.Condition()
        self._hosts: dict[str, _HostState] = {}

    def _state(self, host: str) -> _HostState:
        state = self._hosts.get(host)
        if state is None:
            state = self._hosts[host] = _HostState(delay=self.min_delay)
        return state

    def _current_delay(self, state: _HostState, now: float) -> float:
        if now >= state.slowed_until:
            state.delay = self.min_delay
        return state.delay

    def acquire(self, host: str, timeout: float | None = None) -> bool:
        """Wait for a slot on `host`; False when `timeout` seconds passed without one, or surely will.

        When the host asked us (Retry-After) not to start before a moment past `timeout`, waiting cannot help:
        the answer is False at once, so a host that said "come back in an hour" never stalls a batch.
        """
        give_up = None if timeout is None else self._clock() + timeout
        with self._cond:
            while True:
                state = self._state(host)
                now = self._clock()
                if state.in_flight < self.max_per_host and now >= state.next_start:
                    state.in_flight += 1
                    state.next_start = now + self._current_delay(state, now)
                    return True
                if give_up is not None and state.next_start > give_up:
                    return False
                # Waiting releases the lock, so other hosts are never held up by this one.
                wait = None if state.in_flight >= self.max_per_host else state.next_start - now
                if give_up is not None:
                    left = give_up - now
                    if left <= 0:
                        return False
                    wait = left if wait is None else min(wait, left)
                self._cond.wait(wait)

    def release(self, host: str) -> None:
        """Give back a slot taken by `acquire`."""
        with self._cond:
            state = self._state(host)
            state.in_flight = max(0, state.in_flight - 1)
            self._cond.notify_all()

    @contextmanager
    def slot(self, host: str) -> Iterator[None]:
        """Hold a slot on `host` for the duration of the block."""
        self.acquire(host)
        try:
            yield
        finally:
            self.release(host)

    def slow_down(self, host: str, retry_after: float | None = None) -> None:
        """After a 429/503: double the host's delay for a while and start nothing before Retry-After."""
        with self._cond:
            state = self._state(host)
            now = self._clock()
            raised = max(self._current_delay(state, now) * 2, self.min_delay * 2, 1.0, retry_after or 0.0)
            state.delay = min(raised, self.max_delay)
            state.slowed_until = now + max(self.slow_for, retry_after or 0.0)
            state.next_start = max(state.next_start, now + max(state.delay, retry_after or 0.0))
            self._cond.notify_all()

    def delay_for(self, host: str) -> float:
        """The spacing currently applied between request starts to `host`."""
        with self._cond:
            return self._current_delay(self._state(host), self._clock())


SLOT_POLL = 0.02  # seconds between tries for a cross-process slot (flock has no timed wait)


class SharedHostGate(HostGate):
    """A HostGate whose bound, spacing and Retry-After also hold across processes sharing `slots_dir`.

    Per host, `max_per_host` lock files are the slots (a request holds one with flock while it runs), and
    one more file holds the next allowed start and any raised delay. The OS drops a lock when its holder
    dies, so a crashed worker never keeps a slot.
    """

    def __init__(
        self, slots_dir: str | Path, max_per_host: int = 2, min_delay: float = 1.0, *, slow_for: float = 300.0
    ) -> None:
        """Create a gate over `slots_dir`, which must exist; its clock is `time.monotonic` (shared by processes)."""
        super().__init__(max_per_host, min_delay, slow_for=slow_for)
        self.slots_dir = Path(slots_dir)
        self._held: dict[tuple[int, str], int] = {}  # (thread, host) -> descriptor of the slot file held

    def _path(self, host: str, suffix: str) -> Path:
        return self.slots_dir / f"{hashlib.sha256(host.encode()).hexdigest()[:24]}.{suffix}"

    def acquire(self, host: str, timeout: float | None = None) -> bool:
        """Wait for a slot on `host` in this process, then across processes; False when `timeout` passed."""
        give_up = None if timeout is None else time.monotonic() + timeout
        if not super().acquire(host, timeout):
            return False
        descriptor = self._take_file_slot(host, give_up)
        if descriptor is None:
            super().release(host)
            return False
        with self._cond:
            self._held[(threading.get_ident(), host)] = descriptor
        try:
            started = self._wait_shared_start(host, give_up)
        except BaseException:
            self.release(host)
            raise
        if not started:
            self.release(host)
        return started

    def release(self, host: str) -> None:
        """Give back the slot this thread holds on `host`."""
        with self._cond:
            descriptor = self._held.pop((threading.get_ident(), host), None)
        if descriptor is not None:
            os.close(descriptor)  # closing drops the flock
        super().release(host)

    def slow_down(self, host: str, retry_after: float | None = None) -> None:
        """Slow the host down here and tell the other processes: next start and raised delay, for a while."""
        super().slow_down(host, retry_after)
        with self._cond:
            state = self._state(host)
            next_start, delay, until = state.next_start, state.delay, state.slowed_until
        with self._locked_schedule(host) as (shared, write):
            write(max(shared[0], next_start), max(shared[1], delay), max(shared[2], until))

    def _take_file_slot(self, host: str, give_up: float | None) -> int | None:
        """A descriptor holding one of the host's slot files, or None when `give_up` passed first."""
        while True:
            for index in range(self.max_per_host):
                descriptor = os.open(self._path(host, f"slot{index}"), os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return descriptor
                except BlockingIOError:
                    os.close(descriptor)
            if give_up is not None and time.monotonic() >= give_up:
                return None
            time.sleep(SLOT_POLL)

    def _wait_shared_start(self, host: str, give_up: float | None) -> bool:
        """Wait until the pass-wide next start for `host` has come and book the following one; False past `give_up`."""
        while True:
            with self._locked_schedule(host) as (shared, write):
                now = time.monotonic()  # CLOCK_MONOTONIC is system-wide on Linux: comparable between processes
                if now >= shared[0]:
                    delay = max(self.delay_for(host), shared[1] if now < shared[2] else 0.0)
                    write(now + delay, shared[1], shared[2])
                    return True
                if give_up is not None and shared[0] > give_up:
                    return False  # the host's turn comes after we would give up: do not wait for nothing
                wait = shared[0] - now
            time.sleep(wait)

    @contextmanager
    def _locked_schedule(
        self, host: str
    ) -> Iterator[tuple[tuple[float, float, float], Callable[[float, float, float], None]]]:
        """The host's shared (next start, raised delay, raised until), read and rewritten under an exclusive lock."""
        descriptor = os.open(self._path(host, "next"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            raw = os.pread(descriptor, 100, 0).split()
            shared = (float(raw[0]), float(raw[1]), float(raw[2])) if len(raw) == 3 else (0.0, 0.0, 0.0)

            def write(next_start: float, delay: float, until: float) -> None:
                os.ftruncate(descriptor, 0)
                os.pwrite(descriptor, f"{next_start!r} {delay!r} {until!r}".encode(), 0)

            yield shared, write
        finally:
            os.close(descriptor)


def pass_gate(slots_dir: str, max_per_host: int = 2, min_delay: float = 0.0) -> HostGate:
    """The gate of one pass in this process: shared by every batch that names the same `slots_dir`.

    Without a `slots_dir` (a batch run on its own) the gate is the batch's alone.
    """
    if not slots_dir:
        return HostGate(max_per_host, min_delay)
    return _pass_gate(slots_dir, max_per_host, min_delay)


# Politeness is process-wide state by nature: the batches of a pass run as threads of one process and must see
# one gate. It is keyed by the pass's own slots directory, so a later pass (in a long-lived process, e.g. tests)
# starts fresh; a few are kept because a process only ever works for the pass or two in progress.
@functools.lru_cache(maxsize=8)
def _pass_gate(slots_dir: str, max_per_host: int, min_delay: float) -> HostGate:
    return SharedHostGate(slots_dir, max_per_host, min_delay)
