"""AdaptiveLimit: requests in flight that follow the host's answers (429/503, slowness)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx
from serialsync import AdaptiveLimit, urgent

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


def test_a_free_slot_goes_to_an_urgent_waiter_before_the_others():
    # Repeated: without the priority, the waiter that came first would win most rounds.
    for _ in range(5):
        assert _race(AdaptiveLimit(1, clock=FakeClock(0.0))) == ["withdrawal", "publish"]


def _race(limit: AdaptiveLimit) -> list[str]:
    """A publish's request waits for the one slot, then a withdrawal's; the slot is freed:
    the order they got it in."""
    order: list[str] = []

    def take(name: str, hurry: bool) -> None:
        with urgent(hurry), limit.slot():
            order.append(name)

    with limit.slot():
        publish = threading.Thread(target=take, args=("publish", False))
        publish.start()
        _until(lambda: limit.waiting == 1)
        withdrawal = threading.Thread(target=take, args=("withdrawal", True))
        withdrawal.start()
        _until(lambda: limit.waiting == 2)
    publish.join(5)
    withdrawal.join(5)
    return order


def _until(condition: Callable[[], bool]) -> None:
    """Wait (briefly yielding) until ``condition`` holds; a bounded loop, not a timing claim."""
    for _ in range(50_000):
        if condition():
            return
        time.sleep(0.0001)
    raise AssertionError("the condition never held")
