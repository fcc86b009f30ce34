"""list_listings on the wire: /v3/catalog/variants, 250 a page, only integration ids."""

from __future__ import annotations

import httpx
import respx

from .conftest import ConnectorFactory

BASE = "https://api.bigcommerce.com/stores/fakestore1/v3/catalog/variants"


def _variant(vid: int, sku: str, level: int, disabled: bool = False) -> dict[str, object]:
    return {
        "id": vid,
        "product_id": 7,
        "sku": sku,
        "inventory_level": level,
        "purchasing_disabled": disabled,
    }


def test_listings_are_read_page_by_page_with_their_ids_and_sellable_state(
    make_connector: ConnectorFactory,
) -> None:
    pages = {
        "1": [_variant(1, "A|||1", 1), _variant(2, "PLAIN-STRAP", 5), _variant(3, "A|||2", 0)],
        "2": [_variant(4, "A|||3", 1, disabled=True), _variant(5, "A|||1", 1)],
    }

    def answer(request: httpx.Request) -> httpx.Response:
        page = request.url.params["page"]
        assert request.url.params["limit"] == "250"
        meta = {"pagination": {"total": 5, "current_page": int(page), "total_pages": 2}}
        return httpx.Response(200, json={"data": pages[page], "meta": meta})

    with respx.mock() as router:
        route = router.get(BASE).mock(side_effect=answer)
        connector = make_connector(transport=httpx.HTTPTransport())  # respx intercepts it
        first = connector.list_listings(None)
        assert first.next_page == "2"
        second = connector.list_listings(first.next_page)
    assert second.next_page is None
    assert route.call_count == 2
    read = [*first.listings, *second.listings]
    assert [(x.integration_id, x.remote.variant_id, x.sellable, x.stock) for x in read] == [
        ("A|||1", "1", True, 1),
        ("A|||2", "3", False, 0),
        ("A|||3", "4", False, 1),  # purchasing disabled: not for sale whatever its stock
        ("A|||1", "5", True, 1),  # a duplicate is reported, not merged
    ]
    assert all(x.remote.product_id == "7" for x in read)
