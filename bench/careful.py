"""The main baseline: a careful hand-written script, one platform's documented batches each.

What a competent developer writes for one channel with the platform's reference open: variants
inside the product create, the documented batch endpoints at their documented sizes, requests
one at a time (a script, not a framework), waiting only when refused. It knows the catalogue is
new (no lookups, no adoption after a crash, no idempotency), so it is the request count to beat.

* Shopify — ``productSet`` carrying the product's first 250 variants (the input-array limit)
  with their stock, then ``productVariantsBulkCreate`` 250 at a time: ``ceil(n / 250)`` per
  product (and one read of the primary location per run).
* BigCommerce — ``POST /v3/catalog/products`` carrying up to 600 variants with their option
  values and ``image_url``: ``ceil(n / 600)`` per product.
* WooCommerce — the variable parent ``POST`` listing every serial, then variations batches of
  100 creates: ``1 + ceil(n / 100)`` per product.
* Magento (synchronous REST, no queue consumers assumed) — one attribute save carrying the
  product's serial options (``PUT /V1/products/attributes/{code}``, the one options array of
  the 2.4.9 contract), one ``POST /V1/products`` per child, the configurable parent with its
  option and child links, one ``POST /V1/inventory/source-items``: ``n + 3`` per product.
"""

from __future__ import annotations

from typing import Any

import httpx
from serialsync.model import Product

from bench.naive import _GRAPHQL, Counter, Publish, Send, _shopify_variant, run_script
from bench.timescale import TimeScale

SHOPIFY_BATCH = 250
BIGCOMMERCE_VARIANTS = 600
WOOCOMMERCE_BATCH = 100
_M = "/rest/all/V1"


