"""What the store holds: ``GET /v3/catalog/variants``, paged, for ``list_listings``.

One request reads up to 250 variants of every product (the cheapest listing read BigCommerce
has: no product bodies, no options); the page number is the opaque token. Only variants whose
SKU holds ``|||`` are reported, with the SKU exactly as the store holds it.
"""

from __future__ import annotations

from typing import Any

from serialsync import ListingsPage, RemoteIds, RemoteListing

from serialsync_bigcommerce.client import BigCommerceClient

#: What every integration id holds between SKU and serial.
SEPARATOR = "|||"

#: The most variants one page of ``/v3/catalog/variants`` gives (BigCommerce's own limit).
PAGE_SIZE = 250


def read_listings(client: BigCommerceClient, page: str | None) -> ListingsPage:
    """One page of the store's serialized variants; ``page`` is the previous ``next_page``."""
    number = int(page) if page else 1
    response = client.http.get(
        "/v3/catalog/variants",
        params={"page": number, "limit": PAGE_SIZE},
        operation="list_listings",
    )
    body = client.read_json(response) or {}
    records: list[dict[str, Any]] = list(body.get("data") or [])
    found = tuple(_listing(r) for r in records if SEPARATOR in str(r.get("sku") or ""))
    pagination = (body.get("meta") or {}).get("pagination") or {}
    total_pages = int(pagination.get("total_pages") or number)
    more = number < total_pages and len(records) > 0
    return ListingsPage(listings=found, next_page=str(number + 1) if more else None)


def _listing(record: dict[str, Any]) -> RemoteListing:
    stock = int(record.get("inventory_level") or 0)
    # The plugin makes every product it lists track stock per variant, so the level counts.
    sellable = not record.get("purchasing_disabled") and stock > 0
    return RemoteListing(
        integration_id=str(record["sku"]),
        remote=RemoteIds(product_id=str(record["product_id"]), variant_id=str(record["id"])),
        sellable=sellable,
        stock=stock,
    )
