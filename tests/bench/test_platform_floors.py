"""The bench's Magento floors: the bulk API's while the store's consumers run, else the
synchronous API's; the consumers' own work bounds the time floor."""

from __future__ import annotations

from bench.platforms import Limits, request_floor, time_floor


def test_magento_request_floor_with_and_without_consumers() -> None:
    running, stopped = Limits(magento_consumers=8), Limits(magento_consumers=0)
    assert request_floor("magento", [20, 2], running) == 5 + 5
    assert request_floor("magento", [20, 2], stopped) == 23 + 5
    assert request_floor("magento", [20]) == 23  # no limits given: the synchronous API's


def test_magento_time_floor_is_bounded_by_the_consumers_work() -> None:
    limits = Limits(magento_latency=0.25, magento_workers=8, magento_consumers=4)
    assert time_floor("magento", 16, limits) == 0.5  # two rounds of 8 requests
    assert time_floor("magento", 16, limits, operations=40) == 2.5  # 10 rounds of 4
    assert time_floor("magento", 16, Limits(magento_consumers=0), operations=40) == 0.5
