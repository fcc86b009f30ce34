"""What the store holds, for ``list_listings``: simple products paged by a SKU filter, and
their MSI source items.

One page of the hook is one ``GET /V1/products`` (simple products whose SKU is ``like
%|||%``, :data:`PAGE_SIZE` a page) and ``GET /V1/inventory/source-items`` for the SKUs of that
page at the connector's source (:data:`SOURCE_BATCH` SKUs a request, OR-ed ``eq`` filters:
``in`` would split a SKU that holds a comma, and GS1 serials may). The page number is the
opaque token. Magento answers a page past the end with the last page again, so paging stops
by ``total_count``, never by an empty page.

A child is sellable when it is enabled and its source item is in stock with a quantity above
0 (the salable quantity subtracts reservations of unshipped orders, which a drift check must
not take for staff's edits).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from serialsync import ListingsPage, RemoteIds, RemoteListing

from serialsync_magento.client import MagentoClient, chunks, search_criteria

#: What every integration id holds between SKU and serial.
SEPARATOR = "|||"
#: Products read per page.
PAGE_SIZE = 100
#: SKUs per source-items read: 50 ``eq`` filters keep the URL under common 8 KB line limits.
SOURCE_BATCH = 50
#: Magento's product status "enabled" (``Status::STATUS_ENABLED``).
ENABLED = 1


def read_listings(client: MagentoClient, source_code: str, page: str | None) -> ListingsPage:
    """One page of the store's serialized children; ``page`` is the previous ``next_page``."""
    number = int(page) if page else 1
    params = search_criteria(
        [("sku", f"%{SEPARATOR}%", "like"), ("type_id", "simple", "eq")],
        sort=("entity_id", "ASC"),
        page_size=PAGE_SIZE,
        current_page=number,
    )
    result = client.search_products(params)
    products = [p for p in result.get("items") or [] if SEPARATOR in str(p.get("sku") or "")]
    total = int(result.get("total_count") or 0)
    stock = _source_items(client, source_code, [str(p["sku"]) for p in products])
    found = tuple(_listing(p, stock.get(str(p["sku"]))) for p in products)
    more = bool(products) and number * PAGE_SIZE < total
    return ListingsPage(listings=found, next_page=str(number + 1) if more else None)


def _source_items(
    client: MagentoClient, source_code: str, skus: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The source item of each SKU at ``source_code`` (a SKU without one is absent)."""
    found: dict[str, dict[str, Any]] = {}
    for batch in chunks(skus, SOURCE_BATCH):
        for item in client.source_items(batch, source_code):
            found[str(item.get("sku"))] = item
    return found


def _listing(product: dict[str, Any], source: dict[str, Any] | None) -> RemoteListing:
    quantity = float((source or {}).get("quantity") or 0)
    in_stock = int((source or {}).get("status") or 0) == 1
    enabled = int(product.get("status") or ENABLED) == ENABLED
    stock = int(quantity) if in_stock else 0
    return RemoteListing(
        integration_id=str(product["sku"]),
        remote=RemoteIds(variant_id=str(product["id"]), inventory_item_id=str(product["sku"])),
        sellable=enabled and stock > 0,
        stock=stock,
    )