def _slices(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _variant(product: Product, unit: Any, location: str, *, in_set: bool) -> dict[str, Any]:
    """A variant with its stock of 1 at the location (the two inputs name it differently)."""
    stock = (
        {"locationId": location, "name": "available", "quantity": 1}
        if in_set
        else {"availableQuantity": 1, "locationId": location}
    )
    return {
        **_shopify_variant(product, unit),
        "inventoryPolicy": "DENY",
        "inventoryQuantities": [stock],
    }


def publish_shopify(send: Send, product: Product, counter: Counter, state: dict[str, Any]) -> None:
    """``productSet`` with up to 250 variants and their stock, then bulk creates of 250.

    The primary location is read once per run (``location`` without an id), as stock needs it.
    """
    if "location" not in state:
        answer = send("POST", _GRAPHQL, json={"query": "{ location { id } }"}).json()
        state["location"] = answer["data"]["location"]["id"]
    location = str(state["location"])
    first, *rest = _slices(list(product.units), SHOPIFY_BATCH)
    variables: dict[str, Any] = {
        "input": {
            "title": product.title,
            "handle": product.sku.lower(),
            "productOptions": [{"name": "Serial", "values": [{"name": u.serial} for u in first]}],
            "variants": [_variant(product, u, location, in_set=True) for u in first],
        }
    }
    query = (
        "mutation Set($input: ProductSetInput!) { productSet(input: $input, synchronous: true) "
        "{ product { id } userErrors { message } } }"
    )
    body = send("POST", _GRAPHQL, json={"query": query, "variables": variables}).json()
    result = (body.get("data") or {}).get("productSet") or {}
    if result.get("userErrors") or not result.get("product"):
        counter.failed += len(product.units)
        return
    create = (
        "mutation Add($id: ID!, $v: [ProductVariantsBulkInput!]!) { "
        "productVariantsBulkCreate(productId: $id, variants: $v) { userErrors { message } } }"
    )
    for batch in rest:
        variables = {
            "id": result["product"]["id"],
            "v": [_shopify_variant(product, u) for u in batch],
        }
        answer = send("POST", _GRAPHQL, json={"query": create, "variables": variables}).json()
        errors = ((answer.get("data") or {}).get("productVariantsBulkCreate") or {}).get(
            "userErrors"
        )
        if errors or answer.get("errors"):
            counter.failed += len(batch)


def publish_bigcommerce(send: Send, product: Product, counter: Counter) -> None:
    """One product ``POST`` per 600 units, each carrying its variants and their images."""
    for index, batch in enumerate(_slices(list(product.units), BIGCOMMERCE_VARIANTS)):
        suffix = f" ({index + 1})" if index else ""
        answer = send(
            "POST",
            "/v3/catalog/products",
            json={
                "name": product.title + suffix,
                "type": "physical",
                "weight": 1,
                "price": float(product.price),
                "inventory_tracking": "variant",
                "variants": [
                    {
                        "sku": f"{u.sku}|||{u.serial}",
                        "price": float(u.price or product.price),
                        "inventory_level": 1,
                        "option_values": [{"option_display_name": "Serial", "label": u.serial}],
                        **({"image_url": u.images[0]} if u.images else {}),
                    }
                    for u in batch
                ],
            },
        )
        if answer.status_code >= 300:
            counter.failed += len(batch)


def publish_woocommerce(send: Send, product: Product, counter: Counter) -> None:
    """The variable parent listing every serial, then variations batches of 100 creates."""
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
    for batch in _slices(list(product.units), WOOCOMMERCE_BATCH):
        items = [
            {
                "sku": f"{u.sku}|||{u.serial}",
                "regular_price": str(u.price or product.price),
                "manage_stock": True,
                "stock_quantity": 1,
                "attributes": [{"name": "Serial", "option": u.serial}],
            }
            for u in batch
        ]
        answer = send(
            "POST",
            f"/wp-json/wc/v3/products/{parent['id']}/variations/batch",
            json={"create": items},
        )
        created = answer.json().get("create") if answer.status_code == 200 else None
        counter.failed += sum(1 for c in created or [{}] * len(batch) if "error" in c)


def publish_magento(
    send: Send, product: Product, counter: Counter, attribute: dict[str, Any]
) -> None:
    """Options in one attribute save, the children, the parent with its links, the stock."""
    identity = {
        k: attribute[k]
        for k in (
            "attribute_id",
            "attribute_code",
            "frontend_input",
            "entity_type_id",
            "is_required",
            "frontend_labels",
        )
    }
    saved = send(
        "PUT",
        f"{_M}/products/attributes/serial_number",
        json={"attribute": {**identity, "options": [{"label": u.serial} for u in product.units]}},
    ).json()
    option_of = {o["label"]: o["value"] for o in saved.get("options") or []}
    child_ids: list[int] = []
    for unit in product.units:
        child = send(
            "POST",
            f"{_M}/products",
            json={
                "product": {
                    "sku": f"{unit.sku}|||{unit.serial}",
                    "name": f"{product.title} {unit.serial}",
                    "type_id": "simple",
                    "attribute_set_id": 4,
                    "price": float(unit.price or product.price),
                    "status": 1,
                    "visibility": 1,
                    "custom_attributes": [
                        {"attribute_code": "serial_number", "value": option_of[unit.serial]},
                        {"attribute_code": "url_key", "value": f"{unit.sku}-{unit.serial}".lower()},
                    ],
                }
            },
        )
        if child.status_code != 200:
            counter.failed += 1
            continue
        child_ids.append(int(child.json()["id"]))
    send(
        "POST",
        f"{_M}/products",
        json={
            "product": {
                "sku": product.sku,
                "name": product.title,
                "type_id": "configurable",
                "attribute_set_id": 4,
                "price": float(product.price),
                "status": 1,
                "visibility": 4,
                "extension_attributes": {
                    "configurable_product_options": [
                        {
                            "attribute_id": str(attribute["attribute_id"]),
                            "label": "Serial",
                            "position": 0,
                            "values": [
                                {"value_index": int(option_of[u.serial])} for u in product.units
                            ],
                        }
                    ],
                    "configurable_product_links": child_ids,
                },
            }
        },
    )
    send(
        "POST",
        f"{_M}/inventory/source-items",
        json={
            "sourceItems": [
                {
                    "sku": f"{u.sku}|||{u.serial}",
                    "source_code": "default",
                    "quantity": 1,
                    "status": 1,
                }
                for u in product.units
            ]
        },
    )


def run_careful(
    name: str,
    section: dict[str, Any],
    catalogue: list[Product],
    scale: TimeScale,
    transport: httpx.BaseTransport | None = None,
) -> dict[str, Any]:
    """Publish ``catalogue`` to one channel as the careful script does; requests, times."""
    state: dict[str, Any] = {}
    publish: dict[str, Publish] = {
        "shopify": lambda send, p, c, _a: publish_shopify(send, p, c, state),
        "bigcommerce": lambda send, p, c, _a: publish_bigcommerce(send, p, c),
        "woocommerce": lambda send, p, c, _a: publish_woocommerce(send, p, c),
        "magento": publish_magento,
    }
    return run_script(name, section, catalogue, scale, publish[name], transport)
