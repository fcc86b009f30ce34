"""The fake WooCommerce fails webhooks as WooCommerce does (``WC_Webhook::failed_delivery``):
each delivery sent once, failures counted per webhook, a success resets the count, a failure
that finds the count above five (``woocommerce_max_webhook_delivery_failures``) disables the
webhook, so the 7th consecutive one does; saved active again, it keeps its count."""

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


def test_the_seventh_consecutive_failure_disables_the_webhook(subscriber: Subscriber) -> None:
    woo = FakeWooCommerce()
    hook = _hook(woo, subscriber)
    subscriber.answers = [503] * (MAX_DELIVERY_FAILURES + 2)
    _orders(woo, MAX_DELIVERY_FAILURES + 1)
    # Six failures counted: each found the count at most five, so none disabled it.
    assert woo.webhooks.failures[hook] == MAX_DELIVERY_FAILURES + 1
    assert woo.webhooks.hooks[hook]["status"] == "active"
    _orders(woo, 1)
    assert woo.webhooks.hooks[hook]["status"] == "disabled"
    assert woo.webhooks.failures[hook] == MAX_DELIVERY_FAILURES + 1  # not counted further
    subscriber.received.clear()
    _orders(woo, 1)
    assert subscriber.received == []  # a disabled webhook delivers nothing


def test_saved_active_again_it_keeps_its_count_and_one_failure_disables_it(
    subscriber: Subscriber,
) -> None:
    woo = FakeWooCommerce()
    hook = _hook(woo, subscriber)
    subscriber.answers = [503] * (MAX_DELIVERY_FAILURES + 2)
    _orders(woo, MAX_DELIVERY_FAILURES + 2)
    assert woo.webhooks.hooks[hook]["status"] == "disabled"
    subscriber.received.clear()

    woo.webhooks.update(hook, {"status": "active"})
    assert woo.webhooks.sender.wait_idle(10)
    assert subscriber.received == []  # its ping was answered at creation: no new ping
    assert woo.webhooks.failures[hook] == MAX_DELIVERY_FAILURES + 1
    subscriber.answers = [500]
    _orders(woo, 1)
    assert woo.webhooks.hooks[hook]["status"] == "disabled"


def test_moved_to_a_new_address_it_is_pinged_there(subscriber: Subscriber) -> None:
    woo = FakeWooCommerce()
    hook = _hook(woo, subscriber)
    subscriber.received.clear()
    woo.webhooks.update(hook, {"delivery_url": subscriber.url + "?moved=1"})
    assert woo.webhooks.sender.wait_idle(10)
    assert subscriber.received == [f"webhook_id={hook}".encode()]


def test_a_success_resets_the_count_and_redirects_count_as_delivered(
    subscriber: Subscriber,
) -> None:
    woo = FakeWooCommerce()
    hook = _hook(woo, subscriber)
    subscriber.answers = [500, 500, 500, 302, 500, 500, 500, 500, 500]
    _orders(woo, 9)
    assert woo.webhooks.failures[hook] == 5
    assert woo.webhooks.hooks[hook]["status"] == "active"
