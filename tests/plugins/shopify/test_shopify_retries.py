"""Which requests are resent after a lost answer: reads and keyed stock sets, never creates."""

from __future__ import annotations

import json

import httpx
from serialsync import ListingAction, ListingChange, PublishResult
from serialsync_shopify.fake import FakeShopify

from tests.clocks import FakeClock

from .conftest import make_connector, product, units, upserts


def dropping(fake: FakeShopify, operation: str, *, after_apply: bool) -> httpx.MockTransport:
    """A transport that loses the first answer to ``operation`` (before or after applying it)."""
    state = {"dropped": False}

    def handler(request: httpx.Request) -> httpx.Response:
        name = json.loads(request.content).get("operationName")
        if name == operation and not state["dropped"]:
            state["dropped"] = True
            if after_apply:
                fake(request)
            raise httpx.ReadTimeout("answer lost", request=request)
        response: httpx.Response = fake(request)
        return response

    return httpx.MockTransport(handler)


def connector_over(fake: FakeShopify, clock: FakeClock, transport: httpx.MockTransport):
    connector = make_connector(fake, clock, transport=True)
    connector.client.http._transport = transport
    return connector


def test_a_lost_read_is_resent(clock, wall):
    fake = FakeShopify(clock=clock, now=wall)
    make_connector(fake, clock, transport=True).publish_variants(product(), upserts(units(count=1)))
    # A new unit of that product, from a new runner: the create finds the handle taken, and
    # the lookup that follows is dropped once.
    connector = connector_over(fake, clock, dropping(fake, "ProductLookup", after_apply=True))
    fresh = [u.model_copy(update={"serial": u.serial + "B"}) for u in units(count=2)]
    outcomes = connector.publish_variants(product(), upserts(fresh))
    assert {o.result for o in outcomes} == {PublishResult.CREATED}
    assert connector.client.http.stats["retries"] == 1


def test_a_lost_create_is_not_resent(clock, wall):
    fake = FakeShopify(clock=clock, now=wall)
    connector = connector_over(
        fake, clock, dropping(fake, "ProductCreateWithVariants", after_apply=True)
    )
    outcomes = connector.publish_variants(product(), upserts(units(count=2)))
    assert {o.result for o in outcomes} == {PublishResult.FAILED}
    assert all(o.retryable for o in outcomes)
    assert connector.client.http.stats["retries"] == 0
    assert fake.calls.count("productSet") == 1  # applied once, never twice
    assert len(fake.variants) == 2

    # The next pass creates first, finds the handle taken, looks the product up and adopts.
    again = make_connector(fake, clock, transport=True).publish_variants(
        product(), upserts(units(count=2))
    )
    assert {o.result for o in again} == {PublishResult.UNCHANGED}
    assert all(o.remote and o.remote.variant_id for o in again)
    assert len(fake.variants) == 2 and len(fake.products) == 1


def test_a_lost_stock_set_is_resent_under_the_same_key_and_applied_once(clock, wall):
    fake = FakeShopify(clock=clock, now=wall)
    plain = make_connector(fake, clock, transport=True)
    stock = units(count=1)
    created = plain.publish_variants(product(), upserts(stock))
    connector = connector_over(fake, clock, dropping(fake, "StockSet", after_apply=True))
    change = ListingChange(unit=stock[0], action=ListingAction.WITHDRAW, remote=created[0].remote)
    outcomes = connector.publish_variants(product(), [change])
    assert outcomes[0].result is PublishResult.WITHDRAWN
    assert connector.client.http.stats["retries"] == 1
    assert fake.calls.count("inventorySetQuantities") == 2  # the resend was answered...
    assert len(fake.catalog.idempotency) == 1  # ...from the same key: one adjustment
    (variant,) = fake.variants.values()
    assert fake.stock_of(variant.id) == 0
