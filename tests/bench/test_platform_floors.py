"""The bench's Magento floors: per product, the path the plugin's ``bulk = "auto"`` takes on
the fake (the bulk API's floor or the synchronous API's); the consumers' own work bounds the
time floor."""

from __future__ import annotations

from bench.platforms import Limits, bigcommerce_metafields, request_floor, time_floor
from bench.sandbox_process import bench_catalogue


def test_magento_request_floor_with_and_without_consumers() -> None:
    running, stopped = Limits(magento_consumers=8), Limits(magento_consumers=0)
    assert request_floor("magento", [20, 2], running) == 5 + 5
    assert request_floor("magento", [20, 2], stopped) == 23 + 5
    assert request_floor("magento", [20]) == 23  # no limits given: the synchronous API's


def test_magento_request_floor_follows_the_auto_policy_after_its_learning_turns() -> None:
    # Learning: products by turns, the bulk first (20 children: more than one round of 6).
    learning = [5, 23, 5, 23]
    # One consumer: a bulk of 20 takes 2 + 20 latencies, the saves ceil(20/6) = 4: synchronous.
    one = Limits(magento_consumers=1)
    assert request_floor("magento", [20] * 6, one) == sum(learning) + 23 + 23
    # Eight consumers: 2 + 3 latencies against 4 x 1.25: by bulk.
    eight = Limits(magento_consumers=8)
    assert request_floor("magento", [20] * 6, eight) == sum(learning) + 5 + 5
    # Four: 2 + 5 = 7 latencies, more than 5: synchronous.
    assert request_floor("magento", [20] * 5, Limits(magento_consumers=4)) == sum(learning) + 23


def test_magento_request_floor_small_products_never_go_by_bulk() -> None:
    # Six children or fewer (one round of the 6 in flight) are saved synchronously: n + 3,
    # and they take no learning turn.
    assert request_floor("magento", [6, 6, 20], Limits(magento_consumers=8)) == 9 + 9 + 5


def test_magento_time_floor_is_bounded_by_the_consumers_work() -> None:
    limits = Limits(magento_latency=0.25, magento_workers=8, magento_consumers=4)
    assert time_floor("magento", 16, limits) == 0.5  # two rounds of 8 requests
    assert time_floor("magento", 16, limits, operations=40) == 2.5  # 10 rounds of 4
    assert time_floor("magento", 16, Limits(magento_consumers=0), operations=40) == 0.5


def test_bigcommerce_request_floor_counts_the_metafield_batches() -> None:
    # 20 units with 4 attributes and a summary each: 100 metafields, two batches of 50.
    assert request_floor("bigcommerce", [20, 20], metafields_per_product=[100, 101]) == 3 + 4
    assert request_floor("bigcommerce", [601], metafields_per_product=[0]) == 2
    assert request_floor("bigcommerce", [20]) == 1  # no metafields given: the product create


def test_bigcommerce_metafields_are_the_attributes_with_a_value_and_a_summary() -> None:
    (product,) = bench_catalogue(skus=1, units=3, seed=7)
    assert bigcommerce_metafields(product) == 3 * (4 + 1)
    bare = product.model_copy(
        update={"units": tuple(u.model_copy(update={"attributes": {}}) for u in product.units)}
    )
    assert bigcommerce_metafields(bare) == 0
