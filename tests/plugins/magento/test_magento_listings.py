"""list_listings on the wire: simple products by ``sku like %|||%``, paged to total_count,
with their source items at the connector's source; checked against the 2.4.9 schema by the
``fake`` fixture."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from serialsync import ListingAction, ListingChange, Product, SerializedUnit
from serialsync_magento import listings
from serialsync_magento.fake import FakeMagento

PRODUCT = Product(sku="G,1", title="Guitar", price=Decimal("10"))


def _publish(make_connector: Any, serials: list[str]) -> None:
    changes = [
        ListingChange(unit=SerializedUnit(sku=PRODUCT.sku, serial=s), action=ListingAction.UPSERT)
        for s in serials
    ]
    outcomes = make_connector().publish_variants(PRODUCT, changes)
    assert all(o.result.value != "failed" for o in outcomes), outcomes


def _read_all(connector: Any) -> tuple[list[Any], int]:
    found, page, pages = [], None, 0
    while True:
        result = connector.list_listings(page)
        pages += 1
        found.extend(result.listings)
        if result.next_page is None:
            return found, pages
        page = result.next_page


def test_every_serialized_child_is_read_once_with_its_stock_and_state(
    fake: FakeMagento, make_connector: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(listings, "PAGE_SIZE", 2)
    monkeypatch.setattr(listings, "SOURCE_BATCH", 1)
    _publish(make_connector, ["S1", "S2", "S3"])
    fake.create_order([("PLAIN-STRAP", 1)])  # a plain product: not a listing
    fake.source_items[("G,1|||S2", "default")] = {"quantity": 0, "status": 0}
    fake.products["G,1|||S3"]["status"] = 2  # disabled by staff

    found, pages = _read_all(make_connector())

    assert pages == 2  # three children, two a page: stopped by total_count
    by_id = {x.integration_id: x for x in found}
    assert sorted(by_id) == ["G,1|||S1", "G,1|||S2", "G,1|||S3"]
    assert [by_id[i].sellable for i in sorted(by_id)] == [True, False, False]
    assert by_id["G,1|||S1"].stock == 1 and by_id["G,1|||S2"].stock == 0
    child = fake.products["G,1|||S1"]
    assert by_id["G,1|||S1"].remote.variant_id == str(child["id"])
    reads = [r for r in fake.received if r.method == "GET" and r.path.endswith("source-items")]
    assert len(reads) == 3  # one SKU a request here; each asks for the connector's source
    assert all(
        ("searchCriteria[filterGroups][1][filters][0][value]", "default") in r.query for r in reads
    )


def test_a_child_without_a_source_item_reads_as_not_sellable(
    fake: FakeMagento, make_connector: Any
) -> None:
    _publish(make_connector, ["S1"])
    del fake.source_items[("G,1|||S1", "default")]
    (listing,) = make_connector().list_listings(None).listings
    assert listing.sellable is False and listing.stock == 0


def test_a_store_without_serialized_children_is_one_empty_page(make_connector: Any) -> None:
    result = make_connector().list_listings(None)
    assert result.listings == () and result.next_page is None


def test_a_unit_whose_child_sku_was_retyped_is_listed_again(
    fake: FakeMagento, make_connector: Any
) -> None:
    _publish(make_connector, ["S1", "S2"])
    fake.retype_sku("G,1|||S1", "G,1|||S1-typo")  # in the admin: REST cannot change a SKU
    # Listed again without ids (reconcile found it missing): the retyped child holds the
    # unit's url_key and serial option, so it is replaced by the unit's own child.
    _publish(make_connector, ["S1"])
    assert "G,1|||S1-typo" not in fake.products
    children = sorted(c["sku"] for c in fake.children_of("G,1"))
    assert children == ["G,1|||S1", "G,1|||S2"]
    deletes = [r.path for r in fake.received if r.method == "DELETE"]
    assert deletes == ["/rest/all/V1/products/G%2C1%7C%7C%7CS1-typo"]


def test_a_url_key_taken_by_a_product_outside_the_parent_is_left_alone(
    fake: FakeMagento, make_connector: Any
) -> None:
    _publish(make_connector, ["S1"])
    fake.retype_sku("G,1|||S1", "OTHER")
    fake.links["G,1"] = []  # and unlinked: not a child holding the unit's serial
    changes = [
        ListingChange(
            unit=SerializedUnit(sku=PRODUCT.sku, serial="S1"), action=ListingAction.UPSERT
        )
    ]
    (outcome,) = make_connector().publish_variants(PRODUCT, changes)
    assert outcome.result.value == "failed"
    assert "URL key for specified store already exists" in (outcome.reason or "")
    assert "OTHER" in fake.products
    assert [r for r in fake.received if r.method == "DELETE"] == []
