"""publish_variants against the fake store: creates, adds, withdrawals, refusals, request counts."""

from __future__ import annotations

import base64
from collections import Counter
from decimal import Decimal

import httpx
import pytest
from serialsync import (
    FieldGroup,
    ListingAction,
    ListingChange,
    Product,
    PublishOutcome,
    PublishResult,
    SerializedUnit,
)
from serialsync_magento.mapping import url_key

POS_SKU = "0113942719"
PRODUCT = Product(sku=POS_SKU, title="Gibson Les Paul Standard", price=Decimal("2499.00"))


def _unit(serial: str, **fields) -> SerializedUnit:
    return SerializedUnit(sku=fields.pop("sku", POS_SKU), serial=serial, **fields)


def _upsert(unit: SerializedUnit, outcome: PublishOutcome | None = None) -> ListingChange:
    remote = outcome.remote if outcome is not None else None
    return ListingChange(unit=unit, action=ListingAction.UPSERT, remote=remote)


def _withdraw(unit: SerializedUnit, outcome: PublishOutcome | None = None) -> ListingChange:
    remote = outcome.remote if outcome is not None else None
    return ListingChange(unit=unit, action=ListingAction.WITHDRAW, remote=remote)


def _calls(fake, start: int = 0) -> Counter[str]:
    """Requests by method and path template (SKUs replaced), from index ``start``."""
    counts: Counter[str] = Counter()
    for request in fake.received[start:]:
        path = request.path.split("/V1/", 1)[1]
        for prefix in ("configurable-products/", "products/"):
            if path.startswith(prefix) and path.count("/") >= 1 and "attributes" not in path:
                _head, _, tail = path[len(prefix) :].partition("/")
                path = prefix + "{sku}" + (f"/{tail}" if tail else "")
                break
        counts[f"{request.method} {path}"] += 1
    return counts


SERIALS = [f"US21{i:07d}" for i in range(30)]


def test_new_product_with_30_serials_is_one_parent_30_children_in_n_plus_4_requests(
    fake, make_connector
):
    # The synchronous path (a store whose message-queue consumers do not run: no bulk; the
    # bulk path's cost is counted in test_magento_bulk).
    connector = make_connector(bulk=False)
    outcomes = connector.publish_variants(PRODUCT, [_upsert(_unit(s)) for s in SERIALS])

    assert [o.result for o in outcomes] == [PublishResult.CREATED] * 30
    # 4 reads of the serial attribute, its set, its options and (the attribute holding none)
    # whether the store holds a configurable product (once per connector), then N + 4: the
    # children, one attribute save adding the 30 options, the parent, the stock.
    assert _calls(fake) == {
        "GET products/attributes/serial_number": 1,
        "GET products/attribute-sets/4/attributes": 1,
        "GET products/attributes/serial_number/options": 1,
        "GET products": 1,
        "GET configurable-products/{sku}/children": 1,
        "PUT products/attributes/serial_number": 1,
        "POST products": 31,
        "POST inventory/source-items": 1,
    }
    assert len(fake.received) == 4 + 30 + 4
    saved = next(r for r in fake.received if r.method == "PUT")
    assert [o["label"] for o in saved.body["attribute"]["options"]] == SERIALS
    parent = fake.product(POS_SKU)
    assert parent is not None and parent["type_id"] == "configurable"
    children = fake.children_of(POS_SKU)
    assert sorted(c["sku"] for c in children) == sorted(f"{POS_SKU}|||{s}" for s in SERIALS)
    labels = set()
    for child in children:
        custom = {c["attribute_code"]: c["value"] for c in child["custom_attributes"]}
        labels.add(fake.option_label("serial_number", int(custom["serial_number"])))
        assert child["visibility"] == 1
        assert child["type_id"] == "simple"
        assert child["price"] == 2499.0
    assert labels == set(SERIALS)  # each child has its own option, labelled by its serial
    assert {(x.sku, x.stock, x.sellable) for x in fake.listings()} == {
        (f"{POS_SKU}|||{s}", 1, True) for s in SERIALS
    }
    first = outcomes[0]
    assert first.remote is not None
    assert first.remote.variant_id == str(fake.product(f"{POS_SKU}|||{SERIALS[0]}")["id"])
    assert first.remote.extra["option_id"].isdigit()


