"""The baseline: the same publish done the straightforward way, with httpx directly.

One request per variant, no batching, no pacing: what a first integration usually does. It
waits only when refused (429 or Shopify's ``THROTTLED``) — it must finish — and counts every
refusal. Where a fake does not serve the platform's single-variant endpoint, the batch endpoint
is sent **one item per request**, which costs the same request:

* Shopify — ``productSet`` with the first serial, then one ``productVariantsBulkCreate`` per
  serial (the single-variant ``productVariantCreate`` is gone from the Admin API).
* BigCommerce — the product ``POST`` with the first serial, one options ``POST`` adding the
  other serials' option values, then per serial one ``PUT /v3/catalog/variants`` holding one
  item (stands in for ``POST /v3/catalog/products/{id}/variants``, which the fake does not
  serve) and one ``POST …/variants/{id}/image``, as the plugin sends images too.
* WooCommerce — the parent ``POST``, then per serial one variations batch holding one create
  (stands in for ``POST /products/{id}/variations``, which the fake does not serve).
* Magento — the parent, its configurable option, then per serial: the attribute option, the
  child, its source item, and its link to the parent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
from serialsync.model import Product

from bench.timescale import TimeScale

Send = Callable[..., httpx.Response]
_GRAPHQL = "/admin/api/2026-07/graphql.json"


class Counter:
    """Requests sent and refusals received by one naive publisher."""

    def __init__(self) -> None:
        self.requests = 0
        self.throttled = 0
        self.failed = 0


def _sender(
    client: httpx.Client, counter: Counter, scale: TimeScale, name: str, throttle_wait: Any
) -> Send:
    def send(method: str, url: str, **kwargs: Any) -> httpx.Response:
        while True:
            counter.requests += 1
            response = client.request(method, url, **kwargs)
            wait = throttle_wait(response)
            if wait is None:
                return response
            counter.throttled += 1
            scale.sleep(wait, f"naive:{name}")

    return send


def _shopify_wait(response: httpx.Response) -> float | None:
    if response.status_code == 429:
        return 1.0
    if response.status_code == 200 and b'"THROTTLED"' in response.content:
        return 1.0  # naive: no reading of the bucket, just try again in a second
    return None


def _bigcommerce_wait(response: httpx.Response) -> float | None:
    if response.status_code != 429:
        return None
    return int(response.headers.get("X-Rate-Limit-Time-Reset-Ms", "1000")) / 1000


def _retry_after(response: httpx.Response) -> float | None:
    # No rate limit on these platforms; a host under load answers 429, or 503 past its workers
    # (never applied: the request was turned away before any work).
    if response.status_code not in (429, 503):
        return None
    return float(response.headers.get("Retry-After", "1"))


def publish_shopify(send: Send, product: Product, counter: Counter) -> None:
    """``productSet`` with one serial, then one bulk create per further serial."""
    first, *rest = product.units
    variables = {
        "input": {
            "title": product.title,
            "productOptions": [{"name": "Serial", "values": [{"name": first.serial}]}],
            "variants": [_shopify_variant(product, first)],
        }
    }
    query = (
        "mutation Set($input: ProductSetInput!) { productSet(input: $input, synchronous: true) "
        "{ product { id } userErrors { message } } }"
    )
    body = send("POST", _GRAPHQL, json={"query": query, "variables": variables}).json()
    product_id = ((body.get("data") or {}).get("productSet") or {}).get("product", {})["id"]
    create = (
        "mutation Add($id: ID!, $v: [ProductVariantsBulkInput!]!) { "
        "productVariantsBulkCreate(productId: $id, variants: $v) { userErrors { message } } }"
    )
    for unit in rest:
        answer = send(
            "POST",
            _GRAPHQL,
            json={
                "query": create,
                "variables": {"id": product_id, "v": [_shopify_variant(product, unit)]},
            },
        ).json()
        errors = ((answer.get("data") or {}).get("productVariantsBulkCreate") or {}).get(
            "userErrors"
        )
        if errors or answer.get("errors"):
            counter.failed += 1


def _shopify_variant(product: Product, unit: Any) -> dict[str, Any]:
    return {
        "optionValues": [{"optionName": "Serial", "name": unit.serial}],
        "inventoryItem": {"sku": f"{unit.sku}|||{unit.serial}", "tracked": True},
        "price": str(unit.price or product.price),
    }


def publish_bigcommerce(send: Send, product: Product, counter: Counter) -> None:
    """The product with one serial, the other option values, then one variant at a time."""
    first, *rest = product.units

    def variant(unit: Any) -> dict[str, Any]:
        return {
            "sku": f"{unit.sku}|||{unit.serial}",
            "price": float(unit.price or product.price),
            "inventory_level": 1,
        }

    created = send(
        "POST",
        "/v3/catalog/products",
        json={
            "name": product.title,
            "type": "physical",
            "weight": 1,
            "price": float(product.price),
            "inventory_tracking": "variant",
            "variants": [
                {
                    **variant(first),
                    "option_values": [{"option_display_name": "Serial", "label": first.serial}],
                }
            ],
        },
    )
    data = created.json()["data"]
    product_id = data["id"]
    variants = [(data["variants"][0]["id"], first)]
    option = send(
        "POST",
        f"/v3/catalog/products/{product_id}/options",
        json={"display_name": "Serial", "option_values": [{"label": u.serial} for u in rest]},
    ).json()["data"]
    value_ids = {v["label"]: v["id"] for v in option["option_values"]}
    for unit in rest:
        item = {
            **variant(unit),
            "product_id": product_id,
            "option_values": [{"id": value_ids[unit.serial], "option_id": option["id"]}],
        }
        answer = send("PUT", "/v3/catalog/variants", json=[item])
        if answer.status_code != 200:
            counter.failed += 1
            continue
        variants.append((answer.json()["data"][0]["id"], unit))
    for variant_id, unit in variants:
        if unit.images:
            send(
                "POST",
                f"/v3/catalog/products/{product_id}/variants/{variant_id}/image",
                json={"image_url": unit.images[0]},
            )


def publish_woocommerce(send: Send, product: Product, counter: Counter) -> None:
    """The variable parent with every serial as an option, then one variation per request."""
    parent = send(
        "POST",
        "/wp-json/wc/v3/products",
        json={
            "name": product.title,
            "type": "variable",
            "attributes": [
                {
                    "name": "Serial",
                    "variation": True,
                    "visible": True,
                    "options": [u.serial for u in product.units],
                }
            ],
        },
    ).json()
    for unit in product.units:
        item = {
            "sku": f"{unit.sku}|||{unit.serial}",
            "regular_price": str(unit.price or product.price),
            "manage_stock": True,
            "stock_quantity": 1,
            "attributes": [{"name": "Serial", "option": unit.serial}],
        }
        answer = send(
            "POST",
            f"/wp-json/wc/v3/products/{parent['id']}/variations/batch",
            json={"create": [item]},
        )
        if answer.status_code != 200 or "error" in (answer.json().get("create") or [{}])[0]:
            counter.failed += 1


def publish_magento(send: Send, product: Product, counter: Counter, attribute_id: int) -> None:
    """Parent and its option, then per serial: option, child, stock, link."""
    base = "/rest/all/V1"
    send(
        "POST",
        f"{base}/products",
        json={
            "product": {
                "sku": product.sku,
                "name": product.title,
                "type_id": "configurable",
                "attribute_set_id": 4,
                "price": float(product.price),
                "status": 1,
                "visibility": 4,
            }
        },
    )
    linked_option = False
    for unit in product.units:
        integration_id = f"{unit.sku}|||{unit.serial}"
        value = send(
            "POST",
            f"{base}/products/attributes/serial_number/options",
            json={"option": {"label": unit.serial}},
        ).json()
        option_id = str(value).removeprefix("id_")
        child = send(
            "POST",
            f"{base}/products",
            json={
                "product": {
                    "sku": integration_id,
                    "name": f"{product.title} {unit.serial}",
                    "type_id": "simple",
                    "attribute_set_id": 4,
                    "price": float(unit.price or product.price),
                    "status": 1,
                    "visibility": 1,
                    "custom_attributes": [
                        {"attribute_code": "serial_number", "value": option_id},
                        {"attribute_code": "url_key", "value": f"{unit.sku}-{unit.serial}".lower()},
                    ],
                }
            },
        )
        if child.status_code != 200:
            counter.failed += 1
            continue
        send(
            "POST",
            f"{base}/inventory/source-items",
            json={
                "sourceItems": [
                    {"sku": integration_id, "source_code": "default", "quantity": 1, "status": 1}
                ]
            },
        )
        quoted = quote(product.sku, safe="")
        if not linked_option:
            send(
                "POST",
                f"{base}/configurable-products/{quoted}/options",
                json={
                    "option": {
                        "attribute_id": attribute_id,
                        "label": "Serial",
                        "values": [{"value_index": int(option_id)}],
                    }
                },
            )
            linked_option = True
        send(
            "POST",
            f"{base}/configurable-products/{quoted}/child",
            json={"childSku": integration_id},
        )


def channel_client(
    name: str, section: dict[str, Any], transport: httpx.BaseTransport | None = None
) -> tuple[httpx.Client, Any]:
    """An httpx client for one channel's sandbox section, and how it reads a refusal."""
    if name == "shopify":
        client = httpx.Client(
            transport=transport,
            base_url=section["base_url"],
            headers={"X-Shopify-Access-Token": section["access_token"]},
        )
        return client, _shopify_wait
    if name == "bigcommerce":
        client = httpx.Client(
            transport=transport,
            base_url=f"{section['base_url']}/stores/{section['store_hash']}",
            headers={"X-Auth-Token": section["access_token"], "Accept": "application/json"},
        )
        return client, _bigcommerce_wait
    if name == "woocommerce":
        client = httpx.Client(
            transport=transport,
            base_url=section["site_url"],
            auth=(section["consumer_key"], section["consumer_secret"]),
        )
        return client, _retry_after
    client = httpx.Client(
        transport=transport,
        base_url=section["base_url"],
        headers={"Authorization": f"Bearer {section['access_token']}"},
    )
    return client, _retry_after


