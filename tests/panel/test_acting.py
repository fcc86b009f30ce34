"""The operator's actions over real HTTP: a confirmation form with a reason, then the act,
recorded under the operator's name; refused for a viewer, without the CSRF token, and where the
lifecycle does not allow it; login attempts limited."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from serialsync.lifecycle import UnitStatus
from serialsync.panel.ratelimit import LoginLimiter
from serialsync.store import ListingState, OutboxState

from tests.panel.world import OPERATOR, PASSWORD, VIEWER, World, build_world, csrf_of, login

pytestmark = pytest.mark.e2e


def act(client: httpx.Client, name: str, reason: str, **params: str) -> httpx.Response:
    """Open an action's confirmation form and confirm it with ``reason``."""
    form = client.get(f"/act/{name}", params=params)
    assert form.status_code == 200, form.text
    assert 'name="reason"' in form.text
    return client.post(
        f"/act/{name}", data={**params, "reason": reason, "csrf_token": csrf_of(form.text)}
    )


def test_retry_a_failed_sale_then_the_next_pass_reports_it(world: World) -> None:
    channel, order_id = world.failed
    with world.client() as client:
        login(client, OPERATOR)
        done = act(
            client, "retry-sale", "the POS had a bad day", channel=channel, order_id=order_id
        )
        assert done.status_code == 303 and done.headers["location"] == "/sales"
        assert "Retry a sale: will be reported in the next pass" in client.get("/sales").text
    sale = world.host.store.get_outbox(channel, order_id)
    assert sale is not None and sale.state == OutboxState.PENDING
    world.host.order_pass()
    sale = world.host.store.get_outbox(channel, order_id)
    assert sale is not None and sale.state == OutboxState.REPORTED
    [record] = world.host.store.operator_actions(target=f"{channel}:{order_id}")
    assert (record.who, record.action, record.reason) == (
        OPERATOR,
        "Retry sale",
        "the POS had a bad day",
    )


def test_a_cancelled_sale_cannot_be_retried(world: World) -> None:
    # The failed sale was refunded in the shop: the order pass cancelled it (see the engine's
    # tests); a retry would report to the POS a sale the shop refunded.
    channel, order_id = world.failed
    store = world.host.store
    failed = store.get_outbox(channel, order_id)
    assert failed is not None
    note = "refunded after the POS refused it: nothing to report; its units let go"
    with store.transaction():
        store.put_outbox(replace(failed, state=OutboxState.CANCELLED, note=note))
    with world.client() as client:
        login(client, OPERATOR)
        form = client.get("/act/retry-sale", params={"channel": channel, "order_id": order_id})
        assert form.status_code == 409 and note in form.text
        by_hand = client.post(
            "/act/retry-sale",
            data={
                "channel": channel,
                "order_id": order_id,
                "reason": "r",
                "csrf_token": csrf_of(client.get("/").text),
            },
        )
        assert by_hand.status_code == 409 and "cannot be retried" in by_hand.text
    sale = store.get_outbox(channel, order_id)
    assert sale is not None and sale.state == OutboxState.CANCELLED
    assert store.operator_actions() == []


def test_settle_a_conflict(world: World) -> None:
    channel, order_id = world.conflict
    store = world.host.store
    with world.client() as client:
        login(client, OPERATOR)
        page = client.get("/conflicts").text
        assert order_id in page and "Holding its units" in page
        done = act(
            client, "settle", "refunded the second buyer", channel=channel, order_id=order_id
        )
        assert done.status_code == 303
        assert "No conflicts." in client.get("/conflicts").text
    sale = store.get_outbox(channel, order_id)
    assert sale is not None and sale.state == OutboxState.CANCELLED
    assert sale.note is not None and OPERATOR in sale.note and "refunded the second" in sale.note
    assert store.quarantined(kind="conflict") == []
    # The next pass leaves it settled, and reports nothing of it to the POS.
    world.host.order_pass()
    again = store.get_outbox(channel, order_id)
    assert again is not None and again.state == OutboxState.CANCELLED


