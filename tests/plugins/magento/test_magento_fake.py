"""The fake Magento itself: served both ways, registered by the plugin, honest about Magento."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from serialsync import (
    ConnectorContext,
    FinancialStatus,
    ListingAction,
    ListingChange,
    Product,
    PublishResult,
    RemoteError,
    Role,
    SerializedUnit,
)
from serialsync.manager import PluginManager
from serialsync.testing import FakeChannel, Faults
from serialsync_magento import FakeMagento, MagentoConnector, MagentoSettings, plugin
from serialsync_magento.fake import DEFAULT_TOKEN

BASE = "http://magento.test/rest/all/V1"
AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
PRODUCT = Product(sku="P1", title="Guitar", price=Decimal("10"))


def _call(store: FakeMagento, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    request = httpx.Request(method, f"{BASE}/{path}", json=body, headers=AUTH)
    response = store(request)
    return response.status_code, json.loads(response.content)


def test_the_plugin_registers_a_channel_type_with_its_fake():
    manager = PluginManager(load_entrypoints=False, plugins={"magento": plugin})
    ctype = manager.connector_types["magento"]
    assert ctype.role is Role.CHANNEL
    assert ctype.settings_model is MagentoSettings
    assert ctype.factory is MagentoConnector
    assert ctype.fake is not None
    assert isinstance(ctype.fake(), FakeChannel)


def test_the_fake_serves_the_connector_as_a_transport_too():
    store = FakeMagento()
    settings = MagentoSettings.model_validate(store.connector_settings("http://anything.local"))
    connector = MagentoConnector(
        settings, ConnectorContext(name="m", transport=store.transport(), sleep=lambda _s: None)
    )
    units = [SerializedUnit(sku="P1", serial=f"S{i}") for i in range(3)]
    outcomes = connector.publish_variants(
        PRODUCT, [ListingChange(unit=u, action=ListingAction.UPSERT) for u in units]
    )
    assert {o.result for o in outcomes} == {PublishResult.CREATED}
    assert sorted(x.sku for x in store.listings()) == [u.integration_id for u in units]
    order_id = store.create_order([(units[0].integration_id, 1)])
    [order] = connector.fetch_orders(None, None).orders
    assert order.order_id == order_id


def _store_with_units(count: int) -> tuple[FakeMagento, list[SerializedUnit]]:
    store = FakeMagento()
    connector = MagentoConnector(
        MagentoSettings.model_validate(store.connector_settings("http://anything.local")),
        ConnectorContext(name="m", transport=store.transport(), sleep=lambda _s: None),
    )
    units = [SerializedUnit(sku="P1", serial=f"S{i}") for i in range(count)]
    connector.publish_variants(
        PRODUCT, [ListingChange(unit=u, action=ListingAction.UPSERT) for u in units]
    )
    return store, units


def test_a_sold_unit_cannot_be_ordered_again_as_magentos_cart_refuses_it():
    store, [sold, other] = _store_with_units(2)
    store.create_order([(sold.integration_id, 1)])
    orders = dict(store.orders)

    # Quote::addProduct refuses a product that is not salable with this message.
    with pytest.raises(ValueError, match="Product that you are trying to add is not available"):
        store.create_order([(other.integration_id, 1), (sold.integration_id, 1)])

    assert store.orders == orders  # nothing placed, nothing reserved: the other unit is for sale
    assert store.salable_quantity(other.integration_id) == 1
    with pytest.raises(ValueError, match="The requested qty is not available"):
        store.create_order([(other.integration_id, 2)])
    store.create_order([(other.integration_id, 1)])


def test_a_disabled_unit_cannot_be_ordered():
    store, [unit] = _store_with_units(1)
    store.products[unit.integration_id]["status"] = 2
    with pytest.raises(ValueError, match="not available"):
        store.create_order([(unit.integration_id, 1)])


def test_an_empty_gallery_clears_it_and_a_null_one_keeps_it():
    # AdobeDocs/commerce-webapi#548: [] removes every gallery entry; null is as left out.
    store = FakeMagento()
    image = {
        "media_type": "image",
        "label": "front",
        "position": 1,
        "disabled": False,
        "types": ["image"],
        # A JPEG's first bytes: Magento's validator reads the type from the content.
        "content": {"base64_encoded_data": "/9j/4GhlbGxv", "type": "image/jpeg", "name": "f.jpg"},
    }
    product = {"sku": "A", "name": "A", "price": 3, "media_gallery_entries": [image]}
    assert _call(store, "POST", "products", {"product": product})[0] == 200
    for kept in ({"media_gallery_entries": None}, {}):
        status, saved = _call(store, "PUT", "products/A", {"product": {"sku": "A", **kept}})
        assert status == 200
        assert len(saved["media_gallery_entries"]) == 1
    cleared = {"sku": "A", "media_gallery_entries": []}
    assert _call(store, "PUT", "products/A", {"product": cleared})[1]["media_gallery_entries"] == []


def test_errors_have_magentos_message_and_parameters_shape():
    status, body = _call(FakeMagento(), "GET", "products/NOPE")
    assert status == 404
    assert set(body) == {"message", "parameters"}
    assert "doesn't exist" in body["message"]


def test_a_wrong_token_is_refused_with_401():
    request = httpx.Request(
        "GET", f"{BASE}/store/storeConfigs", headers={"Authorization": "Bearer x"}
    )
    response = FakeMagento()(request)
    assert response.status_code == 401
    assert json.loads(response.content)["parameters"] == {"resources": "Magento_Catalog::products"}


def test_skus_over_64_characters_are_refused():
    store = FakeMagento()
    status, body = _call(store, "POST", "products", {"product": {"sku": "x" * 65, "name": "n"}})
    assert status == 400 and body["parameters"] == [64]
    status, _ = _call(store, "POST", "products", {"product": {"sku": "x" * 64, "name": "n"}})
    assert status == 200


def test_post_upserts_by_sku():
    store = FakeMagento()
    _, first = _call(
        store, "POST", "products", {"product": {"sku": "A", "name": "One", "price": 1}}
    )
    _, second = _call(store, "POST", "products", {"product": {"sku": "A", "price": 2}})
    assert first["id"] == second["id"] and second["name"] == "One" and second["price"] == 2
    assert len(store.products) == 1


def test_identical_names_collide_on_the_derived_url_key():
    store = FakeMagento()
    _call(store, "POST", "products", {"product": {"sku": "A", "name": "Same Name"}})
    status, body = _call(store, "POST", "products", {"product": {"sku": "B", "name": "Same Name"}})
    assert status == 400 and "URL key" in body["message"]


def test_option_labels_are_unique_without_case():
    store = FakeMagento(serial_attribute="serial")
    status, _ = _call(
        store,
        "POST",
        "products/attributes/serial/options",
        {"option": {"label": "abc", "value": ""}},
    )
    assert status == 200
    status, body = _call(
        store,
        "POST",
        "products/attributes/serial/options",
        {"option": {"label": "ABC", "value": ""}},
    )
    assert status == 400 and "already exists" in body["message"] and body["parameters"] == ["ABC"]


def test_children_of_one_parent_need_distinct_values_and_one_link_each():
    store = FakeMagento(serial_attribute="serial")
    _, option = _call(
        store,
        "POST",
        "products/attributes/serial/options",
        {"option": {"label": "S1", "value": ""}},
    )
    children = []
    for sku in ("C1", "C2"):
        _, child = _call(
            store,
            "POST",
            "products",
            {
                "product": {
                    "sku": sku,
                    "name": sku,
                    "custom_attributes": [{"attribute_code": "serial", "value": option}],
                }
            },
        )
        children.append(child["id"])
    attribute_id = store.attributes["serial"]["attribute_id"]
    status, body = _call(
        store,
        "POST",
        "products",
        {
            "product": {
                "sku": "PARENT",
                "name": "Parent",
                "type_id": "configurable",
                "extension_attributes": {
                    "configurable_product_options": [
                        {"attribute_id": str(attribute_id), "label": "S"}
                    ],
                    "configurable_product_links": children,
                },
            }
        },
    )
    assert status == 400 and "same set of attribute values" in body["message"]
    _call(
        store,
        "POST",
        "products",
        {
            "product": {
                "sku": "PARENT",
                "name": "Parent",
                "type_id": "configurable",
                "extension_attributes": {
                    "configurable_product_options": [
                        {"attribute_id": str(attribute_id), "label": "S"}
                    ]
                },
            }
        },
    )
    assert _call(store, "POST", "configurable-products/PARENT/child", {"childSku": "C1"})[0] == 200
    status, body = _call(store, "POST", "configurable-products/PARENT/child", {"childSku": "C1"})
    assert status == 400 and "already attached" in body["message"]
    status, body = _call(store, "POST", "configurable-products/PARENT/child", {"childSku": "C2"})
    assert status == 400 and "same set of attribute values" in body["message"]


def test_source_item_validation_answers_msi_errors():
    status, body = _call(
        FakeMagento(),
        "POST",
        "inventory/source-items",
        {"sourceItems": [{"sku": "A", "source_code": "nowhere", "quantity": 1, "status": 1}]},
    )
    assert status == 400 and body["message"] == "Validation Failed"
    assert body["errors"][0]["parameters"] == ["nowhere"]


@pytest.mark.parametrize("status", [FinancialStatus.PAID, FinancialStatus.CANCELLED])
def test_orders_can_be_placed_and_moved_on(status):
    store = FakeMagento()
    _call(store, "POST", "products", {"product": {"sku": "A", "name": "A", "price": 3}})
    stock = {"sku": "A", "source_code": "default", "quantity": 1, "status": 1}
    _call(store, "POST", "inventory/source-items", {"sourceItems": [stock]})
    order_id = store.create_order([("A", 1)])
    store.set_order_status(order_id, status)
    state = store.orders[int(order_id)]["state"]
    expected = {FinancialStatus.PAID: "processing", FinancialStatus.CANCELLED: "canceled"}
    assert state == expected[status]


def test_served_over_loopback_http_the_plugin_works_end_to_end():
    from serialsync.sandbox.server import LoopbackServer

    store = FakeMagento()
    server = LoopbackServer(store.asgi_app(), name="magento-test")
    base_url = server.start()
    try:
        settings = MagentoSettings.model_validate(
            {**store.connector_settings(base_url), "disable_on_withdraw": True}
        )
        connector = MagentoConnector(settings, ConnectorContext(name="m", sleep=lambda _s: None))
        product = Product(sku="LB+1", title="Loopback", price=Decimal("5"))
        units = [SerializedUnit(sku="LB+1", serial=f"S+{i}") for i in range(3)]
        outcomes = connector.publish_variants(
            product, [ListingChange(unit=u, action=ListingAction.UPSERT) for u in units]
        )
        assert {o.result for o in outcomes} == {PublishResult.CREATED}
        withdrawn = connector.publish_variants(
            product,
            [
                ListingChange(
                    unit=units[0], action=ListingAction.WITHDRAW, remote=outcomes[0].remote
                )
            ],
        )
        assert withdrawn[0].result is PublishResult.WITHDRAWN
        disabled = store.product("LB+1|||S+0")
        assert disabled is not None and disabled["status"] == 2  # the encoded path reached it
        order_id = store.create_order([(units[1].integration_id, 1)])
        [order] = connector.fetch_orders(None, None).orders
        assert order.order_id == order_id
        assert order.lines[0].raw_sku == "LB+1|||S+1"
        connector.close()
    finally:
        server.stop()


@pytest.mark.parametrize("link_mode", ["parent_save", "per_child"])
@pytest.mark.parametrize("seed", [5, 39, 49])
def test_under_injected_faults_repeated_passes_converge_without_duplicates(link_mode, seed):
    from serialsync.testing import Faults

    store = FakeMagento()
    store.set_faults(
        Faults(
            rate_5xx=0.15,
            rate_429=0.1,
            rate_timeout=0.15,
            rate_drop=0.1,
            rate_malformed=0.1,
            seed=seed,
        )
    )
    settings = MagentoSettings.model_validate(
        {**store.connector_settings("http://magento.test"), "link_mode": link_mode}
    )
    sleeps: list[float] = []
    units = [SerializedUnit(sku="P1", serial=f"F{i}") for i in range(12)]
    remotes: dict[str, Any] = {}
    for _round in range(40):
        # A fresh connector each round: as after a crash, nothing is cached.
        connector = MagentoConnector(
            settings, ConnectorContext(name="m", transport=store.transport(), sleep=sleeps.append)
        )
        pending = [u for u in units if u.serial not in remotes]
        if not pending:
            break
        try:
            outcomes = connector.publish_variants(
                PRODUCT,
                [ListingChange(unit=u, action=ListingAction.UPSERT) for u in pending],
            )
        except RemoteError:  # a whole call may fail; the next round tries again
            continue
        for outcome in outcomes:
            if outcome.result is not PublishResult.FAILED:
                remotes[outcome.serial] = outcome.remote
    assert set(remotes) == {u.serial for u in units}
    assert sum(store.injected.values()) > 0 and sleeps
    store.set_faults(Faults())
    skus = [p["sku"] for p in store.products.values() if p["type_id"] == "simple"]
    assert sorted(skus) == sorted(u.integration_id for u in units)  # no duplicates
    labels = [o["label"] for o in store.attributes["serial_number"]["options"]]
    assert sorted(labels) == sorted(u.serial for u in units)  # one option per serial
    assert sorted(c["sku"] for c in store.children_of("P1")) == sorted(skus)
    assert {x.stock for x in store.listings()} == {1}


def test_an_attribute_save_adds_its_options_without_the_label_check_and_keeps_the_rest():
    store = FakeMagento(serial_attribute="serial")
    _call(store, "POST", "products/attributes/serial/options", {"option": {"label": "S1"}})
    _, attribute = _call(store, "GET", "products/attributes/serial")
    identity = {k: attribute[k] for k in ("attribute_id", "attribute_code", "frontend_input")}
    status, saved = _call(
        store,
        "PUT",
        "products/attributes/serial",
        {"attribute": {**identity, "options": [{"label": "S2"}, {"label": "s1"}]}},
    )
    assert status == 200
    # The repository's save checks no label: "s1" is a second option beside "S1", as on Magento.
    assert [o["label"] for o in saved["options"]] == [" ", "S1", "S2", "s1"]
    assert all(o["value"].isdigit() for o in saved["options"][1:])


def test_an_attribute_save_without_its_id_is_taken_for_a_new_attribute_and_refused():
    store = FakeMagento(serial_attribute="serial")
    status, body = _call(
        store,
        "PUT",
        "products/attributes/serial",
        {"attribute": {"attribute_code": "serial", "options": [{"label": "S2"}]}},
    )
    assert status == 400 and "already exists" in body["message"]
    _, attribute = _call(store, "GET", "products/attributes/serial")
    status, body = _call(
        store,
        "PUT",
        "products/attributes/serial",
        {"attribute": {"attribute_id": attribute["attribute_id"], "options": [{"label": " "}]}},
    )
    assert status == 400 and "Admin scope" in body["message"]
    assert store.attributes["serial"]["options"] == []


def test_past_its_workers_the_fake_answers_503_at_once():
    store = FakeMagento(serial_attribute="serial", faults=Faults(max_in_flight=1))
    store.in_flight = 1  # one request is being served
    request = httpx.Request(
        "GET",
        f"http://{store.host}/rest/all/V1/store/storeConfigs",
        headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"},
    )
    assert store(request).status_code == 503
    assert store.injected == {"busy": 1}
    store.in_flight = 0
    assert store(request).status_code == 200
    assert store.in_flight == 0 and store.peak_in_flight == 1