Publish = Callable[[Send, Product, Counter, dict[str, Any]], None]


def run_script(
    name: str,
    section: dict[str, Any],
    catalogue: list[Product],
    scale: TimeScale,
    publish: Publish,
    transport: httpx.BaseTransport | None = None,
) -> dict[str, Any]:
    """Publish ``catalogue`` to one channel with one script's ``publish``; requests, times.

    ``publish`` is given Magento's serial attribute as read once (empty for the others).
    """
    counter = Counter()
    client, wait = channel_client(name, section, transport)
    send = _sender(client, counter, scale, name, wait)
    start = time.monotonic()
    with client:
        attribute: dict[str, Any] = {}
        if name == "magento":
            attribute = send("GET", "/rest/all/V1/products/attributes/serial_number").json()
        for product in catalogue:
            publish(send, product, counter, attribute)
    return {
        "requests": counter.requests,
        "throttled": counter.throttled,
        "failed": counter.failed,
        "real_seconds": time.monotonic() - start,
    }


def run_naive(
    name: str,
    section: dict[str, Any],
    catalogue: list[Product],
    scale: TimeScale,
    transport: httpx.BaseTransport | None = None,
) -> dict[str, Any]:
    """Publish ``catalogue`` to one channel the naive way; requests, refusals, times."""
    publish: dict[str, Publish] = {
        "shopify": lambda send, p, c, _a: publish_shopify(send, p, c),
        "bigcommerce": lambda send, p, c, _a: publish_bigcommerce(send, p, c),
        "woocommerce": lambda send, p, c, _a: publish_woocommerce(send, p, c),
        "magento": lambda send, p, c, a: publish_magento(send, p, c, int(a["attribute_id"])),
    }
    return run_script(name, section, catalogue, scale, publish[name], transport)