def test_children_get_unique_url_keys_and_the_unit_price(fake, make_connector):
    connector = make_connector()
    units = [_unit("A+1", price=Decimal("10.50")), _unit("a-1"), _unit("A 1")]
    outcomes = connector.publish_variants(PRODUCT, [_upsert(u) for u in units])
    assert {o.result for o in outcomes} == {PublishResult.CREATED}
    keys = [
        {
            c["attribute_code"]: c["value"]
            for c in fake.product(u.integration_id)["custom_attributes"]
        }["url_key"]
        for u in units
    ]
    assert len(set(keys)) == 3  # the slugs coincide; the SKU hash keeps them apart
    assert fake.product(units[0].integration_id)["price"] == 10.5
    assert fake.product(units[1].integration_id)["price"] == 2499.0


def test_a_serial_added_and_one_withdrawn_in_one_call(fake, make_connector):
    connector = make_connector()
    units = [_unit(s) for s in SERIALS[:5]]
    first = connector.publish_variants(PRODUCT, [_upsert(u) for u in units])
    mark = len(fake.received)
    added = _unit("US2199999")

    outcomes = connector.publish_variants(PRODUCT, [_upsert(added), _withdraw(units[0], first[0])])

    by_serial = {o.serial: o for o in outcomes}
    assert by_serial["US2199999"].result is PublishResult.CREATED
    assert by_serial[units[0].serial].result is PublishResult.WITHDRAWN
    assert _calls(fake, mark) == {
        "POST products/attributes/serial_number/options": 1,
        "POST products": 2,  # the child, then the parent carrying every link
        "GET configurable-products/{sku}/children": 1,
        "POST inventory/source-items": 1,  # the new unit's 1 and the withdrawn unit's 0 together
    }
    stock = {x.sku: x for x in fake.listings()}
    assert stock[units[0].integration_id].stock == 0
    assert not stock[units[0].integration_id].sellable
    assert fake.source_items[(units[0].integration_id, "default")] == {"quantity": 0, "status": 0}
    assert stock[added.integration_id].stock == 1
    assert len(fake.children_of(POS_SKU)) == 6  # the old links survived the parent save


def test_unchanged_children_are_not_rewritten_and_changed_ones_cost_n_plus_1(fake, make_connector):
    connector = make_connector()
    units = [_unit(s) for s in SERIALS[:4]]
    first = connector.publish_variants(PRODUCT, [_upsert(u) for u in units])
    mark = len(fake.received)

    again = connector.publish_variants(
        PRODUCT, [_upsert(u, o) for u, o in zip(units, first, strict=True)]
    )
    assert {o.result for o in again} == {PublishResult.UPDATED}  # stock set to 1 again
    assert _calls(fake, mark) == {"POST inventory/source-items": 1}  # no product rewritten
    mark = len(fake.received)

    repriced = [u.model_copy(update={"price": Decimal("1999.00")}) for u in units]
    changed = connector.publish_variants(
        PRODUCT, [_upsert(u, o) for u, o in zip(repriced, again, strict=True)]
    )
    assert {o.result for o in changed} == {PublishResult.UPDATED}
    # N changed units: N updates and one source-items save.
    assert _calls(fake, mark) == {"PUT products/{sku}": 4, "POST inventory/source-items": 1}
    assert {fake.product(u.integration_id)["price"] for u in units} == {1999.0}


def test_a_title_change_updates_the_parent_once_without_touching_links(fake, make_connector):
    connector = make_connector()
    units = [_unit(s) for s in SERIALS[:3]]
    first = connector.publish_variants(PRODUCT, [_upsert(u) for u in units])
    mark = len(fake.received)
    renamed = PRODUCT.model_copy(update={"title": "Gibson Les Paul Custom"})

    outcomes = connector.publish_variants(
        renamed, [_upsert(u, o) for u, o in zip(units, first, strict=True)]
    )

    assert {o.result for o in outcomes} == {PublishResult.UPDATED}
    # 3 children + the parent, and the stock.
    assert _calls(fake, mark) == {"PUT products/{sku}": 4, "POST inventory/source-items": 1}
    assert fake.product(POS_SKU)["name"] == "Gibson Les Paul Custom"
    assert len(fake.children_of(POS_SKU)) == 3


