"""The per-channel CPU column counts the threads a channel's connector sends on (Magento's
``<channel>-send`` pool), not only the engine thread that published the channel."""

from __future__ import annotations

import threading

from bench.host_run import Timeline
from bench.thread_cpu import HelperCpu, read_thread_cpu


class Readings:
    """CPU seconds per thread, set by the test; a thread missing from it has ended."""

    def __init__(self) -> None:
        self.cpu: dict[threading.Thread, float] = {}

    def __call__(self, thread: threading.Thread) -> float | None:
        return self.cpu.get(thread)

    def threads(self) -> list[threading.Thread]:
        return list(self.cpu)


def test_helper_threads_count_from_the_baseline_and_only_for_their_channel() -> None:
    readings = Readings()
    old, new = threading.Thread(name="magento-send_0"), threading.Thread(name="magento-send_1")
    other, engine = threading.Thread(name="woocommerce-x"), threading.Thread(name="publish_0")
    readings.cpu = {old: 5.0, other: 1.0, engine: 9.0}
    helpers = HelperCpu(reader=readings, threads=readings.threads)
    helpers.baseline()  # the pool outlives passes: its 5 s were an earlier pass's
    readings.cpu.update({old: 5.5, new: 0.25, other: 3.0, engine: 20.0})
    helpers.sample("magento")
    assert helpers.seconds("magento") == 0.5 + 0.25
    assert helpers.seconds("woocommerce") == 0.0  # not sampled for its own channel
    del readings.cpu[new]  # it ended: its last sample stays counted
    readings.cpu[old] = 6.0
    helpers.sample("magento")
    assert helpers.seconds("magento") == 1.0 + 0.25
    helpers.baseline()
    assert helpers.seconds("magento") == 0.0


def test_the_timeline_adds_a_channels_helper_threads_to_its_own_thread() -> None:
    readings = Readings()
    send = threading.Thread(name="magento-send_0")
    timeline = Timeline(HelperCpu(reader=readings, threads=readings.threads))
    readings.cpu[send] = 2.0
    timeline.progress("publish", "magento", 1, 1)
    own = timeline.cpu["magento"]
    assert timeline.channel_cpu("magento") == own + 2.0
    assert timeline.channel_cpu("shopify") == 0.0


def test_a_live_threads_cpu_is_read_from_outside_it() -> None:
    burned, release = threading.Event(), threading.Event()

    def burn() -> None:
        total = 0
        for n in range(200_000):
            total += n * n
        burned.set()
        release.wait()

    thread = threading.Thread(target=burn, name="magento-send_0", daemon=True)
    helpers = HelperCpu()
    helpers.baseline()
    thread.start()
    burned.wait()
    helpers.sample("magento")
    release.set()
    thread.join()
    assert helpers.seconds("magento") > 0.0
    assert read_thread_cpu(thread) is None  # ended


def test_sampling_looks_through_every_thread_only_when_the_threads_change() -> None:
    send = threading.Thread(name="magento-send_0")
    engine = threading.Thread(name="publish_0")
    live: dict[threading.Thread, float] = {send: 1.0, engine: 1.0}
    helpers = HelperCpu(reader=live.get, threads=lambda: list(live), count=lambda: len(live))
    helpers.baseline()
    for _ in range(100):
        helpers.sample("magento")
        helpers.sample("shopify")
    assert helpers.scans == 2  # once per channel
    late = threading.Thread(name="magento-send_1")
    live[late] = 0.5  # a new helper thread: the count changed
    helpers.sample("magento")
    assert helpers.scans == 3
    assert helpers.seconds("magento") == 0.5
    del live[send], live[late]  # they end and another helper starts: the count fell
    newer = threading.Thread(name="magento-send_2")
    live[newer] = 0.25
    helpers.sample("magento")
    helpers.sample("magento")
    assert helpers.seconds("magento") == 0.5 + 0.25
