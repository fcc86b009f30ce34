"""The oversell breakdown: an order's steps joined to the watch's order, in platform seconds."""

from __future__ import annotations

from bench.report import render_breakdown
from bench.trace import OrderTrace, breakdown, order_key


def test_the_fakes_ids_and_the_webhooks_ids_meet_on_the_number():
    assert order_key("shopify", "gid://shopify/Order/1042") == "shopify/1042"
    assert order_key("bigcommerce", "1042") == "bigcommerce/1042"
    assert order_key("woocommerce", "draft") == "woocommerce/draft"


def test_each_step_is_read_from_the_order_creation_at_the_run_s_scale():
    trace = OrderTrace()
    key = order_key("shopify", "gid://shopify/Order/7")
    for step, at in [("accepted", 100.1), ("start", 100.1), ("fetched", 100.3)]:
        trace.stamp(key, step, at)
    trace.stamp(key, "applied", 100.4)
    trace.stamp(key, "applied", 150.0)  # the first stamp of a step counts
    trace.stamp(key, "w_start:magento", 100.4)
    trace.stamp(key, "w_sent:magento", 100.5)
    trace.stamp(key, "w_answered:magento", 100.8)
    watched = {
        "channel": "shopify",
        "order_id": "7",
        "created": 100.0,
        "resolved": 101.0,
        "gone": {"magento": 101.0},
    }

    out = breakdown(trace, [watched], factor=10.0, channels=["shopify", "magento"])

    [row] = out["orders"]
    assert row["window"] == 10.0
    assert (row["accepted"], row["fetched"], row["applied"]) == (1.0, 3.0, 4.0)
    assert row["magento"] == {"w_start": 4.0, "w_sent": 5.0, "w_answered": 8.0, "gone": 10.0}
    assert "shopify" not in row  # the ordering channel withdraws nothing
    steps = out["steps"]
    assert steps["fetched (from the previous step)"]["max"] == 2.0
    assert steps["magento: withdraw_units call"]["p50"] == 3.0
    assert steps["magento: answered to gone"]["p50"] == 2.0
    table = "\n".join(render_breakdown(steps, None))
    assert "| magento: withdraw_units call | 1 | 3.00 | 3.00 | 3.00 |" in table


def test_an_order_s_waits_for_the_store_lock_are_added_up_and_a_pass_s_are_not():
    import threading

    from bench.trace import _CURRENT, _TimedLock

    trace = OrderTrace()
    lock = _TimedLock(threading.RLock(), trace)
    holding, release = threading.Event(), threading.Event()

    def publish() -> None:
        with lock:
            holding.set()
            release.wait(5)

    holder = threading.Thread(target=publish)
    holder.start()
    holding.wait(5)
    token = _CURRENT.set("shopify/7")
    try:
        threading.Timer(0.05, release.set).start()
        with lock:  # waits for the publish's hold
            pass
        with lock:  # free: adds (almost) nothing, but adds
            pass
    finally:
        _CURRENT.reset(token)
    holder.join(5)
    token = _CURRENT.set("pass:1")
    try:
        with lock:
            pass
    finally:
        _CURRENT.reset(token)
    assert trace.steps["shopify/7"]["store_wait"] > 0
    assert "pass:1" not in trace.steps


def test_an_order_pass_s_withdrawal_step_is_stamped_in_its_parts(tmp_path):
    from tests.engine.test_withdraw import BatchingChannel, LoggingChannel, _world

    a, b = BatchingChannel(), LoggingChannel()
    w = _world(tmp_path, a, b, workers=2)
    w.host.order_pass()
    w.host.inventory_pass()
    a.place_order([("P1|||A1", 1)])
    trace = OrderTrace()
    trace.install(w.host, None)
    try:
        w.host.order_pass()
    finally:
        trace.uninstall()

    steps = trace.steps["pass:1"]
    # shop_b has no withdraw_units: its withdrawal is sent product by product (the rest).
    assert steps["w_rest:shop_b"] <= steps["w_rest_end:shop_b"] <= steps["w_end:shop_b"]
    assert "w_rest:shop_a" not in steps  # the batch answered all of shop_a's
    for channel in ("shop_a", "shop_b"):
        assert steps[f"w_start:{channel}"] <= steps[f"w_hide:{channel}"]
        assert steps[f"w_hide_end:{channel}"] <= steps[f"w_end:{channel}"]
    w.store.close()


def test_a_polling_window_is_split_at_the_start_of_the_pass_that_closed_it():
    trace = OrderTrace()
    for n, at in enumerate([100.0, 106.0, 112.0], 1):
        trace.stamp(f"pass:{n}", "start", at)
    orders = [
        # Created between two passes: the window's part in the pass runs from its start.
        {"channel": "shopify", "order_id": "1", "created": 101.0, "resolved": 106.5},
        # Created while a pass was reading, and closed by that same pass: from the creation.
        {"channel": "magento", "order_id": "2", "created": 106.2, "resolved": 106.9},
        {"channel": "magento", "order_id": "3", "created": 107.0, "resolved": None},
    ]

    out = breakdown(trace, orders, factor=10.0, channels=["shopify", "magento"])

    assert [row.get("in_pass") for row in out["orders"]] == [5.0, 7.0, None]
    stats = out["steps"]["in the order pass that closed it (polling)"]
    assert (stats["n"], stats["max"]) == (2, 7.0)
