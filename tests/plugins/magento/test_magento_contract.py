"""Every request the plugin makes, checked against Magento's 2.4.9 admin REST schema.

The ``fake`` fixture already checks each test's requests when it ends; this module runs one
scenario that touches every endpoint the plugin knows (both link modes, attribute creation,
images, disabling, orders), proves each endpoint was exercised, and proves the checker can
fail. The schema is read from ``$SERIALSYNC_MAGENTO_SCHEMA`` or ``../shared/contracts``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
from serialsync import (
    FinancialStatus,
    ListingAction,
    ListingChange,
    Product,
    PublishOutcome,
    SerializedUnit,
)
from serialsync_magento.fake import ReceivedRequest

PRODUCT = Product(sku="P+1", title="Guitar", price=Decimal("10"), description="Nice")

#: Every (method, schema path) the plugin may send.
ENDPOINTS = {
    ("GET", "/V1/store/storeConfigs"),
    ("GET", "/V1/products/attributes/{attributeCode}"),
    ("POST", "/V1/products/attributes"),
    ("GET", "/V1/products/attribute-sets/groups/list"),
    ("POST", "/V1/products/attribute-sets/attributes"),
    ("GET", "/V1/products/attribute-sets/{attributeSetId}/attributes"),
    ("GET", "/V1/products/attributes/{attributeCode}/options"),
    ("POST", "/V1/products/attributes/{attributeCode}/options"),
    ("PUT", "/V1/products/attributes/{attributeCode}"),
    ("POST", "/V1/products"),
    ("PUT", "/V1/products/{sku}"),
    ("GET", "/V1/configurable-products/{sku}/children"),
    ("POST", "/V1/configurable-products/{sku}/options"),
    ("POST", "/V1/configurable-products/{sku}/child"),
    ("POST", "/V1/inventory/source-items"),
    ("GET", "/V1/inventory/source-items"),
    ("GET", "/V1/orders"),
    # with bulk=True
    ("GET", "/V1/products"),
    ("GET", "/V1/bulk/{bulkUuid}/detailed-status"),
    ("POST", "async /V1/products"),
}


def _changes(
    serials: list[str],
    action: ListingAction = ListingAction.UPSERT,
    outcomes: list[PublishOutcome] | None = None,
    **unit_fields: Any,
) -> list[ListingChange]:
    return [
        ListingChange(
            unit=SerializedUnit(sku=PRODUCT.sku, serial=serial, **unit_fields),
            action=action,
            remote=outcomes[i].remote if outcomes else None,
        )
        for i, serial in enumerate(serials)
    ]


def test_every_request_the_plugin_makes_matches_the_2_4_9_schema(
    contract, fake, make_connector, respx_mock
):
    respx_mock.get("https://img.example/a.jpg").mock(
        return_value=httpx.Response(
            200, content=b"\xff\xd8\xffjpeg", headers={"content-type": "image/jpeg"}
        )
    )
    del fake.attributes["serial_number"]
    fake.attribute_sets[4]["attributes"].discard("serial_number")
    main = make_connector(upload_images=True, disable_on_withdraw=True)
    main.check_connection()
    created = main.publish_variants(
        PRODUCT, _changes(["A1", "A2"], images=("https://img.example/a.jpg",))
    )
    renamed = PRODUCT.model_copy(update={"title": "Guitar II", "price": Decimal("12")})
    main.publish_variants(
        renamed, _changes(["A1", "A2"], outcomes=created, images=("https://img.example/a.jpg",))
    )
    main.publish_variants(PRODUCT, _changes(["A1"], ListingAction.WITHDRAW, created))
    main.publish_variants(PRODUCT, _changes(["A9"]))  # one new option: its own POST
    make_connector().publish_variants(PRODUCT, _changes(["A2", "A3"]))  # adopt after a "crash"
    make_connector(link_mode="per_child", parent_sku_template="pc-{sku}").publish_variants(
        PRODUCT, _changes(["B1", "B2"])
    )
    make_connector(bulk=True, concurrency=1, parent_sku_template="bulk-{sku}").publish_variants(
        PRODUCT, _changes(["C1", "C2", "C3"])
    )
    order = fake.create_order([(f"{PRODUCT.sku}|||A2", 1)])
    fake.set_order_status(order, FinancialStatus.REFUNDED)
    assert main.fetch_orders(None, None).orders
    assert main.list_listings(None).listings

    problems = [p for request in fake.received for p in contract.problems(request)]
    assert problems == []
    used = {
        (r.method, contract.template_of(r.path) or f"async {contract.bulk_template_of(r.path)[0]}")
        for r in fake.received
    }
    assert used == ENDPOINTS


def test_the_checker_catches_what_magento_would_refuse(contract):
    product_path = "/rest/all/V1/products"
    unknown = ReceivedRequest("POST", product_path, (), {"product": {"sku": "A", "colour": "red"}})
    missing = ReceivedRequest("POST", product_path, (), {"product": {"name": "no sku"}})
    wrong_type = ReceivedRequest("POST", product_path, (), {"product": {"sku": "A", "price": "9"}})
    top_level = ReceivedRequest("POST", product_path, (), {"product": {"sku": "A"}, "extra": 1})
    no_path = ReceivedRequest("POST", "/rest/all/V1/nowhere", (), None)
    wrong_method = ReceivedRequest("DELETE", "/rest/all/V1/inventory/source-items", (), None)
    bad_query = ReceivedRequest(
        "GET", "/rest/all/V1/orders", (("searchCriteria[limit]", "5"),), None
    )
    nested = ReceivedRequest(
        "POST",
        "/rest/all/V1/inventory/source-items",
        (),
        {"sourceItems": [{"sku": "A", "source_code": "default", "qty": 1}]},
    )
    assert "unknown property 'colour'" in contract.problems(unknown)[0]
    assert "required property 'sku' missing" in contract.problems(missing)[0]
    assert "expected number" in contract.problems(wrong_type)[0]
    assert "unknown property 'extra'" in contract.problems(top_level)[0]
    assert "no path" in contract.problems(no_path)[0]
    assert "has no DELETE" in contract.problems(wrong_method)[0]
    assert "searchCriteria[limit]" in contract.problems(bad_query)[0]
    assert "unknown property 'qty'" in contract.problems(nested)[0]
    good = ReceivedRequest(
        "PUT", "/rest/all/V1/products/A%7C%7C%7CB", (), {"product": {"sku": "A"}}
    )
    assert contract.problems(good) == []
    bulk_path = "/rest/all/async/bulk/V1/products/attributes/byAttributeCode/options"
    bulk_ok = ReceivedRequest(
        "POST", bulk_path, (), [{"attributeCode": "s", "option": {"label": "a", "value": ""}}]
    )
    bulk_missing = ReceivedRequest("POST", bulk_path, (), [{"option": {"label": "a", "value": ""}}])
    bulk_wrong = ReceivedRequest(
        "POST", "/rest/all/async/bulk/V1/products/bySku/options", (), [{"sku": "A"}]
    )
    assert contract.problems(bulk_ok) == []
    assert "path parameters ['attributeCode'] missing" in contract.problems(bulk_missing)[0]
    assert contract.problems(bulk_wrong)
    assert contract.template_of("/rest/all/V1/products/attributes/serial") == (
        "/V1/products/attributes/{attributeCode}"
    )