def test_mark_sold_then_defective_withdraws_it_from_every_channel(world: World) -> None:
    store = world.host.store
    listed = next(
        r for r in store.all_units() if r.status == UnitStatus.IN_STOCK and r.unit.sku != "XSS-1"
    )
    serial = listed.unit.serial
    with world.client() as client:
        login(client, OPERATOR)
        page = client.get("/unit", params={"serial": serial}).text
        offered = sorted(re.findall(r'href="/act/mark\?[^"]*action=([a-z-]+)"', page))
        assert offered == ["reserved", "sold"]  # not defective: the table does not allow it
        sold = act(client, "mark", "sold at the counter", serial=serial, action="sold")
        assert sold.status_code == 303
        # Reserve is not allowed from sold: refused, even when the form is sent by hand.
        form = client.get("/unit", params={"serial": serial}).text
        by_hand = client.post(
            "/act/mark",
            data={
                "serial": serial,
                "action": "reserved",
                "reason": "r",
                "csrf_token": csrf_of(form),
            },
        )
        assert by_hand.status_code == 409
        done = act(client, "mark", "the neck is cracked", serial=serial, action="defective")
        assert done.status_code == 303
        history = client.get("/unit", params={"serial": serial}).text
    assert "Mark as Defective: the neck is cracked" in history
    assert f"operator {OPERATOR}" in history
    unit = store.get_unit(serial)
    assert unit is not None and unit.status == UnitStatus.DEFECTIVE
    world.host.inventory_pass()
    listings = store.listings_of_unit(serial)
    assert {li.connector for li in listings} == {"shopify", "woocommerce"}
    assert all(li.state == ListingState.WITHDRAWN for li in listings)
    for name, fake in world.sandbox.channel_fakes().items():
        for listing in fake.listings():
            if listing.sku == unit.unit.integration_id:
                assert not (listing.sellable and listing.stock > 0), name


def test_a_viewer_is_refused_every_action(world: World) -> None:
    channel, order_id = world.failed
    with world.client() as client:
        login(client, VIEWER)
        assert (
            client.get(
                "/act/retry-sale", params={"channel": channel, "order_id": order_id}
            ).status_code
            == 403
        )
        token = csrf_of(client.get("/").text)
        sent = client.post(
            "/act/retry-sale",
            data={"channel": channel, "order_id": order_id, "reason": "r", "csrf_token": token},
        )
        assert sent.status_code == 403
    sale = world.host.store.get_outbox(channel, order_id)
    assert sale is not None and sale.state == OutboxState.FAILED
    assert world.host.store.operator_actions() == []


def test_a_form_without_its_csrf_token_is_refused(world: World) -> None:
    channel, order_id = world.failed
    with world.client() as client:
        login(client, OPERATOR)
        for token in (None, "forged"):
            data = {"channel": channel, "order_id": order_id, "reason": "r"}
            if token:
                data["csrf_token"] = token
            assert client.post("/act/retry-sale", data=data).status_code == 403
        # Logging out needs it too.
        assert client.post("/logout").status_code == 403
        assert client.get("/").status_code == 200
    sale = world.host.store.get_outbox(channel, order_id)
    assert sale is not None and sale.state == OutboxState.FAILED


def test_an_action_needs_a_reason(world: World) -> None:
    channel, order_id = world.failed
    with world.client() as client:
        login(client, OPERATOR)
        answer = act(client, "retry-sale", "   ", channel=channel, order_id=order_id)
        assert answer.status_code == 409 and "say why" in answer.text


def test_logins_are_limited_after_five_failures(tmp_path: Path) -> None:
    now = [0.0]
    limiter = LoginLimiter(clock=lambda: now[0])
    for world in build_world(tmp_path, limiter=limiter):
        with world.client() as client:
            for _ in range(5):
                assert login(client, OPERATOR, "guess").status_code == 401
            limited = login(client, OPERATOR, PASSWORD)  # even the right one, for now
            assert limited.status_code == 429
            assert int(limited.headers["retry-after"]) > 0
            now[0] += 301
            assert login(client, OPERATOR, PASSWORD).status_code == 303
