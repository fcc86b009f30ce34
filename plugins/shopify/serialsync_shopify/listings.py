"""What the shop holds, for ``list_listings``: every variant whose SKU is an integration id.

A small catalogue is read a page at a time (``productVariants``, :data:`PAGE_SIZE` a page, 752
points at most); the page token is ``page:<cursor>``. Shopify's search cannot find ``|||``
inside a SKU (it matches whole terms or prefixes), so each page's integration ids are picked
here. A large catalogue (see :mod:`serialsync_shopify.bulk_listings`) is read by one bulk
operation instead of thousands of paged queries.
"""

from __future__ import annotations

from typing import Any

from serialsync import ListingsPage, RemoteIds, RemoteListing

from serialsync_shopify.client import ShopifyClient

#: What every integration id holds between SKU and serial.
SEPARATOR = "|||"
#: Variants a page: 2 + 250 x 3 = 752 points, within the 1000 one query may cost.
PAGE_SIZE = 250
#: The prefix of a paged read's token.
PAGE_PREFIX = "page:"


def read_page(client: ShopifyClient, after: str | None) -> ListingsPage:
    """One page of the shop's variants, the integration ids among them."""
    connection = client.listings_page(PAGE_SIZE, after)
    found = tuple(
        listing(node)
        for node in connection.get("nodes") or []
        if isinstance(node, dict) and SEPARATOR in str(node.get("sku") or "")
    )
    info = connection.get("pageInfo") or {}
    cursor = info.get("endCursor")
    more = bool(info.get("hasNextPage")) and isinstance(cursor, str) and cursor != after
    return ListingsPage(listings=found, next_page=f"{PAGE_PREFIX}{cursor}" if more else None)


def listing(variant: dict[str, Any], product_id: str | None = None) -> RemoteListing:
    """One variant (a paged node or a bulk line) as a :class:`RemoteListing`.

    Sellable by its stock alone: a variant whose stock is not tracked, or that sells on when
    out of stock (policy ``CONTINUE``, set by hand), can always be bought; otherwise it is
    sellable above 0. The product's status is left aside: the merchant chooses it
    (``product_status``), and a draft stays a draft.
    """
    item = variant.get("inventoryItem") or {}
    stock = int(variant.get("inventoryQuantity") or 0)
    untracked = item.get("tracked") is False
    sells_on = variant.get("inventoryPolicy") == "CONTINUE"
    product = product_id or str((variant.get("product") or {}).get("id") or "") or None
    return RemoteListing(
        integration_id=str(variant["sku"]),
        remote=RemoteIds(
            product_id=product,
            variant_id=str(variant["id"]),
            inventory_item_id=str(item["id"]) if item.get("id") else None,
        ),
        sellable=untracked or sells_on or stock > 0,
        stock=stock,
    )
