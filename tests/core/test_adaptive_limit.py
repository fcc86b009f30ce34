"""AdaptiveLimit: requests in flight that follow the host's answers (429/503, slowness)."""

from __future__ import annotations

import threading

import httpx
from serialsync import AdaptiveLimit

from tests.clocks import FakeClock


def _answer(status: int) -> httpx.Response:
    return httpx.Response(status)


def test_the_limit_halves_on_busy_answers_and_grows_back_on_good_ones():
    clock = FakeClock(0.0)
    limit = AdaptiveLimit(8, clock=clock)
    with limit.slot():
        limit.observe(_answer(503))
        limit.observe(_answer(429))
    assert limit.limit == 2 and limit.cuts == {"busy": 2, "slow": 0}
    for _ in range(40):
        with limit.slot():
            clock.now += 0.1
            limit.observe(_answer(200))
    assert limit.limit == 8  # back to the maximum, never past it


def test_the_limit_shrinks_when_answers_slow_down_to_two_and_on_503s_to_one():
    clock = FakeClock(0.0)
    limit = AdaptiveLimit(4, clock=clock)
    with limit.slot():
        clock.now += 0.1
        limit.observe(_answer(200))
    for _ in range(30):
        with limit.slot():
            clock.now += 1.0  # ten times the quickest answer: the store is queueing
            limit.observe(_answer(200))
    # Slowness alone leaves two in flight: one long request does not hold the others back.
    assert limit.limit == 2 and limit.cuts["slow"] == 30
    for _ in range(5):
        with limit.slot():
            limit.observe(_answer(503))
    assert limit.limit == 1


def test_a_slot_waits_while_the_limit_is_in_flight():
    limit = AdaptiveLimit(1, clock=FakeClock(0.0))
    entered = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with limit.slot():
            entered.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    entered.wait(5)
    got = threading.Event()

    def wait_for_slot() -> None:
        with limit.slot():
            got.set()

    second = threading.Thread(target=wait_for_slot)
    second.start()
    assert not got.wait(0.2) and limit.in_flight == 1  # waiting for the slot
    release.set()
    holder.join(5)
    second.join(5)
    assert got.is_set() and limit.in_flight == 0
