"""Each pass records what it asked of each platform: requests, throttles, retries, errors and
time, per connector (serialsync.metering), counted into the pass whose context sent them."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest
from serialsync import (
    FinancialStatus,
    HttpClient,
    RetryableRemoteError,
    RetryPolicy,
    in_this_context,
)
from serialsync.host import Host
from serialsync.metering import RequestCounts, current_meter, metering
from serialsync.sandbox import Sandbox, demo_catalogue
from serialsync.settings import load_settings
from serialsync.testing.fake import Faults


def _client(handler: httpx.MockTransport, name: str = "shop") -> HttpClient:
    return HttpClient(
        connector=name,
        base_url="https://shop.example",
        transport=handler,
        policy=RetryPolicy(max_attempts=4),
        sleep=lambda _s: None,
    )


def test_the_client_counts_into_the_meter_of_its_context_only() -> None:
    answers = iter([429, 200, 503, 200, 200])

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/down":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(next(answers), headers={"Retry-After": "0"})

    client = _client(httpx.MockTransport(handle))
    client.get("/x")  # outside a pass (429, then 200): counted only in the client's stats
    with metering() as meter:
        assert current_meter() is meter
        client.get("/x")  # 503, then 200
        client.get("/x")
        with pytest.raises(RetryableRemoteError):
            client.get("/down")
    assert current_meter() is None
    counts = meter.snapshot()["shop"]
    # 503 then 200; 200; four refused connections (max_attempts), three of them retries.
    assert (counts.requests, counts.throttled, counts.retries, counts.errors) == (7, 0, 4, 5)
    assert counts.seconds >= 0 and counts.waited >= 0
    assert client.stats["requests"] == 9 and client.stats["throttled"] == 1


def test_passes_side_by_side_each_count_their_own_and_pools_carry_the_pass() -> None:
    client = _client(httpx.MockTransport(lambda _r: httpx.Response(200)))
    counted: dict[str, RequestCounts] = {}
    both_started = threading.Barrier(2)

    def a_pass(name: str, requests: int) -> None:
        with metering() as meter:
            both_started.wait(5)
            helpers = [
                threading.Thread(target=in_this_context(client.get), args=("/y",))
                for _ in range(requests)
            ]
            for helper in helpers:
                helper.start()
            for helper in helpers:
                helper.join()
            # A thread started without the pass's context counts nowhere.
            bare = threading.Thread(target=client.get, args=("/z",))
            bare.start()
            bare.join()
        counted[name] = meter.snapshot()["shop"]

    passes = [threading.Thread(target=a_pass, args=(n, k)) for n, k in (("a", 3), ("b", 5))]
    for thread in passes:
        thread.start()
    for thread in passes:
        thread.join()
    assert (counted["a"].requests, counted["b"].requests) == (3, 5)


def test_each_pass_records_every_request_of_each_connector(tmp_path: Path) -> None:
    """Compared with what each platform's fake received: the engine's channel pool and the
    plugins' own (WooCommerce's withdrawals of many products, Magento's sending threads) count
    in the pass, and 429s and 5xx are told apart."""
    catalogue = demo_catalogue(seed=3, products=5, units_per_product=2)
    # Throttles and server errors on two fakes; Retry-After is not waited (sleep does not).
    faults = {
        "bigcommerce": Faults(rate_429=0.15, seed=11),
        "woocommerce": Faults(rate_5xx=0.1, seed=12),
    }
    with Sandbox(faults, catalogue=catalogue) as sandbox:
        config = tmp_path / "serialsync.toml"
        config.write_text(sandbox.config_toml(tmp_path / "state.db"))
        with Host.from_settings(load_settings(config), sleep=lambda _s: None) as host:
            fakes = sandbox.fakes
            seen = {name: len(fake.requests) for name, fake in fakes.items()}
            injected = {name: dict(fake.injected) for name, fake in fakes.items()}

            def sent_since() -> dict[str, tuple[int, int, int]]:
                now = {
                    name: (
                        len(fake.requests) - seen[name],
                        fake.injected.get("429", 0) - injected[name].get("429", 0),
                        fake.injected.get("5xx", 0) - injected[name].get("5xx", 0),
                    )
                    for name, fake in fakes.items()
                }
                seen.update({name: len(fake.requests) for name, fake in fakes.items()})
                injected.update({name: dict(fake.injected) for name, fake in fakes.items()})
                return now

            def counted(summary_connectors: dict[str, object]) -> dict[str, tuple[int, int, int]]:
                return {
                    name: (c["http"]["requests"], c["http"]["throttled"], c["http"]["errors"])  # type: ignore[index]
                    for name, c in summary_connectors.items()
                }

            host.inventory_pass()
            [run] = host.store.runs(limit=1)
            expected = sent_since()
            assert counted(run.summary["connectors"]) == expected
            assert expected["bigcommerce"][1] > 0 and expected["woocommerce"][2] > 0
            # Units of every product sold on Shopify: WooCommerce withdraws them side by side.
            shop = sandbox.channel_fakes()["shopify"]
            for product in catalogue:
                unit = product.units[0].integration_id
                shop.create_order([(unit, 1)], status=FinancialStatus.PAID)
            summary = host.order_pass()
            [run] = host.store.runs(limit=1)
            assert run.kind == "orders"
            expected = sent_since()
            assert counted(run.summary["connectors"]) == expected
            assert summary.connectors["woocommerce"].withdrawn == len(catalogue)
            http = run.summary["connectors"]["bigcommerce"]["http"]
            assert http["retries"] >= http["throttled"] and http["seconds"] > 0
