"""The burst's withdrawals as intervals: pairing, union, sleeps inside, hand-over latency."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from bench.busy import (
    IntervalPairs,
    handover_latencies,
    merged,
    union_seconds,
    waited_within,
    withdraw_requests,
)
from bench.host_run import Timeline
from bench.sandbox_process import request_label


def test_pairs_start_and_end_per_thread_when_two_withdrawals_overlap() -> None:
    pairs = IntervalPairs()
    pairs.start(1, "shopify", 1.0)
    pairs.start(2, "shopify", 2.0)
    pairs.end(1, 5.0)  # thread 1's end closes thread 1's start, not the latest one
    pairs.end(2, 3.0)
    assert pairs.of("shopify") == [(1.0, 5.0), (2.0, 3.0)]


def test_pairs_keep_channels_apart_and_a_thread_serves_one_after_another() -> None:
    pairs = IntervalPairs()
    pairs.start(1, "magento", 1.0)
    pairs.end(1, 2.0)
    pairs.start(1, "woocommerce", 2.5)  # a pool thread withdrawing for another channel next
    pairs.end(1, 4.0)
    assert pairs.of("magento") == [(1.0, 2.0)]
    assert pairs.of("woocommerce") == [(2.5, 4.0)]


def test_an_end_without_start_is_ignored_and_an_open_start_is_replaced() -> None:
    pairs = IntervalPairs()
    pairs.end(7, 1.0)
    pairs.start(7, "bigcommerce", 2.0)  # this withdrawal raised before its end mark
    pairs.start(7, "bigcommerce", 3.0)
    pairs.end(7, 4.0)
    pairs.end(7, 9.0)  # nothing open any more
    assert pairs.of("bigcommerce") == [(3.0, 4.0)]
    assert pairs.of("shopify") == []


def test_union_counts_overlaps_once() -> None:
    intervals = [(5.0, 6.0), (1.0, 3.0), (2.0, 4.0), (4.0, 4.5)]
    assert merged(intervals) == [(1.0, 4.5), (5.0, 6.0)]
    assert union_seconds(intervals) == pytest.approx(4.5)
    assert union_seconds([]) == 0.0


def test_sleeps_within_overlapping_intervals_count_once() -> None:
    factor = 10.0
    events = [
        ("client:shopify", 1.5, 5.0),  # 0.5 s real, inside both withdrawals
        ("fake:shopify", 1.7, 2.0),  # 0.2 s real, side by side with the first
        ("client:shopify", 10.0, 50.0),  # between the withdrawals: not theirs
        ("fake:magento", 1.5, 5.0),  # another channel's
    ]
    intervals = [(1.0, 3.0), (1.2, 2.5)]
    assert waited_within(events, intervals, "shopify", factor) == pytest.approx(5.0)


def test_a_sleep_is_cut_at_the_end_of_its_interval() -> None:
    # A request of the channel's own read sent inside the withdrawal, answered after it.
    events = [("fake:bigcommerce", 2.0, 30.0)]  # 3 s real from 2.0
    assert waited_within(events, [(1.0, 3.0)], "bigcommerce", 10.0) == pytest.approx(10.0)


def test_handover_latency_ends_with_the_first_withdrawal_started_after_the_read() -> None:
    intervals = [(1.0, 2.0), (3.0, 7.0), (4.0, 5.0), (8.0, 9.0)]
    latencies = handover_latencies({"shopify": 0.5, "bigcommerce": 2.5, "magento": 7.5}, intervals)
    # bigcommerce's read ended at 2.5: the withdrawal started at 3.0 ends at 7.0, although
    # one that started later (4.0) ended sooner; it is the first to have planned its units.
    assert latencies == {
        "shopify": pytest.approx(1.5),
        "bigcommerce": pytest.approx(4.5),
        "magento": pytest.approx(1.5),
    }


def test_handover_latency_is_none_when_no_withdrawal_started_after_the_read() -> None:
    assert handover_latencies({"woocommerce": 5.0}, [(1.0, 6.0)]) == {"woocommerce": None}
    # A withdrawal starting the instant the read ended counts.
    assert handover_latencies({"woocommerce": 1.0}, [(1.0, 6.0)]) == {
        "woocommerce": pytest.approx(5.0)
    }


def test_withdraw_requests_leave_the_order_reads_out() -> None:
    labels = {
        "PUT /stores/{…}/{…}/catalog/variants": 20,
        "GET /stores/{…}/{…}/orders/{…}/products": 25,
    }
    count, others = withdraw_requests("bigcommerce", labels)
    assert count == 20
    assert others == Counter({"GET /stores/{…}/{…}/orders/{…}/products": 25})


def test_shopify_requests_are_told_apart_by_their_graphql_operation() -> None:
    pattern = "POST /admin/api/{…}/graphql.json"
    stock = request_label(pattern, b'{"query": "mutation StockSet($k: String!) {}"}')
    read = request_label(pattern, b'{"query": "query X {}", "operationName": "OrdersPage"}')
    assert stock == f"{pattern} StockSet"
    assert read == f"{pattern} OrdersPage"
    assert withdraw_requests("shopify", {stock: 4, read: 3}) == (4, Counter({read: 3}))
    # Not GraphQL, or a body that is not JSON: the pattern alone.
    assert request_label("GET /x", b"{}") == "GET /x"
    assert request_label(pattern, b"not json") == pattern


def test_timeline_pairs_the_engine_marks_in_each_withdrawing_thread() -> None:
    timeline = Timeline()
    started = threading.Event()
    finish = threading.Event()

    def other() -> None:  # a second withdrawal of shopify, in a thread of its own
        timeline.progress("withdraw", "shopify", 0, 5)
        timeline.checkpoint("withdraw.started")
        started.set()
        finish.wait(timeout=10)
        timeline.checkpoint("withdraw.done")

    thread = threading.Thread(target=other)
    timeline.progress("withdraw", "shopify", 0, 3)
    timeline.checkpoint("withdraw.started")
    thread.start()
    started.wait(timeout=10)
    timeline.checkpoint("withdraw.done")  # closes this thread's, while the other still runs
    timeline.progress("withdraw", "magento", 0, 2)
    timeline.checkpoint("withdraw.started")
    timeline.checkpoint("withdraw.done")
    finish.set()
    thread.join(timeout=10)
    shopify = timeline.withdrawals.of("shopify")
    assert len(shopify) == 2
    # The first interval (this thread's) ended before the second (the other thread's).
    assert shopify[0][1] <= shopify[1][1]
    assert len(timeline.withdrawals.of("magento")) == 1
    timeline.reset()
    assert timeline.withdrawals.of("shopify") == []
