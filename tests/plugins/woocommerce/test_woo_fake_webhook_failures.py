"""The fake WooCommerce fails webhooks as WooCommerce does: each delivery sent once, failures
counted per webhook, a success resets the count, and past five consecutive failures the webhook
is disabled until it is saved active again (``woocommerce_max_webhook_delivery_failures``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from serialsync_woocommerce import FakeWooCommerce
from serialsync_woocommerce.fake_webhooks import MAX_DELIVERY_FAILURES


class Subscriber:
    """A loopback HTTP server answering each request with the next scripted status."""

    def __init__(self) -> None:
        self.answers: list[int] = []
        self.received: list[bytes] = []
        subscriber = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                subscriber.received.append(self.rfile.read(length))
                status = subscriber.answers.pop(0) if subscriber.answers else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def subscriber() -> Iterator[Subscriber]:
    sub = Subscriber()
    yield sub
    sub.server.shutdown()


def _hook(woo: FakeWooCommerce, subscriber: Subscriber) -> int:
    created = woo.webhooks.create({"topic": "order.created", "delivery_url": subscriber.url})
    assert woo.webhooks.sender.wait_idle(10)  # the ping
    woo.webhooks.sender.duplicate_rate = 0.0  # count requests exactly
    return int(created["id"])


def _orders(woo: FakeWooCommerce, count: int) -> None:
    for _ in range(count):
        woo.create_order([(None, 1)])
        assert woo.webhooks.sender.wait_idle(10)


def test_a_failed_delivery_is_not_retried_and_is_counted(subscriber: Subscriber) -> None:
    woo = FakeWooCommerce()
    hook = _hook(woo, subscriber)
    subscriber.received.clear()
    subscriber.answers = [500]
    _orders(woo, 1)
    assert len(subscriber.received) == 1  # sent once, never again
    assert woo.webhooks.failures[hook] == 1
    assert woo.webhooks.hooks[hook]["status"] == "active"


def test_past_five_consecutive_failures_the_webhook_is_disabled(subscriber: Subscriber) -> None:
    woo = FakeWooCommerce()
    hook = _hook(woo, subscriber)
    subscriber.answers = [503] * (MAX_DELIVERY_FAILURES + 1)
    _orders(woo, MAX_DELIVERY_FAILURES)
    assert woo.webhooks.hooks[hook]["status"] == "active"  # five: not yet past the limit
    _orders(woo, 1)
    assert woo.webhooks.hooks[hook]["status"] == "disabled"
    subscriber.received.clear()
    _orders(woo, 1)
    assert subscriber.received == []  # a disabled webhook delivers nothing

    woo.webhooks.update(hook, {"status": "active"})  # saved active again: pinged, count reset
    assert woo.webhooks.sender.wait_idle(10)
    assert subscriber.received == [f"webhook_id={hook}".encode()]
    assert woo.webhooks.failures[hook] == 0


def test_a_success_resets_the_count_and_redirects_count_as_delivered(
    subscriber: Subscriber,
) -> None:
    woo = FakeWooCommerce()
    hook = _hook(woo, subscriber)
    subscriber.answers = [500, 500, 500, 302, 500, 500, 500, 500, 500]
    _orders(woo, 9)
    assert woo.webhooks.failures[hook] == 5
    assert woo.webhooks.hooks[hook]["status"] == "active"
