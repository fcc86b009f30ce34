"""The host CPU figures leave out the CPU the bench's own callbacks spend in the host's threads
(issue 22 §5)."""

from __future__ import annotations

import sqlite3
import threading
from types import SimpleNamespace
from typing import Any

import pytest

import bench.trace as trace_module
from bench.callback_cpu import CallbackCpu
from bench.host_run import Timeline, counted_statements, host_cpu
from bench.thread_cpu import HelperCpu
from bench.trace import OrderTrace, order_key


class FakeClock:
    """A thread CPU clock that moves only when told to, or by ``step`` at each reading."""

    def __init__(self, step: float = 0.0) -> None:
        self.now = 0.0
        self.step = step
        self.readings = 0

    def __call__(self) -> float:
        self.readings += 1
        now = self.now
        self.now += self.step
        return now


def test_a_wrapped_callbacks_cpu_is_counted_for_its_thread_and_in_all() -> None:
    clock = FakeClock()
    callbacks = CallbackCpu(clock)

    def burn(seconds: float) -> str:
        clock.now += seconds
        return "done"

    counted = callbacks.wrap(burn)
    assert counted(0.25) == "done"
    assert counted(0.5) == "done"
    assert callbacks.in_thread() == 0.75
    assert callbacks.total() == (0.75, 2)
    elsewhere: list[float] = []
    other = threading.Thread(target=lambda: elsewhere.append(callbacks.in_thread()))
    other.start()
    other.join()
    assert elsewhere == [0.0]  # none of it was spent in that thread


def test_a_callback_that_raises_is_counted_too() -> None:
    clock = FakeClock()
    callbacks = CallbackCpu(clock)

    def fail() -> None:
        clock.now += 1.0
        raise ValueError("boom")

    counted = callbacks.wrap(fail)
    with pytest.raises(ValueError, match="boom"):
        counted()
    assert callbacks.total() == (1.0, 1)


def test_host_cpu_subtracts_the_callbacks_spent_inside_the_block_only() -> None:
    thread_clock, process_clock = FakeClock(), FakeClock()
    callbacks = CallbackCpu(thread_clock)

    def burn() -> None:
        thread_clock.now += 2.0
        process_clock.now += 2.0  # the process's CPU counts its threads' CPU

    callbacks.wrap(burn)()  # before the block: not this measurement's
    with host_cpu(callbacks, clock=process_clock) as measured:
        process_clock.now += 10.0  # serialsync's own work
        for _ in range(3):
            callbacks.wrap(burn)()
    assert measured == {"host_cpu": 10.0, "bench_callback_cpu": 6.0, "bench_callbacks": 3}


def test_the_timeline_leaves_its_own_cpu_out_of_the_channels_thread_cpu() -> None:
    clock = FakeClock()
    send = threading.Thread(name="magento-send_0")

    def read_helper(thread: threading.Thread) -> float | None:
        clock.now += 1.0  # each callback spends 1 s reading the helper thread
        return 0.0

    helpers = HelperCpu(reader=read_helper, threads=lambda: [send], count=lambda: 1)
    timeline = Timeline(helpers, CallbackCpu(clock))
    clock.now = 10.0  # the engine thread's own work before its first callback
    timeline.progress("publish", "magento", 1, 2)
    clock.now += 5.0  # its work between the two callbacks
    timeline.checkpoint("publish.recorded")
    timeline.progress("publish", "magento", 2, 2)
    assert timeline.cpu["magento"] == 15.0
    assert timeline.callbacks.total() == (3.0, 3)


def test_the_statement_counters_cpu_is_counted_per_statement() -> None:
    # Each reading moves the clock 1 s: every counted call spends exactly 1 s.
    callbacks = CallbackCpu(FakeClock(step=1.0))
    db = sqlite3.connect(":memory:", check_same_thread=False)
    host: Any = SimpleNamespace(store=SimpleNamespace(_db=db))
    with counted_statements(host, callbacks) as counts:
        db.execute("CREATE TABLE t (x INTEGER)")
        db.executemany("INSERT INTO t VALUES (?)", [(1,), (2,)])
    db.execute("SELECT 1")  # after the block: neither counted nor timed
    assert callbacks.total() == (float(counts["total"]), counts["total"])
    assert counts["total"] >= 3


def test_an_orders_cpu_in_the_trace_leaves_the_stamps_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock()
    trace = OrderTrace(CallbackCpu(clock))

    def stamp_clock() -> float:
        clock.now += 1.0  # each stamp spends 1 s of the worker thread's CPU
        return 0.0

    monkeypatch.setattr(trace_module, "time", SimpleNamespace(monotonic=stamp_clock))

    def work(connector: str, order_id: str) -> str:
        clock.now += 5.0  # the order's own work
        trace.stamp(order_key(connector, order_id), "fetched")
        return "worked"

    assert trace._work(work)("shopify", "7") == "worked"
    assert trace.steps["shopify/7"]["cpu"] == 5.0  # its three stamps (3 s) left out
    assert trace.callbacks.total() == (3.0, 3)
