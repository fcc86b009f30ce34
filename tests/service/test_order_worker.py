"""The webhook order worker works orders side by side, and one order never twice at once.

A request for one order is held inside the Shopify fake (its ``on_request``) until the test
lets it go: meanwhile another order must be worked to its end, and a new delivery of the held
order must wait for the first working of it, then be worked once more.
"""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from serialsync.store import OutboxState

from .conftest import Running

pytestmark = pytest.mark.e2e


def _units(running: Running) -> list[str]:
    return sorted(f"{u.unit.sku}|||{u.unit.serial}" for u in running.host.store.all_units())


class _Hold:
    """Holds the fake's reads of one order (``OrderById`` naming it) until released."""

    def __init__(self, order_id: str) -> None:
        self.order_id = order_id
        self.release = threading.Event()
        self.reads = 0
        self.waiting = 0
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> None:
        if b"OrderById" not in request.content or self.order_id.encode() not in request.content:
            return
        with self._lock:
            self.reads += 1
            self.waiting += 1
        try:
            assert self.release.wait(30)
        finally:
            with self._lock:
                self.waiting -= 1


def _wait(condition: object, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.02)
    return False


def test_a_slow_order_does_not_hold_the_others_nor_is_worked_twice_at_once(running: Running):
    shop = running.channel("shopify")
    slow_unit, fast_unit = _units(running)[:2]
    slow = shop.create_order([(slow_unit, 1)])  # nothing registered: no delivery, no poll
    fast = shop.create_order([(fast_unit, 1)])
    assert slow != fast
    hold = _Hold(slow)
    shop.on_request = hold
    worker = running.service.worker
    assert worker is not None
    try:
        assert worker.submit("shopify", slow)
        assert _wait(lambda: hold.waiting == 1), "the slow order was never fetched"
        assert worker.submit("shopify", slow)  # delivered again while it is being worked
        assert not worker.submit("shopify", slow)  # and again: one more working is enough
        assert worker.submit("shopify", fast)

        # The fast order is worked to its end while the slow one is held.
        assert _wait(lambda: running.outbox_state("shopify", fast) == OutboxState.REPORTED)
        assert not running.sellable("woocommerce", fast_unit)
        assert hold.waiting == 1 and hold.reads == 1  # never a second working at once
        assert running.sellable("woocommerce", slow_unit)
    finally:
        hold.release.set()
    assert running.worker_idle()
    shop.on_request = None
    assert hold.reads == 2  # the delivery that came meanwhile was worked after the first
    assert running.outbox_state("shopify", slow) == OutboxState.REPORTED
    assert not running.sellable("woocommerce", slow_unit)
    recorded = running.sandbox.pos_fakes()["aim_pos"].recorded_orders()
    assert len(recorded) == 2  # each sale reported once