def test_a_product_content_change_is_one_put_of_the_parents_changed_fields_only(
    fake, make_connector
):
    """Issue 17 #3: the engine names the product group alone; no child is re-sent, no stock
    re-asserted, and the parent PUT carries only what changed."""
    connector = make_connector()
    units = [_unit(s) for s in SERIALS[:10]]
    first = connector.publish_variants(PRODUCT, [_upsert(u) for u in units])
    children = {u.integration_id: fake.product(u.integration_id) for u in units}

    def content_change(product: Product, before: list[PublishOutcome]) -> list[PublishOutcome]:
        changes = [
            ListingChange(
                unit=u,
                action=ListingAction.UPSERT,
                remote=o.remote,
                changed=frozenset({FieldGroup.PRODUCT}),
            )
            for u, o in zip(units, before, strict=True)
        ]
        outcomes: list[PublishOutcome] = connector.publish_variants(product, changes)
        return outcomes

    mark = len(fake.received)
    renamed = PRODUCT.model_copy(update={"title": "Gibson Les Paul Custom"})
    second = content_change(renamed, first)
    assert {o.result for o in second} == {PublishResult.UPDATED}
    assert _calls(fake, mark) == {"PUT products/{sku}": 1}
    [put] = fake.received[mark:]
    assert put.body == {"product": {"sku": POS_SKU, "name": "Gibson Les Paul Custom"}}
    assert fake.product(POS_SKU)["name"] == "Gibson Les Paul Custom"
    assert {u: fake.product(u) for u in children} == children  # children untouched
    assert len(fake.children_of(POS_SKU)) == 10

    mark = len(fake.received)
    described = renamed.model_copy(update={"description": "Aged nitro finish."})
    third = content_change(described, second)
    [put] = fake.received[mark:]
    assert put.body == {
        "product": {
            "sku": POS_SKU,
            "custom_attributes": [{"attribute_code": "description", "value": "Aged nitro finish."}],
        }
    }
    # Nothing changed: nothing sent (the ids remember the parent as it is now).
    mark = len(fake.received)
    content_change(described, third)
    assert fake.received[mark:] == []


def test_relisting_a_withdrawn_unit_sets_its_stock_back(fake, make_connector):
    connector = make_connector()
    unit = _unit(SERIALS[0])
    [created] = connector.publish_variants(PRODUCT, [_upsert(unit)])
    [withdrawn] = connector.publish_variants(PRODUCT, [_withdraw(unit, created)])
    mark = len(fake.received)
    [relisted] = connector.publish_variants(PRODUCT, [_upsert(unit, withdrawn)])
    assert relisted.result is PublishResult.UPDATED
    assert _calls(fake, mark) == {"POST inventory/source-items": 1}
    assert fake.source_items[(unit.integration_id, "default")] == {"quantity": 1, "status": 1}


def test_a_65_character_integration_id_is_refused_and_the_others_go_on(fake, make_connector):
    connector = make_connector()
    fits = _unit("S" * (64 - len(POS_SKU) - 3))
    too_long = _unit("S" * (65 - len(POS_SKU) - 3))
    assert len(fits.integration_id) == 64 and len(too_long.integration_id) == 65

    outcomes = connector.publish_variants(PRODUCT, [_upsert(too_long), _upsert(fits)])

    by_serial = {o.serial: o for o in outcomes}
    refused = by_serial[too_long.serial]
    assert refused.result is PublishResult.FAILED
    assert refused.retryable is False
    assert refused.code == "too-long-for-channel"
    assert "65 characters" in (refused.reason or "") and "64" in (refused.reason or "")
    assert by_serial[fits.serial].result is PublishResult.CREATED
    assert fake.product(too_long.integration_id) is None
    assert not any(too_long.serial in str(r.body) for r in fake.received)


def test_an_invalid_integration_id_fails_that_unit_only(fake, make_connector):
    connector = make_connector()
    outcomes = connector.publish_variants(
        PRODUCT, [_upsert(_unit("bad|serial")), _upsert(_unit("OK1"))]
    )
    assert [o.result for o in outcomes] == [PublishResult.FAILED, PublishResult.CREATED]
    assert outcomes[0].code == "serial-contains-pipe" and outcomes[0].retryable is False


