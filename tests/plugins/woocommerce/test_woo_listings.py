"""list_listings on the wire: products paged, each variable product's variations."""

from __future__ import annotations

import httpx
import respx

from .conftest import HTTPS_SITE, ConnectorFactory

API = f"{HTTPS_SITE}/wp-json/wc/v3"


def test_listings_read_variable_products_variations_only(make_connector: ConnectorFactory) -> None:
    products = [{"id": 10, "type": "variable"}, {"id": 11, "type": "simple", "sku": "STRAP"}]
    variations = [
        {"id": 21, "sku": "A|||1", "manage_stock": True, "stock_quantity": 1,
         "stock_status": "instock"},
        {"id": 22, "sku": "A|||2", "manage_stock": True, "stock_quantity": 0,
         "stock_status": "outofstock"},
        {"id": 23, "sku": "no-separator", "manage_stock": True, "stock_quantity": 1,
         "stock_status": "instock"},
    ]  # fmt: skip
    with respx.mock() as router:
        listed = router.get(f"{API}/products").mock(
            return_value=httpx.Response(200, json=products, headers={"X-WP-TotalPages": "2"})
        )
        router.get(f"{API}/products/10/variations").mock(
            return_value=httpx.Response(200, json=variations, headers={"X-WP-TotalPages": "1"})
        )
        connector = make_connector(transport=None)
        page = connector.list_listings(None)
    assert listed.calls[0].request.url.params["page"] == "1"
    assert page.next_page == "2"
    read = [(x.integration_id, x.remote.product_id, x.remote.variant_id) for x in page.listings]
    assert read == [("A|||1", "10", "21"), ("A|||2", "10", "22")]
    assert [x.sellable for x in page.listings] == [True, False]
