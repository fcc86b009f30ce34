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
    assert limit.limit == 2 and limit.cuts == {"busy": 2, "busy_same_event": 0, "slow": 0}
    assert limit.ceiling is None  # refused with nothing else in flight: not a level
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


def _wave(limit: AdaptiveLimit, clock: FakeClock, statuses: list[int]) -> None:
    """``len(statuses)`` requests take their slots one after another (so with 1, 2, ... in
    flight), each in a thread of its own, then are answered ``statuses`` in that order."""
    entered = [threading.Event() for _ in statuses]
    answer = [threading.Event() for _ in statuses]
    answered = [threading.Event() for _ in statuses]
    leave = threading.Event()

    def request(i: int) -> None:
        if i:
            entered[i - 1].wait(5)
        with limit.slot():
            clock.now += 0.01
            entered[i].set()
            answer[i].wait(5)
            clock.now += 0.01
            limit.observe(_answer(statuses[i]))
            answered[i].set()
            leave.wait(5)  # every level was counted as its request went: leave together

    threads = [threading.Thread(target=request, args=(i,)) for i in range(len(statuses))]
    for thread in threads:
        thread.start()
    entered[-1].wait(5)
    for i in range(len(statuses)):
        answer[i].set()
        answered[i].wait(5)
    leave.set()
    for thread in threads:
        thread.join(5)


def test_a_wave_of_refusals_halves_the_limit_once_and_sets_the_ceiling_below_their_level():
    clock = FakeClock(0.0)
    limit = AdaptiveLimit(16, clock=clock)
    # A host of 8 workers: the 9th to 16th requests in flight are turned away.
    _wave(limit, clock, [200] * 8 + [503] * 8)
    assert limit.cuts == {"busy": 1, "busy_same_event": 7, "slow": 0}
    assert limit.ceiling == 8  # the fewest in flight a refusal was sent with (9), less one
    assert limit.limit == 8


def test_below_its_ceiling_the_limit_climbs_back_at_once_holds_there_then_looks_for_more():
    clock = FakeClock(0.0)
    limit = AdaptiveLimit(16, clock=clock, memory=20)
    _wave(limit, clock, [200] * 8 + [503])  # refused at 9 in flight: ceiling 8, limit 8
    assert (limit.limit, limit.ceiling) == (8, 8)
    with limit.slot():  # a refusal sent after the halving: a new event, at level 1
        clock.now += 0.01
        limit.observe(_answer(503))
    assert (limit.limit, limit.ceiling, limit.cuts["busy"]) == (4, 8, 2)

    def good() -> None:
        with limit.slot():
            clock.now += 0.01
            limit.observe(_answer(200))

    for _ in range(4):
        good()
    assert limit.limit == 8  # one request a good answer, up to what the host served
    for _ in range(15):
        good()
    assert limit.limit == 8  # held: the host is not asked for a ninth at every window
    good()  # the 20th good answer since the refusal: the ceiling is forgotten
    assert limit.ceiling is None
    for _ in range(9):
        good()
    assert limit.limit > 8  # growing again, one request a full window, as before


def test_a_refusal_sent_after_the_halving_halves_again():
    clock = FakeClock(0.0)
    limit = AdaptiveLimit(16, clock=clock)
    _wave(limit, clock, [200] * 8 + [503] * 2)
    assert limit.cuts["busy"] == 1 and limit.limit == 8
    _wave(limit, clock, [200] * 3 + [503])  # sent after it: refused at 4 in flight
    assert limit.cuts["busy"] == 2
    assert (limit.limit, limit.ceiling) == (4, 4)  # halved; 3 would be below the halving


def test_a_host_refusing_every_level_leaves_the_ceiling_at_the_halved_limit():
    clock = FakeClock(0.0)
    limit = AdaptiveLimit(6, clock=clock, memory=20)
    _wave(limit, clock, [503] * 6)  # down: refused at 1, 2, ... 6 in flight
    assert limit.cuts == {"busy": 1, "busy_same_event": 5, "slow": 0}
    # Not 1 (the second request's level less one) for the next 20 answers: half of 6.
    assert (limit.limit, limit.ceiling) == (3, 3)
