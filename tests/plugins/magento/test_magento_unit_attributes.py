"""A unit's attributes on Magento: valid codes from a configurable table, attributes the store
lacks made once, never a clash with Magento's own, never a silent drop (issue 17 #2)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import httpx
import pytest
from pydantic import ValidationError
from serialsync import (
    FieldGroup,
    ListingAction,
    ListingChange,
    Product,
    PublishResult,
    SerializedUnit,
)
from serialsync_magento import MagentoSettings
from serialsync_magento.unit_attributes import attribute_codes, derived_code

POS_SKU = "0113942719"
PRODUCT = Product(sku=POS_SKU, title="Gibson Les Paul Standard", price=Decimal("2499.00"))
ATTRIBUTES = {"Finish": "Heritage Cherry", "Weight": "4.2 kg", "Wood grain": "Flame maple"}


def _upserts(*units: SerializedUnit) -> list[ListingChange]:
    return [ListingChange(unit=u, action=ListingAction.UPSERT) for u in units]


def _unit(serial: str, attributes: dict[str, str] | None = None) -> SerializedUnit:
    return SerializedUnit(sku=POS_SKU, serial=serial, attributes=attributes or ATTRIBUTES)


def _values(fake, serial: str) -> dict[str, str]:
    child = fake.product(f"{POS_SKU}|||{serial}")
    assert child is not None
    return {c["attribute_code"]: c["value"] for c in child["custom_attributes"]}


def _post(fake, path: str, body: Mapping[str, object]) -> httpx.Response:
    """A request to the fake as an admin client sends it."""
    headers = {"Authorization": f"Bearer {fake.token}"}
    url = f"http://{fake.host}/rest/all/V1/{path}"
    response: httpx.Response = fake(httpx.Request("POST", url, json=body, headers=headers))
    return response


def _settings(fake, **overrides) -> MagentoSettings:
    return MagentoSettings.model_validate(
        {**fake.connector_settings(f"http://{fake.host}"), **overrides}
    )


def test_each_attribute_gets_a_prefixed_code_made_once_and_shown_on_the_child(fake, make_connector):
    connector = make_connector()

    outcomes = connector.publish_variants(PRODUCT, _upserts(_unit("US1"), _unit("US2")))

    assert {o.result for o in outcomes} == {PublishResult.CREATED}
    values = _values(fake, "US2")
    assert values["pos_finish"] == "Heritage Cherry"
    assert values["pos_wood_grain"] == "Flame maple"
    # Never Magento's own weight (a number the shop ships by): a code of its own.
    assert values["pos_weight"] == "4.2 kg" and "weight" not in values
    made = fake.attributes["pos_wood_grain"]
    assert (made["frontend_input"], made["scope"]) == ("text", "global")
    assert made["default_frontend_label"] == "Wood grain"
    assert {"pos_finish", "pos_weight", "pos_wood_grain"} <= fake.attribute_sets[4]["attributes"]
    creates = [
        r
        for r in fake.received
        if r.method == "POST" and r.path.endswith("/V1/products/attributes")
    ]
    assert len(creates) == 3


def test_a_second_publish_asks_nothing_about_attributes(fake, make_connector):
    connector = make_connector()
    connector.publish_variants(PRODUCT, _upserts(_unit("US1")))
    start = len(fake.received)

    connector.publish_variants(PRODUCT, _upserts(_unit("US2")))

    assert not [
        r
        for r in fake.received[start:]
        if "/products/attributes" in r.path.split("?")[0] and "options" not in r.path
    ]


def test_the_table_maps_a_name_to_an_attribute_the_store_has(fake, make_connector):
    fake.add_attribute("finish_colour", frontend_input="text")
    connector = make_connector(attribute_codes={"Finish": "finish_colour"})

    (outcome,) = connector.publish_variants(PRODUCT, _upserts(_unit("US1")))

    assert outcome.result is PublishResult.CREATED
    values = _values(fake, "US1")
    assert values["finish_colour"] == "Heritage Cherry" and "pos_finish" not in values


def test_a_name_mapped_to_a_select_refuses_its_units_with_the_reason(fake, make_connector):
    fake.add_attribute("color", frontend_input="select")
    connector = make_connector(attribute_codes={"Finish": "color"})

    bad, good = connector.publish_variants(
        PRODUCT, _upserts(_unit("US1"), _unit("US2", {"Weight": "4 kg"}))
    )

    assert bad.result is PublishResult.FAILED and bad.retryable is False
    assert "'color'" in (bad.reason or "") and "select" in (bad.reason or "")
    assert fake.product(f"{POS_SKU}|||US1") is None
    assert good.result is PublishResult.CREATED


def test_an_attribute_not_in_the_set_would_be_dropped_by_magento_so_it_is_assigned(
    fake, make_connector
):
    # Made by hand outside the products' set: Magento would drop its value without a word.
    fake.add_attribute("pos_finish", frontend_input="text")
    fake.attribute_sets[4]["attributes"].discard("pos_finish")
    connector = make_connector()

    connector.publish_variants(PRODUCT, _upserts(_unit("US1")))

    assert _values(fake, "US1")["pos_finish"] == "Heritage Cherry"


def test_the_fake_drops_a_value_of_an_attribute_the_store_lacks_as_magento_does(fake):
    body = {
        "product": {
            "sku": "X-1",
            "name": "X",
            "attribute_set_id": 4,
            "price": 1.0,
            "type_id": "simple",
            "custom_attributes": [{"attribute_code": "Finish", "value": "Red"}],
        }
    }
    response = _post(fake, "products", body)

    assert response.status_code == 200
    assert "Finish" not in {c["attribute_code"] for c in response.json()["custom_attributes"]}


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("Wood grain", 'Attribute code "%1" is invalid.'),
        ("1finish", 'Attribute code "%1" is invalid.'),
        ("f" * 61, "An attribute code must not be less than %1 and more than %2 characters."),
    ],
)
def test_the_fake_refuses_an_invalid_attribute_code_with_magentos_error(fake, code, message):
    body = {
        "attribute": {
            "attribute_code": code,
            "frontend_input": "text",
            "entity_type_id": "4",
            "is_required": False,
            "frontend_labels": [{"store_id": 0, "label": "X"}],
        }
    }
    response = _post(fake, "products/attributes", body)

    assert response.status_code == 400
    answer = response.json()
    assert answer["message"].startswith(message) and "parameters" in answer
    assert code not in fake.attributes


@pytest.mark.parametrize(
    "codes",
    [
        {"Finish": "Finish"},
        {"Finish": "1finish"},
        {"Finish": "f" * 61},
        {"Finish": "price"},
        {"Weight": "sku"},
        {"Serial": "serial_number"},
    ],
)
def test_settings_refuse_a_mapping_to_an_invalid_or_reserved_code(fake, codes):
    with pytest.raises(ValidationError):
        _settings(fake, attribute_codes=codes)


def test_codes_are_valid_distinct_and_at_most_60_characters(fake):
    settings = _settings(fake)
    long_a, long_b = derived_code("x" * 80, "pos_"), derived_code("x" * 81, "pos_")
    assert len(long_a) == 60 and long_a != long_b
    assert derived_code("Gewicht (kg)", "pos_") == "pos_gewicht_kg"
    assert derived_code("Épaisseur", "pos_") == "pos_epaisseur"
    codes = attribute_codes(["Body wood", "body-wood"], settings)
    assert len(set(codes.values())) == 2
    assert all(len(c) <= 60 and c[0].isalpha() for c in codes.values())


def test_an_attribute_taken_off_a_unit_is_cleared_on_its_child_in_the_one_save(
    fake, make_connector
):
    connector = make_connector()
    [listed] = connector.publish_variants(PRODUCT, _upserts(_unit("US1")))
    assert "pos_wood_grain" in _values(fake, "US1")
    fewer = {"Finish": "Heritage Cherry", "Weight": "4.2 kg"}
    start = len(fake.received)

    [updated] = connector.publish_variants(
        PRODUCT,
        [
            ListingChange(
                unit=_unit("US1", fewer),
                action=ListingAction.UPSERT,
                remote=listed.remote,
                changed=frozenset({FieldGroup.UNIT}),
            )
        ],
    )

    assert updated.result is PublishResult.UPDATED
    values = _values(fake, "US1")
    assert "pos_wood_grain" not in values
    assert values["pos_finish"] == "Heritage Cherry"
    # The child's save and the stock: the removal costs no request of its own.
    assert [
        f"{r.method} {r.path.rsplit('/V1/', 1)[1].split('/')[0]}" for r in fake.received[start:]
    ] == [
        "PUT products",
        "POST inventory",
    ]
    # The next change does not clear it again (the codes held are remembered).
    assert updated.remote is not None
    assert updated.remote.extra["attribute_codes"] == "pos_finish,pos_weight"


def test_the_fake_clears_an_attribute_sent_empty_and_keeps_one_left_out(fake, make_connector):
    make_connector().publish_variants(PRODUCT, _upserts(_unit("US1")))
    sku = f"{POS_SKU}|||US1"
    headers = {"Authorization": f"Bearer {fake.token}"}
    url = f"http://{fake.host}/rest/all/V1/products/{sku.replace('|', '%7C')}"
    body = {
        "product": {
            "sku": sku,
            "custom_attributes": [{"attribute_code": "pos_finish", "value": ""}],
        }
    }
    response = fake(httpx.Request("PUT", url, json=body, headers=headers))

    assert response.status_code == 200
    values = _values(fake, "US1")
    assert "pos_finish" not in values
    assert values["pos_wood_grain"] == "Flame maple"
