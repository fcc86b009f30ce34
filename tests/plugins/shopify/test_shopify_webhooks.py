"""Shopify webhooks in the plugin: subscriptions through the schema-checking fake, signatures."""

from __future__ import annotations

import itertools
import json

import pytest
from graphql import parse, validate
from serialsync import WebhookSignatureError, hmac_sha256_base64
from serialsync_shopify import webhooks
from serialsync_shopify.fake import DEFAULT_CLIENT_SECRET

from .conftest import make_connector, product, units, upserts

URL = "https://sync.example.com/webhooks/shop"


def test_register_subscribes_the_order_topics_once(shop, clock, shopify_schema):
    connector = make_connector(shop, clock)
    first = connector.register_webhooks(URL)
    assert sorted(s.topic for s in first) == sorted(webhooks.ORDER_TOPICS)
    assert {s.url for s in first} == {URL}
    again = connector.register_webhooks(URL)
    assert sorted(s.remote_id for s in again) == sorted(s.remote_id for s in first)
    assert shop.calls.count("webhookSubscriptionCreate") == 4
    # Another address gets its own subscriptions; listing one address shows only its own.
    connector.register_webhooks("https://other.example.com/webhooks/shop")
    assert len(connector.list_webhooks(URL)) == 4
    assert len(connector.list_webhooks(None)) == 8
    removed = connector.remove_webhooks(URL)
    assert len(removed) == 4
    listed = connector.list_webhooks(URL)  # each order topic now shown missing
    assert sorted(s.topic for s in listed) == sorted(webhooks.ORDER_TOPICS)
    assert {(s.state, s.remote_id) for s in listed} == {("missing", "")}
    assert connector.remove_webhooks(URL) == []  # nothing real left to delete
    for name, text in shop.documents:
        assert validate(shopify_schema, parse(text)) == [], name


def test_a_second_subscription_to_one_topic_and_address_is_refused_by_the_fake(shop, clock):
    connector = make_connector(shop, clock)
    connector.register_webhooks(URL)
    payload = connector.client.webhook_subscription_create("ORDERS_CREATE", URL)
    assert payload["userErrors"][0]["field"] == ["webhookSubscription", "uri"]


def test_register_without_the_client_secret_is_a_configuration_error(shop, clock):
    from serialsync import ConfigurationError

    connector = make_connector(shop, clock, client_secret=None)
    with pytest.raises(ConfigurationError, match="client_secret"):
        connector.register_webhooks(URL)
    assert shop.webhooks.subscriptions == {}


def test_fetch_order_reads_one_order_as_polling_maps_it(shop, clock):
    connector = make_connector(shop, clock)
    stock = units(count=2)
    connector.publish_variants(product(), upserts(stock))
    order_id = shop.create_order([(stock[0].integration_id, 1)])
    one = connector.fetch_order(order_id)
    (polled,) = connector.fetch_orders(None, None).orders
    assert one == polled
    assert connector.fetch_order("gid://shopify/Order/999999") is None
    shop.hidden_orders.add(order_id)
    assert connector.fetch_order(order_id) is None


def _headers(body: bytes, **extra: str) -> dict[str, str]:
    return {
        "x-shopify-hmac-sha256": hmac_sha256_base64(DEFAULT_CLIENT_SECRET, body),
        "x-shopify-topic": "orders/create",
        "x-shopify-event-id": "event-1",
        "x-shopify-webhook-id": "delivery-1",
        **extra,
    }


BODY = json.dumps(
    {"id": 820982911946154508, "admin_graphql_api_id": "gid://shopify/Order/7"}
).encode()


def test_a_valid_signature_names_the_event_and_the_order(shop, clock):
    connector = make_connector(shop, clock)
    delivery = connector.verify_webhook(_headers(BODY), BODY)
    assert (delivery.topic, delivery.delivery_id, delivery.order_id) == (
        "orders/create",
        "event-1",
        "gid://shopify/Order/7",
    )


def test_the_rest_id_names_the_order_when_the_graphql_id_is_absent(shop, clock):
    body = json.dumps({"id": 42}).encode()
    delivery = make_connector(shop, clock).verify_webhook(_headers(body), body)
    assert delivery.order_id == "gid://shopify/Order/42"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-shopify-hmac-sha256": ""},
        {"x-shopify-hmac-sha256": hmac_sha256_base64("another secret", BODY)},
        {"x-shopify-hmac-sha256": hmac_sha256_base64(DEFAULT_CLIENT_SECRET, BODY + b"\n")},
    ],
    ids=["missing", "empty", "wrong-secret", "other-bytes"],
)
def test_a_missing_or_wrong_signature_is_refused(shop, clock, headers):
    with pytest.raises(WebhookSignatureError):
        make_connector(shop, clock).verify_webhook(headers, BODY)


def test_without_a_client_secret_nothing_verifies(shop, clock):
    with pytest.raises(WebhookSignatureError, match="client_secret"):
        make_connector(shop, clock, client_secret=None).verify_webhook(_headers(BODY), BODY)


def test_an_unfollowed_topic_names_no_order(shop, clock):
    headers = _headers(BODY, **{"x-shopify-topic": "products/update"})
    delivery = make_connector(shop, clock).verify_webhook(headers, BODY)
    assert delivery.order_id is None


