"""A per-host politeness gate: bounded concurrency and spaced request starts, slowed after 429/503.

One `HostGate` is shared by the threads of one process (Prefect's thread pool); worker processes
each hold their own, so the limits are per process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


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
        """Wait for a slot on `host`; False when `timeout` seconds passed without one."""
        give_up = None if timeout is None else self._clock() + timeout
        with self._cond:
            while True:
                state = self._state(host)
                now = self._clock()
                if state.in_flight < self.max_per_host and now >= state.next_start:
                    state.in_flight += 1
                    state.next_start = now + self._current_delay(state, now)
                    return True
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