def test_skus_in_paths_are_fully_percent_encoded(fake, make_connector):
    connector = make_connector(disable_on_withdraw=True)
    product = Product(sku="AB+C/D", title="Odd SKU", price=Decimal("5"))
    unit = _unit("X+1", sku="AB+C/D")
    [created] = connector.publish_variants(product, [_upsert(unit)])
    [withdrawn] = connector.publish_variants(product, [_withdraw(unit, created)])

    assert withdrawn.result is PublishResult.WITHDRAWN
    paths = [r.path for r in fake.received]
    assert "/rest/all/V1/configurable-products/AB%2BC%2FD/children" in paths
    assert "/rest/all/V1/products/AB%2BC%2FD%7C%7C%7CX%2B1" in paths
    # The fake decodes like PHP's urldecode: had '+' been sent raw it would be a space.
    assert fake.product("AB+C/D|||X+1")["status"] == 2


def test_a_unit_added_alone_to_a_listed_product_keeps_the_old_links(fake, make_connector):
    # The host sends only what changed: a unit added later arrives alone, remote=None, like a
    # never-published product's. The parent's save sets its links, so the children read is
    # what keeps the listed ones linked (issue 22 §3: it cannot be skipped on remote=None).
    connector = make_connector()
    units = [_unit(s) for s in SERIALS[:3]]
    connector.publish_variants(PRODUCT, [_upsert(u) for u in units])
    mark = len(fake.received)
    added = _unit("US2199998")

    outcomes = make_connector().publish_variants(PRODUCT, [_upsert(added)])

    assert [o.result for o in outcomes] == [PublishResult.CREATED]
    assert _calls(fake, mark)["GET configurable-products/{sku}/children"] == 1
    assert sorted(c["sku"] for c in fake.children_of(POS_SKU)) == sorted(
        u.integration_id for u in [*units, added]
    )


def test_a_first_publish_to_a_store_without_serials_spares_the_children_read(fake, make_connector):
    # issue 22 §3: the host never recorded these products, and the serial attribute held no
    # option when the connector read it, so no parent can have a child: N + 3 a product.
    connector = make_connector(bulk=False)
    other = Product(sku="0113942720", title="Fender Stratocaster", price=Decimal("1299.00"))
    first = [_unit(s) for s in SERIALS[:5]]
    second = [_unit(s, sku=other.sku) for s in SERIALS[5:8]]

    connector.publish_variants(PRODUCT, [_upsert(u) for u in first], first_publish=True)
    mark = len(fake.received)
    outcomes = connector.publish_variants(other, [_upsert(u) for u in second], first_publish=True)

    assert [o.result for o in outcomes] == [PublishResult.CREATED] * 3
    assert "GET configurable-products/{sku}/children" not in _calls(fake)
    assert len(fake.received) - mark == 3 + 3  # the options, 3 children, the parent, the stock
    for product, units in ((PRODUCT, first), (other, second)):
        assert sorted(c["sku"] for c in fake.children_of(product.sku)) == sorted(
            u.integration_id for u in units
        )


def test_first_publish_is_not_taken_on_faith_where_the_store_holds_a_configurable(
    fake, make_connector
):
    # A catalogue made before serialsync: no serial option yet, but a configurable product
    # (its children linked by a size, say). Its SKU could be a POS SKU, and a parent's save
    # naming only our links would unlink its children: the store is not taken as empty.
    fake.handle(
        httpx.Request(
            "POST",
            f"http://{fake.host}/rest/all/V1/products",
            headers={"Authorization": f"Bearer {fake.token}"},
            json={"product": {"sku": "MERCHANT-TEE", "name": "Tee", "type_id": "configurable"}},
        )
    )
    mark = len(fake.received)

    outcomes = make_connector(bulk=False).publish_variants(
        PRODUCT, [_upsert(_unit(s)) for s in SERIALS[:3]], first_publish=True
    )

    assert [o.result for o in outcomes] == [PublishResult.CREATED] * 3
    assert _calls(fake, mark)["GET configurable-products/{sku}/children"] == 1