def test_the_fake_delivers_signed_events_the_plugin_verifies(fake, clock):
    from serialsync.testing import Delivery, WebhookSender

    class Collect(WebhookSender):
        def __init__(self) -> None:
            super().__init__(duplicate_rate=0)
            self.sent: list[Delivery] = []

        def send(self, delivery, on_done=None) -> None:  # kept, not posted: no server here
            self.sent.append(delivery)

    collector = Collect()
    fake.webhooks.sender = collector
    connector = make_connector(fake, clock, transport=True)
    connector.register_webhooks(URL)
    stock = units(count=1)
    connector.publish_variants(product(), upserts(stock))
    order_id = fake.create_order([(stock[0].integration_id, 1)])
    topics = sorted(d.topic for d in collector.sent)
    assert topics == ["ORDERS_CREATE", "ORDERS_PAID"]
    events = set()
    for sent in collector.sent:
        headers = {k.lower(): v for k, v in sent.headers.items()}
        delivery = connector.verify_webhook(headers, sent.body)
        assert delivery.order_id == order_id
        events.add(delivery.delivery_id)
    assert len(events) == 2  # two events, one id each
    fake.cancel_order(order_id)
    assert sorted(d.topic for d in collector.sent[2:]) == ["ORDERS_CANCELLED", "ORDERS_UPDATED"]


def _failing_sender(fails: dict[str, int], time_scale: float):
    """A sender whose subscriber answers 500 to the first ``fails[topic]`` deliveries of each
    topic (every one when the topic is not given), then 200."""
    from collections import Counter

    import httpx
    from serialsync.testing import WebhookSender
    from serialsync_shopify.fake_webhooks import retry_delays

    seen: Counter[str] = Counter()

    def answer(request: httpx.Request) -> httpx.Response:
        topic = request.headers["X-Shopify-Topic"]
        seen[topic] += 1
        return httpx.Response(500 if seen[topic] <= fails.get(topic, 10**6) else 200)

    return WebhookSender(
        duplicate_rate=0,
        delays=retry_delays(time_scale),
        transport=httpx.MockTransport(answer),
    )


def test_shopify_retry_schedule_is_8_retries_over_4_hours():
    from serialsync_shopify.fake_webhooks import retry_delays

    delays = retry_delays(1.0)
    assert len(delays) == 8
    assert sum(delays) == pytest.approx(4 * 3600)
    assert all(b == pytest.approx(2 * a) for a, b in itertools.pairwise(delays))
    assert sum(retry_delays()) == pytest.approx(3.0)  # the fake's default: 4 h in 3 s


def test_a_delivery_failing_every_retry_removes_its_subscription(shop, clock):
    shop.webhooks.sender = _failing_sender({}, time_scale=1e-5)
    connector = make_connector(shop, clock, transport=True)
    connector.register_webhooks(URL)
    stock = units(count=1)
    connector.publish_variants(product(), upserts(stock))
    shop.create_order([(stock[0].integration_id, 1)])  # ORDERS_CREATE and ORDERS_PAID
    assert shop.webhooks.sender.wait_idle(10)

    for entry in shop.webhooks.sender.log:
        assert entry.statuses == [500] * 9  # the first try and Shopify's 8 retries
    assert {s.topic for s in shop.webhooks.subscriptions.values()} == {
        "ORDERS_UPDATED",
        "ORDERS_CANCELLED",
    }
    assert {s.topic for s in shop.webhooks.removed.values()} == {"ORDERS_CREATE", "ORDERS_PAID"}
    listed = connector.list_webhooks(URL)
    missing = sorted(s.topic for s in listed if s.state == "missing")
    assert missing == ["ORDERS_CREATE", "ORDERS_PAID"]
    # Registering again makes only what was removed.
    creates = shop.calls.count("webhookSubscriptionCreate")
    again = connector.register_webhooks(URL)
    assert shop.calls.count("webhookSubscriptionCreate") == creates + 2
    assert {s.state for s in again} == {"active"} and len(again) == 4
    shop.webhooks.sender.close()


def test_a_delivery_answered_on_its_last_retry_keeps_its_subscription(shop, clock):
    # orders/paid is answered on its 9th attempt (Shopify's 8th retry); orders/create never.
    shop.webhooks.sender = _failing_sender({"orders/paid": 8}, time_scale=1e-5)
    connector = make_connector(shop, clock, transport=True)
    connector.register_webhooks(URL)
    stock = units(count=1)
    connector.publish_variants(product(), upserts(stock))
    shop.create_order([(stock[0].integration_id, 1)])
    assert shop.webhooks.sender.wait_idle(10)

    by_topic = {e.delivery.topic: e.statuses for e in shop.webhooks.sender.log}
    assert by_topic == {"ORDERS_PAID": [500] * 8 + [200], "ORDERS_CREATE": [500] * 9}
    assert {s.topic for s in shop.webhooks.removed.values()} == {"ORDERS_CREATE"}
    assert len(shop.webhooks.subscriptions) == 3
    shop.webhooks.sender.close()
