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
    # The 429 answered a retry sent after the 503's cut: a new event, a second cut.
    assert limit.limit == 2 and limit.cuts == {"busy": 2, "busy_same_event": 0, "slow": 0}
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
    # One cut per window of four answers sent since the last cut: 4 x 0.9^7 < 2.
    assert limit.limit == 2 and limit.cuts["slow"] == 30 // 4
    for _ in range(5):
        with limit.slot():
            limit.observe(_answer(503))
    assert limit.limit == 1


def _wave(limit: AdaptiveLimit, clock: FakeClock, statuses: list[int], took: float) -> None:
    """Requests sent together (each in a slot of its own thread) and answered together,
    ``took`` seconds later, with ``statuses``."""
    sent = threading.Barrier(len(statuses) + 1)
    answered = threading.Barrier(len(statuses) + 1)

    def request(status: int) -> None:
        with limit.slot():
            sent.wait(5)
            answered.wait(5)  # the clock has moved: the answers come now
            limit.observe(_answer(status))

    threads = [threading.Thread(target=request, args=(status,)) for status in statuses]
    for thread in threads:
        thread.start()
    sent.wait(5)
    clock.now += took
    answered.wait(5)
    for thread in threads:
        thread.join(5)
    assert limit.in_flight == 0


def _one(limit: AdaptiveLimit, clock: FakeClock, status: int, took: float) -> None:
    """One request sent now and answered ``took`` seconds later with ``status``."""
    with limit.slot():
        clock.now += took
        limit.observe(_answer(status))


def test_a_wave_of_503s_to_requests_sent_together_halves_the_limit_once():
    clock = FakeClock()
    limit = AdaptiveLimit(16, clock=clock)
    # Sent at a limit of 16 to a host of eight workers: the eight it turned away were refused
    # together, one event (the eight it took are still being worked).
    _wave(limit, clock, [503] * 8, took=0.25)
    assert limit.limit == 8
    assert limit.cuts == {"busy": 1, "busy_same_event": 7, "slow": 0}


def test_a_503_to_a_request_sent_after_the_last_cut_cuts_again():
    clock = FakeClock()
    limit = AdaptiveLimit(16, clock=clock)
    _wave(limit, clock, [503] * 4, took=0.25)
    assert limit.limit == 8
    clock.now += 0.5
    _one(limit, clock, 503, took=0.25)  # sent at 8 and still refused: the host has fewer
    assert limit.limit == 4 and limit.cuts["busy"] == 2


def test_a_503_to_a_request_sent_before_the_last_cut_does_not_cut_again():
    clock = FakeClock()
    limit = AdaptiveLimit(16, clock=clock)
    early_sent = threading.Event()
    answer_now = threading.Event()

    def early() -> None:
        with limit.slot():
            early_sent.set()
            answer_now.wait(5)
            limit.observe(_answer(503))

    thread = threading.Thread(target=early)
    thread.start()
    early_sent.wait(5)
    clock.now += 0.1
    _one(limit, clock, 503, took=0.25)  # sent after the early one, answered first: it cuts
    clock.now += 0.1
    answer_now.set()
    thread.join(5)
    assert limit.limit == 8
    assert limit.cuts == {"busy": 1, "busy_same_event": 1, "slow": 0}


def test_one_slow_answer_among_quick_ones_does_not_cut():
    clock = FakeClock()
    limit = AdaptiveLimit(8, clock=clock)
    for _ in range(10):
        _one(limit, clock, 200, took=0.1)
    _one(limit, clock, 200, took=1.0)  # ten times the quickest: a pause, not a queue
    for _ in range(10):
        _one(limit, clock, 200, took=0.1)
    assert limit.limit == 8 and limit.cuts["slow"] == 0


def test_slow_answers_that_go_on_cut_once_per_window_down_to_two():
    clock = FakeClock()
    limit = AdaptiveLimit(8, clock=clock)
    _one(limit, clock, 200, took=0.1)
    for _ in range(6):
        _one(limit, clock, 200, took=1.0)
    # Seven answers: fewer than the window of eight (the limit), nothing yet.
    assert limit.limit == 8 and limit.cuts["slow"] == 0
    _one(limit, clock, 200, took=1.0)  # the median of eight is slow: the host is queueing
    assert limit.limit == 8 * 0.9 and limit.cuts["slow"] == 1
    for _ in range(6):
        _one(limit, clock, 200, took=1.0)
    # The window starts again at the cut: seven answers (the limit, 7.2) before the next.
    assert limit.cuts["slow"] == 1
    _one(limit, clock, 200, took=1.0)
    assert limit.cuts["slow"] == 2
    for _ in range(100):  # fewer than the 200 answers after which the quickest is forgotten
        _one(limit, clock, 200, took=1.0)
    assert limit.limit == 2  # the floor of two holds for slowness


def test_slowness_never_raises_a_limit_that_503s_took_below_two():
    clock = FakeClock()
    limit = AdaptiveLimit(4, clock=clock)
    _one(limit, clock, 200, took=0.1)
    _one(limit, clock, 503, took=0.1)
    _one(limit, clock, 503, took=0.1)
    assert limit.limit == 1
    for _ in range(8):
        _one(limit, clock, 200, took=1.0)
    assert limit.limit == 1 and limit.cuts["slow"] == 2


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