def test_first_publish_is_not_taken_on_faith_where_the_store_holds_serials(fake, make_connector):
    # A lost store started again (or a catalogue made before it) says first_publish for a
    # product Magento holds; a POST of its parent would save over it and unlink its children.
    units = [_unit(s) for s in SERIALS[:3]]
    make_connector().publish_variants(PRODUCT, [_upsert(u) for u in units])
    mark = len(fake.received)
    added = _unit("US2199998")

    outcomes = make_connector().publish_variants(PRODUCT, [_upsert(added)], first_publish=True)

    assert [o.result for o in outcomes] == [PublishResult.CREATED]
    assert _calls(fake, mark)["GET configurable-products/{sku}/children"] == 1
    assert sorted(c["sku"] for c in fake.children_of(POS_SKU)) == sorted(
        u.integration_id for u in [*units, added]
    )


def test_a_parent_the_connector_saved_is_read_even_on_a_first_publish(fake, make_connector):
    # The serial attribute was empty when the connector read it, but this connector has saved
    # the parent since: its children are read again, whatever the host says.
    connector = make_connector()
    units = [_unit(s) for s in SERIALS[:3]]
    connector.publish_variants(PRODUCT, [_upsert(u) for u in units], first_publish=True)
    mark = len(fake.received)
    added = _unit("US2199998")

    connector.publish_variants(PRODUCT, [_upsert(added)], first_publish=True)

    assert _calls(fake, mark)["GET configurable-products/{sku}/children"] == 1
    assert len(fake.children_of(POS_SKU)) == 4


def test_a_crash_between_create_and_record_is_adopted_without_duplicates(fake, make_connector):
    units = [_unit(s) for s in SERIALS[:3]]
    make_connector().publish_variants(PRODUCT, [_upsert(u) for u in units])
    products, options = len(fake.products), len(fake.attributes["serial_number"]["options"])

    # A new process (empty caches) gets the same changes again, remote=None.
    outcomes = make_connector().publish_variants(PRODUCT, [_upsert(u) for u in units])

    assert {o.result for o in outcomes} == {PublishResult.CREATED}
    assert len(fake.products) == products
    assert len(fake.attributes["serial_number"]["options"]) == options
    assert len(fake.children_of(POS_SKU)) == 3
    assert {o.remote.variant_id for o in outcomes} == {
        str(fake.product(u.integration_id)["id"]) for u in units
    }


def test_a_serial_differing_only_by_case_from_an_option_fails_clearly(fake, make_connector):
    connector = make_connector()
    connector.publish_variants(PRODUCT, [_upsert(_unit("abc1"))])
    [outcome] = make_connector().publish_variants(PRODUCT, [_upsert(_unit("ABC1"))])
    assert outcome.result is PublishResult.FAILED
    assert outcome.retryable is False
    assert "without case" in (outcome.reason or "")


def test_a_missing_serial_attribute_is_created_as_a_global_select_in_the_set(fake, make_connector):
    del fake.attributes["serial_number"]
    fake.attribute_sets[4]["attributes"].discard("serial_number")
    connector = make_connector()
    outcomes = connector.publish_variants(PRODUCT, [_upsert(_unit(s)) for s in SERIALS[:2]])
    assert {o.result for o in outcomes} == {PublishResult.CREATED}
    attribute = fake.attributes["serial_number"]
    assert attribute["frontend_input"] == "select"
    assert attribute["scope"] == "global"
    assert attribute["is_user_defined"] is True
    assert "serial_number" in fake.attribute_sets[4]["attributes"]
    # Cached: a second call does not read or create it again.
    mark = len(fake.received)
    connector.publish_variants(PRODUCT, [_upsert(_unit("US-NEXT"))])
    assert not any(
        r.path.rsplit("/V1/products/", 1)[-1] == "attributes/serial_number"
        for r in fake.received[mark:]
    )
    assert not any(r.path.endswith("/V1/products/attributes") for r in fake.received[mark:])


