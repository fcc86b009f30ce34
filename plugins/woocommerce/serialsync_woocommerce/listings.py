"""What the store holds, for ``list_listings``: products paged, each variable product's
variations.

WooCommerce has no store-wide variations list: one page is ``GET products`` (100 a page) and
``GET products/{id}/variations`` for each variable product on it, so a page of the hook costs
one request per variable product plus one. The products page number is the opaque token. Only
variations whose SKU holds ``|||`` are reported, with the SKU exactly as the store holds it.
"""

from __future__ import annotations

from typing import Any

from serialsync import ListingsPage, RemoteIds, RemoteListing

from serialsync_woocommerce.client import WooClient

#: What every integration id holds between SKU and serial.
SEPARATOR = "|||"


def read_listings(client: WooClient, page: str | None) -> ListingsPage:
    """One page of products' serialized variations; ``page`` is the previous ``next_page``."""
    number = int(page) if page else 1
    products, pages = client.products_page(number)
    found: list[RemoteListing] = []
    for product in products:
        if product.get("type") != "variable":
            continue
        for variation in client.list_variations(str(product["id"])):
            if SEPARATOR in str(variation.get("sku") or ""):
                found.append(_listing(str(product["id"]), variation))
    more = bool(products) and number < pages
    return ListingsPage(listings=tuple(found), next_page=str(number + 1) if more else None)


def _listing(product_id: str, variation: dict[str, Any]) -> RemoteListing:
    managed = bool(variation.get("manage_stock"))
    stock = int(variation.get("stock_quantity") or 0) if managed else None
    sellable = (
        variation.get("stock_status") == "instock"
        and variation.get("purchasable", True) is not False
        and (stock is None or stock > 0)
    )
    return RemoteListing(
        integration_id=str(variation["sku"]),
        remote=RemoteIds(product_id=product_id, variant_id=str(variation["id"])),
        sellable=sellable,
        stock=stock,
    )
