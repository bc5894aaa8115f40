"""SharedHostGate: the per-host bound, spacing and Retry-After hold between gates (processes) sharing a directory.

Two gate objects over one directory stand for two worker processes: they share nothing in memory.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from fetcher.politeness import HostGate, SharedHostGate, pass_gate


def acquire_in_thread(gate: HostGate, host: str, timeout: float) -> bool:
    """`gate.acquire` from a thread of its own (a slot belongs to the thread that took it)."""
    result: list[bool] = []
    thread = threading.Thread(target=lambda: result.append(gate.acquire(host, timeout=timeout)))
    thread.start()
    thread.join()
    return result[0]


def test_two_gates_over_one_directory_share_two_slots_per_host(tmp_path: Path) -> None:
    first, second = SharedHostGate(tmp_path, 2, 0.0), SharedHostGate(tmp_path, 2, 0.0)
    assert first.acquire("news.example", timeout=1)
    assert second.acquire("news.example", timeout=1)
    # Each gate has a free slot of its own in memory; the shared bound is what refuses the third request.
    assert acquire_in_thread(second, "news.example", timeout=0.2) is False
    assert acquire_in_thread(first, "other.example", timeout=0.2) is True  # other hosts go on
    first.release("news.example")
    assert acquire_in_thread(second, "news.example", timeout=1) is True


def test_a_slot_comes_back_when_its_holder_goes(tmp_path: Path) -> None:
    first, second = SharedHostGate(tmp_path, 1, 0.0), SharedHostGate(tmp_path, 1, 0.0)
    assert first.acquire("news.example", timeout=1)
    assert acquire_in_thread(second, "news.example", timeout=0.1) is False
    first.release("news.example")
    started = time.monotonic()
    assert second.acquire("news.example", timeout=1)
    assert time.monotonic() - started < 0.5


def test_retry_after_seen_by_one_gate_holds_back_the_other(tmp_path: Path) -> None:
    first, second = SharedHostGate(tmp_path, 2, 0.0), SharedHostGate(tmp_path, 2, 0.0)
    first.slow_down("busy.example", retry_after=1.0)
    started = time.monotonic()
    assert second.acquire("busy.example", timeout=5)
    assert time.monotonic() - started >= 0.9
    second.release("busy.example")


def test_min_delay_spaces_starts_across_gates(tmp_path: Path) -> None:
    first, second = SharedHostGate(tmp_path, 2, 0.3), SharedHostGate(tmp_path, 2, 0.3)
    starts = []
    for gate in (first, second, first, second):
        assert gate.acquire("spaced.example", timeout=5)
        starts.append(time.monotonic())
        gate.release("spaced.example")
    gaps = [later - earlier for earlier, later in zip(starts, starts[1:], strict=False)]
    assert min(gaps) >= 0.25, gaps


def test_pass_gate_is_one_gate_per_pass_and_a_fresh_one_without_a_pass(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert pass_gate(str(tmp_path / "a")) is pass_gate(str(tmp_path / "a"))
    assert pass_gate(str(tmp_path / "a")) is not pass_gate(str(tmp_path / "b"))
    assert pass_gate("") is not pass_gate("")


def test_a_turn_that_comes_after_the_timeout_is_refused_at_once_not_waited_for(tmp_path: Path) -> None:
    # One process saw "Retry-After: 3600"; another must not sit for an hour (or its timeout) holding a slot.
    first, second = SharedHostGate(tmp_path, min_delay=0.0), SharedHostGate(tmp_path, min_delay=0.0)
    first.slow_down("news.example", retry_after=3600)
    started = time.monotonic()
    assert second.acquire("news.example", timeout=5.0) is False
    assert time.monotonic() - started < 4.0  # well before the time-out: it did not wait
    # Both of the host's slot files are free again: the refusal left none locked.
    held = [second._take_file_slot("news.example", give_up=time.monotonic()) for _ in range(2)]
    assert None not in held
    for descriptor in held:
        os.close(descriptor)  # type: ignore[arg-type]


def test_the_in_process_gate_also_refuses_a_turn_beyond_its_timeout_at_once() -> None:
    gate = HostGate(max_per_host=2, min_delay=0.0)
    gate.slow_down("news.example", retry_after=3600)
    started = time.monotonic()
    assert gate.acquire("news.example", timeout=5.0) is False
    assert time.monotonic() - started < 4.0