def test_a_store_scoped_serial_attribute_is_refused_for_the_whole_product(fake, make_connector):
    fake.attributes["serial_number"]["scope"] = "store"
    connector = make_connector()
    outcomes = connector.publish_variants(PRODUCT, [_upsert(_unit("S1"))])
    assert outcomes[0].result is PublishResult.FAILED
    assert "global" in (outcomes[0].reason or "")
    assert outcomes[0].retryable is True  # fixed by the merchant, retried without a change
    assert fake.product(POS_SKU) is None
    fake.attributes["serial_number"]["scope"] = "global"
    [outcome] = connector.publish_variants(PRODUCT, [_upsert(_unit("S1"))])
    assert outcome.result is PublishResult.CREATED


def test_per_child_link_mode_uses_the_options_and_child_endpoints(fake, make_connector):
    connector = make_connector(link_mode="per_child")
    outcomes = connector.publish_variants(PRODUCT, [_upsert(_unit(s)) for s in SERIALS[:4]])
    assert {o.result for o in outcomes} == {PublishResult.CREATED}
    calls = _calls(fake)
    assert calls["POST configurable-products/{sku}/options"] == 1
    assert calls["POST configurable-products/{sku}/child"] == 4
    assert len(fake.children_of(POS_SKU)) == 4
    # A retry after a crash: the links exist; "already attached" is taken as done.
    again = make_connector(link_mode="per_child").publish_variants(
        PRODUCT, [_upsert(_unit(s)) for s in SERIALS[:4]]
    )
    assert {o.result for o in again} == {PublishResult.CREATED}
    assert len(fake.children_of(POS_SKU)) == 4


def test_withdrawing_a_unit_never_published_is_withdrawn(fake, make_connector):
    [outcome] = make_connector().publish_variants(PRODUCT, [_withdraw(_unit("GONE1"))])
    assert outcome.result is PublishResult.WITHDRAWN
    assert fake.product(f"{POS_SKU}|||GONE1") is None


def test_a_stale_remote_never_leaves_a_relisted_unit_out_of_stock(fake, make_connector):
    connector = make_connector()
    unit = _unit("W1")
    [created] = connector.publish_variants(PRODUCT, [_upsert(unit)])
    connector.publish_variants(PRODUCT, [_withdraw(unit, created)])
    # The remote from *before* the withdrawal still says "in stock".
    [relisted] = connector.publish_variants(PRODUCT, [_upsert(unit, created)])
    assert relisted.result is PublishResult.UPDATED
    assert fake.source_items[(unit.integration_id, "default")] == {"quantity": 1, "status": 1}
    connector.publish_variants(PRODUCT, [_withdraw(unit, created)])
    assert fake.source_items[(unit.integration_id, "default")] == {"quantity": 0, "status": 0}


def test_disable_on_withdraw_disables_the_child_and_relisting_enables_it(fake, make_connector):
    connector = make_connector(disable_on_withdraw=True)
    unit = _unit("D1")
    [created] = connector.publish_variants(PRODUCT, [_upsert(unit)])
    [withdrawn] = connector.publish_variants(PRODUCT, [_withdraw(unit, created)])
    assert fake.product(unit.integration_id)["status"] == 2
    [relisted] = connector.publish_variants(PRODUCT, [_upsert(unit, withdrawn)])
    assert relisted.result is PublishResult.UPDATED
    assert fake.product(unit.integration_id)["status"] == 1
    assert fake.source_items[(unit.integration_id, "default")]["quantity"] == 1


def test_source_items_are_sent_in_batches_the_store_accepts(fake, make_connector):
    fake.input_list_limit = 20
    outcomes = make_connector(source_items_batch=20).publish_variants(
        PRODUCT, [_upsert(_unit(s)) for s in SERIALS]
    )
    assert {o.result for o in outcomes} == {PublishResult.CREATED}
    assert _calls(fake)["POST inventory/source-items"] == 2


def test_a_batch_the_store_refuses_fails_its_units_with_magentos_message(fake, make_connector):
    fake.input_list_limit = 20
    outcomes = make_connector().publish_variants(PRODUCT, [_upsert(_unit(s)) for s in SERIALS])
    assert {o.result for o in outcomes} == {PublishResult.FAILED}
    assert outcomes[0].code == "HTTP 400"
    assert "Maximum items" in (outcomes[0].reason or "") and "20" in (outcomes[0].reason or "")
    assert "%" not in (outcomes[0].reason or "")  # placeholders filled


