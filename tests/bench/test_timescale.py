"""The bench's scaled clock, and its change of speed at an agreed instant (``rescale``)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from bench.timescale import TimeScale
from tests.clocks import FakeClock


@pytest.fixture
def wall(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """A wall clock the test moves by hand, as ``bench.timescale`` reads and sleeps on it."""
    clock = FakeClock()
    # The module's own ``time``, replaced: the test's runner keeps the real clock.
    fake_time = SimpleNamespace(monotonic=clock, sleep=clock.sleep, time=time.time)
    monkeypatch.setattr("bench.timescale.time", fake_time)
    return clock


def test_platform_time_runs_factor_times_the_wall_clock(wall: FakeClock) -> None:
    scale = TimeScale(10, origin=wall.now, epoch_origin=5_000.0)
    wall.now += 2
    assert scale.monotonic() == pytest.approx(1000 + 20)
    assert scale.epoch() == pytest.approx(5_000 + 20)


def test_a_rescale_waits_for_its_instant_then_goes_on_without_a_jump(wall: FakeClock) -> None:
    scale = TimeScale(10, origin=wall.now, epoch_origin=5_000.0)
    scale.rescale(1, at=wall.now + 3)
    wall.now += 2
    assert scale.factor == 10  # not yet
    assert scale.monotonic() == pytest.approx(1000 + 20)
    wall.now += 1  # the instant: 30 platform seconds have passed
    assert scale.monotonic() == pytest.approx(1000 + 30)
    assert scale.factor == 1
    wall.now += 4
    assert scale.monotonic() == pytest.approx(1000 + 30 + 4)
    assert scale.epoch() == pytest.approx(5_000 + 34)


def test_the_change_is_placed_at_its_instant_even_when_read_later(wall: FakeClock) -> None:
    scale = TimeScale(10, origin=wall.now)
    scale.rescale(1, at=wall.now + 1)
    wall.now += 5  # first read long after the instant: 10 fast seconds, then 4 slow ones
    assert scale.monotonic() == pytest.approx(1000 + 10 + 4)


def test_two_processes_rescaled_alike_agree_on_platform_time(wall: FakeClock) -> None:
    host = TimeScale(10, origin=wall.now)
    wall.now += 7
    child = TimeScale.from_spec(host.spec())  # built later, from the host's description
    at = wall.now + 0.2
    child.rescale(1, at=at)
    wall.now += 0.1
    host.rescale(1, at=at)  # asked a little later, for the same instant
    for step in (0.05, 0.1, 3.0):
        wall.now += step
        assert host.monotonic() == pytest.approx(child.monotonic())


def test_sleeps_wait_at_the_speed_of_their_start_and_count_platform_seconds(
    wall: FakeClock,
) -> None:
    scale = TimeScale(10, origin=wall.now)
    scale.sleep(2.0, "fake:x")
    scale.rescale(1, at=wall.now)
    scale.sleep(2.0, "fake:x")
    assert wall.sleeps == [pytest.approx(0.2), pytest.approx(2.0)]
    assert scale.slept["fake:x"] == pytest.approx(4.0)
    assert scale.to_platform(3.0) == pytest.approx(3.0)


def test_a_speed_must_be_positive(wall: FakeClock) -> None:
    scale = TimeScale(10, origin=wall.now)
    with pytest.raises(ValueError, match="positive"):
        scale.rescale(0, at=wall.now)
    with pytest.raises(ValueError, match="positive"):
        TimeScale(-1)