def test_a_url_key_taken_by_another_product_fails_that_unit_only(fake, make_connector):
    taken = _unit("TAKEN1")
    fake.products["OTHER"] = {"sku": "OTHER", "id": 1, "type_id": "simple", "custom_attributes": []}
    fake.url_keys[url_key(PRODUCT.title, taken.integration_id)] = "OTHER"
    outcomes = make_connector().publish_variants(PRODUCT, [_upsert(taken), _upsert(_unit("FREE1"))])
    assert [o.result for o in outcomes] == [PublishResult.FAILED, PublishResult.CREATED]
    assert outcomes[0].retryable is False
    assert "URL key for specified store already exists" in (outcomes[0].reason or "")
    assert len(fake.children_of(POS_SKU)) == 1


def test_images_are_uploaded_once_without_the_store_credentials(fake, make_connector, respx_mock):
    image = respx_mock.get("https://images.example/u1.png").mock(
        return_value=httpx.Response(
            200, content=b"\x89PNG\r\n\x1a\nbytes", headers={"content-type": "image/png"}
        )
    )
    connector = make_connector(upload_images=True)
    unit = _unit("IMG1", images=("https://images.example/u1.png",))
    [created] = connector.publish_variants(PRODUCT, [_upsert(unit)])
    assert image.call_count == 1
    assert "authorization" not in image.calls[0].request.headers
    [entry] = fake.product(unit.integration_id)["media_gallery_entries"]
    assert entry["types"] == ["image", "small_image", "thumbnail"]
    assert entry["file"].endswith(".png")
    repriced = unit.model_copy(update={"price": Decimal("1")})
    connector.publish_variants(PRODUCT, [_upsert(repriced, created)])
    assert image.call_count == 1  # not uploaded again: Magento would add a duplicate image
    assert len(fake.product(unit.integration_id)["media_gallery_entries"]) == 1


def test_an_image_that_is_not_a_web_url_is_skipped(fake, make_connector):
    unit = _unit("IMG3", images=("file:///photos/u.jpg",))
    [outcome] = make_connector(upload_images=True).publish_variants(PRODUCT, [_upsert(unit)])
    assert outcome.result is PublishResult.CREATED
    assert fake.product(unit.integration_id)["media_gallery_entries"] == []


def test_an_unreachable_image_does_not_keep_the_unit_off_the_shop(fake, make_connector, respx_mock):
    respx_mock.get("https://images.example/missing.jpg").mock(return_value=httpx.Response(404))
    unit = _unit("IMG2", images=("https://images.example/missing.jpg",))
    [outcome] = make_connector(upload_images=True).publish_variants(PRODUCT, [_upsert(unit)])
    assert outcome.result is PublishResult.CREATED
    assert fake.product(unit.integration_id)["media_gallery_entries"] == []


def test_a_503_on_a_product_save_is_retried_with_recorded_waits(
    fake, make_connector, respx_mock, sleeps
):
    failures = iter([httpx.Response(503, json={"message": "Service Unavailable"})])

    def flaky(request: httpx.Request):
        if request.method == "POST" and request.url.path.endswith("/V1/products"):
            nxt = next(failures, None)
            if nxt is not None:
                return nxt
        return fake(request)

    respx_mock.route(host=fake.host).mock(side_effect=flaky)
    [outcome] = make_connector().publish_variants(PRODUCT, [_upsert(_unit("R1"))])
    assert outcome.result is PublishResult.CREATED
    assert len(sleeps) == 1 and sleeps[0] > 0


def test_refused_credentials_raise_for_the_whole_call(fake, make_connector):
    from serialsync import AuthenticationError

    connector = make_connector(access_token="wrong-token")
    with pytest.raises(AuthenticationError) as error:
        connector.publish_variants(PRODUCT, [_upsert(_unit("A1"))])
    assert "isn't authorized" in str(error.value)
    assert "wrong-token" not in str(error.value)


def test_a_child_that_cannot_be_disabled_is_still_withdrawn_by_stock(fake, make_connector):
    connector = make_connector(disable_on_withdraw=True)
    unit = _unit("D2")
    [created] = connector.publish_variants(PRODUCT, [_upsert(unit)])
    del fake.products[unit.integration_id]  # PUT now fails: the name is missing on create
    [outcome] = connector.publish_variants(PRODUCT, [_withdraw(unit, created)])
    assert outcome.result is PublishResult.WITHDRAWN
    assert fake.source_items[(unit.integration_id, "default")] == {"quantity": 0, "status": 0}


def test_per_child_mode_adds_to_an_existing_parent_with_one_call_per_child(fake, make_connector):
    connector = make_connector(link_mode="per_child")
    first = connector.publish_variants(PRODUCT, [_upsert(_unit(s)) for s in SERIALS[:2]])
    mark = len(fake.received)
    renamed = PRODUCT.model_copy(update={"title": "Renamed"})
    connector.publish_variants(
        renamed, [_upsert(_unit(SERIALS[0]), first[0]), _upsert(_unit("NEW-1"))]
    )
    calls = _calls(fake, mark)
    assert calls["POST configurable-products/{sku}/child"] == 1
    assert "POST configurable-products/{sku}/options" not in calls
    assert fake.product(POS_SKU)["name"] == "Renamed"
    assert len(fake.children_of(POS_SKU)) == 3


def test_an_attribute_created_but_never_put_in_the_set_is_assigned_later(fake, make_connector):
    # An earlier run created the attribute and was interrupted before assigning it.
    fake.attribute_sets[4]["attributes"].discard("serial_number")
    outcomes = make_connector().publish_variants(PRODUCT, [_upsert(_unit("AS1"))])
    assert outcomes[0].result is PublishResult.CREATED
    assert "serial_number" in fake.attribute_sets[4]["attributes"]
    assert len(fake.children_of(POS_SKU)) == 1


def _photo(respx_mock, url: str, content: bytes) -> None:
    respx_mock.get(url).mock(
        return_value=httpx.Response(200, content=content, headers={"content-type": "image/png"})
    )


def test_a_changed_unit_photo_replaces_the_childs_image_in_its_one_save(
    fake, make_connector, respx_mock
):
    _photo(respx_mock, "https://images.example/first.png", b"\x89PNG\r\n\x1a\nfirst")
    _photo(respx_mock, "https://images.example/retake.png", b"\x89PNG\r\n\x1a\nretake")
    connector = make_connector(upload_images=True)
    unit = _unit("PH1", images=("https://images.example/first.png",))
    [created] = connector.publish_variants(PRODUCT, [_upsert(unit)])
    [old] = fake.product(unit.integration_id)["media_gallery_entries"]
    start = len(fake.received)

    retaken = unit.model_copy(update={"images": ("https://images.example/retake.png",)})
    change = _upsert(retaken, created).model_copy(update={"changed": frozenset({FieldGroup.UNIT})})
    [updated] = connector.publish_variants(PRODUCT, [change])

    assert updated.result is PublishResult.UPDATED
    [entry] = fake.product(unit.integration_id)["media_gallery_entries"]
    assert entry["id"] != old["id"]  # the new photo alone: the old one is gone, not kept beside
    [save] = [r for r in fake.received[start:] if r.method == "PUT"]
    sent = save.body["product"]["media_gallery_entries"]
    assert base64.b64decode(sent[0]["content"]["base64_encoded_data"]) == b"\x89PNG\r\n\x1a\nretake"
    # The child's save carries it, and the stock: no media request of its own.
    assert _calls(fake, start) == {"PUT products/{sku}": 1, "POST inventory/source-items": 1}


def test_a_photo_taken_off_a_unit_leaves_its_child_without_it(fake, make_connector, respx_mock):
    _photo(respx_mock, "https://images.example/only.png", b"\x89PNG\r\n\x1a\nonly")
    connector = make_connector(upload_images=True)
    unit = _unit("PH2", images=("https://images.example/only.png",))
    [created] = connector.publish_variants(PRODUCT, [_upsert(unit)])
    assert len(fake.product(unit.integration_id)["media_gallery_entries"]) == 1

    bare = unit.model_copy(update={"images": ()})
    change = _upsert(bare, created).model_copy(update={"changed": frozenset({FieldGroup.UNIT})})
    [updated] = connector.publish_variants(PRODUCT, [change])

    assert updated.result is PublishResult.UPDATED
    assert fake.product(unit.integration_id)["media_gallery_entries"] == []
    assert updated.remote is not None and updated.remote.extra["image"] == ""
