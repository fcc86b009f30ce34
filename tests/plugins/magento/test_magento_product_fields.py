"""The parent carries the product's brand and photos on Magento (issue 17 #3): the brand under
the code ``attribute_codes`` gives ``Brand`` (a select's option made once), the photos uploaded
as their content, each sent again only when it changed."""

from __future__ import annotations

import base64
import logging
from typing import Any

import httpx
import pytest
from serialsync import FieldGroup, ListingChange, PublishOutcome, PublishResult, SerializedUnit

from .test_magento_publish import POS_SKU, PRODUCT, _calls, _unit, _upsert

PNG = b"\x89PNG\r\n\x1a\n"
JPEG = b"\xff\xd8\xff\xe0"
PRODUCT_GROUP = frozenset({FieldGroup.PRODUCT})


def _serve(respx_mock, url: str, content: bytes, kind: str = "image/png") -> None:
    respx_mock.get(url).mock(
        return_value=httpx.Response(200, content=content, headers={"content-type": kind})
    )


def _changed(unit: SerializedUnit, outcome: PublishOutcome) -> ListingChange:
    return _upsert(unit, outcome).model_copy(update={"changed": PRODUCT_GROUP})


def _custom(product: dict[str, Any], code: str) -> str | None:
    return next(
        (c["value"] for c in product["custom_attributes"] if c["attribute_code"] == code), None
    )


# -- the brand -----------------------------------------------------------------------------


def test_a_brand_goes_to_a_text_attribute_made_once(fake, make_connector):
    connector = make_connector()
    branded = PRODUCT.model_copy(update={"brand": "Gibson"})

    connector.publish_variants(branded, [_upsert(_unit("B1"))])
    connector.publish_variants(branded, [_upsert(_unit("B2"))])

    assert fake.attributes["pos_brand"]["frontend_input"] == "text"
    assert "pos_brand" in fake.attribute_sets[4]["attributes"]
    assert _custom(fake.product(POS_SKU), "pos_brand") == "Gibson"
    assert _calls(fake)["POST products/attributes"] == 1


def test_a_brand_mapped_to_a_select_takes_its_option_created_once(fake, make_connector):
    fake.add_attribute("manufacturer")
    connector = make_connector(attribute_codes={"Brand": "manufacturer"})
    gibson = PRODUCT.model_copy(update={"brand": "Gibson"})
    other = PRODUCT.model_copy(update={"sku": "0999", "brand": "GIBSON"})

    connector.publish_variants(gibson, [_upsert(_unit("S1"))])
    connector.publish_variants(other, [_upsert(_unit("S2", sku="0999"))])

    (option,) = fake.attributes["manufacturer"]["options"]
    assert option["label"] == "Gibson"  # one option: Magento compares labels without case
    assert _custom(fake.product(POS_SKU), "manufacturer") == option["value"]
    assert _custom(fake.product("0999"), "manufacturer") == option["value"]
    assert _calls(fake)["POST products/attributes/manufacturer/options"] == 1


def test_a_brand_found_among_the_options_is_not_added_again(fake, make_connector):
    attribute = fake.add_attribute("manufacturer")
    attribute["options"].append({"label": "Fender", "value": "77"})
    connector = make_connector(attribute_codes={"Brand": "manufacturer"})

    connector.publish_variants(
        PRODUCT.model_copy(update={"brand": "fender"}), [_upsert(_unit("F1"))]
    )

    assert _custom(fake.product(POS_SKU), "manufacturer") == "77"
    assert len(attribute["options"]) == 1


def test_a_changed_brand_is_one_parent_put_and_a_removed_one_is_cleared(fake, make_connector):
    connector = make_connector()
    unit = _unit("C1")
    [created] = connector.publish_variants(
        PRODUCT.model_copy(update={"brand": "Gibson"}), [_upsert(unit)]
    )
    start = len(fake.received)

    [changed] = connector.publish_variants(
        PRODUCT.model_copy(update={"brand": "Epiphone"}), [_changed(unit, created)]
    )

    assert _custom(fake.product(POS_SKU), "pos_brand") == "Epiphone"
    [put] = [r for r in fake.received[start:] if r.method == "PUT"]
    assert put.body["product"]["custom_attributes"] == [
        {"attribute_code": "pos_brand", "value": "Epiphone"}
    ]
    assert _calls(fake, start) == {"PUT products/{sku}": 1}

    connector.publish_variants(PRODUCT, [_changed(unit, changed)])
    assert _custom(fake.product(POS_SKU), "pos_brand") is None


def test_a_brand_on_an_attribute_taking_neither_text_nor_one_option_fails_with_why(
    fake, make_connector
):
    fake.add_attribute("brands", frontend_input="multiselect")
    connector = make_connector(attribute_codes={"Brand": "brands"})

    [outcome] = connector.publish_variants(
        PRODUCT.model_copy(update={"brand": "Gibson"}), [_upsert(_unit("M1"))]
    )

    assert outcome.result is PublishResult.FAILED and outcome.retryable
    assert "brands" in (outcome.reason or "") and "multiselect" in (outcome.reason or "")
    assert fake.product(POS_SKU) is None


# -- the parent's photos -------------------------------------------------------------------


def test_a_new_parent_carries_the_product_photos_and_new_links_do_not_resend_them(
    fake, make_connector, respx_mock
):
    _serve(respx_mock, "https://img.example/front.png", PNG + b"front")
    _serve(respx_mock, "https://img.example/back.jpg", JPEG + b"back", "image/jpeg")
    connector = make_connector(upload_images=True)
    pictured = PRODUCT.model_copy(
        update={"images": ("https://img.example/front.png", "https://img.example/back.jpg")}
    )

    connector.publish_variants(pictured, [_upsert(_unit("P1"))])
    gallery = fake.product(POS_SKU)["media_gallery_entries"]
    start = len(fake.received)
    connector.publish_variants(pictured, [_upsert(_unit("P2"))])

    assert [e["types"] for e in gallery] == [["image", "small_image", "thumbnail"], []]
    assert fake.product(POS_SKU)["media_gallery_entries"] == gallery
    saves = [
        r
        for r in fake.received[start:]
        if r.path.endswith(f"/products/{POS_SKU}")
        or (
            r.method == "POST"
            and r.path.endswith("/products")
            and r.body["product"]["sku"] == POS_SKU
        )
    ]
    assert all("media_gallery_entries" not in s.body["product"] for s in saves)
    assert len(fake.children_of(POS_SKU)) == 2


def test_a_changed_product_photo_is_the_parents_whole_gallery_in_one_put(
    fake, make_connector, respx_mock
):
    _serve(respx_mock, "https://img.example/a.png", PNG + b"a")
    _serve(respx_mock, "https://img.example/b.png", PNG + b"b")
    connector = make_connector(upload_images=True)
    unit = _unit("G1")
    [created] = connector.publish_variants(
        PRODUCT.model_copy(update={"images": ("https://img.example/a.png",)}), [_upsert(unit)]
    )
    start = len(fake.received)

    [changed] = connector.publish_variants(
        PRODUCT.model_copy(update={"images": ("https://img.example/b.png",)}),
        [_changed(unit, created)],
    )

    assert changed.result is PublishResult.UPDATED
    assert len(fake.product(POS_SKU)["media_gallery_entries"]) == 1  # the old one went
    [put] = [r for r in fake.received[start:] if r.method == "PUT"]
    sent = put.body["product"]["media_gallery_entries"]
    assert base64.b64decode(sent[0]["content"]["base64_encoded_data"]) == PNG + b"b"
    assert _calls(fake, start) == {"PUT products/{sku}": 1}

    # Every photo taken off: an empty gallery, in the one PUT.
    connector.publish_variants(PRODUCT, [_changed(unit, changed)])
    assert fake.product(POS_SKU)["media_gallery_entries"] == []


def test_a_title_change_does_not_download_the_photos_again(fake, make_connector, respx_mock):
    _serve(respx_mock, "https://img.example/a.png", PNG + b"a")
    connector = make_connector(upload_images=True)
    pictured = PRODUCT.model_copy(update={"images": ("https://img.example/a.png",)})
    unit = _unit("T1")
    [created] = connector.publish_variants(pictured, [_upsert(unit)])
    downloads = respx_mock.calls.call_count

    connector.publish_variants(
        pictured.model_copy(update={"title": "Renamed"}), [_changed(unit, created)]
    )

    assert fake.product(POS_SKU)["name"] == "Renamed"
    assert len(fake.product(POS_SKU)["media_gallery_entries"]) == 1
    downloaded = [c for c in respx_mock.calls[downloads:] if c.request.url.host == "img.example"]
    assert downloaded == []


def test_a_photo_too_large_or_not_an_image_is_left_out_with_the_reason(
    fake, make_connector, respx_mock, caplog
):
    _serve(respx_mock, "https://img.example/huge.png", PNG + b"x" * 2000)
    _serve(respx_mock, "https://img.example/page.html", b"<html>", "text/html")
    _serve(respx_mock, "https://img.example/ok.png", PNG + b"ok")
    connector = make_connector(upload_images=True, max_image_bytes=1000)
    pictured = PRODUCT.model_copy(
        update={
            "images": (
                "https://img.example/huge.png",
                "https://img.example/page.html",
                "https://img.example/ok.png",
            )
        }
    )

    with caplog.at_level(logging.WARNING):
        [outcome] = connector.publish_variants(pictured, [_upsert(_unit("L1"))])

    assert outcome.result is PublishResult.CREATED  # a photo never keeps the product off
    [entry] = fake.product(POS_SKU)["media_gallery_entries"]
    assert entry["types"] == ["image", "small_image", "thumbnail"]
    assert "max_image_bytes" in caplog.text and "2008 bytes" in caplog.text
    assert "not a JPEG, PNG or GIF" in caplog.text


@pytest.mark.parametrize(
    ("content", "declared", "message"),
    [
        (b"not an image", "image/png", "valid base64 encoded data"),
        (PNG + b"x", "image/jpeg", "MIME type is not valid"),
        (JPEG + b"x", "image/jpg", "MIME type is not valid"),  # getimagesize says image/jpeg
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp", "valid base64 encoded data"),
    ],
)
def test_the_fake_validates_image_content_as_magento_does(
    fake, make_connector, content, declared, message
):
    make_connector()  # serves the fake
    entry = {
        "media_type": "image",
        "label": "x",
        "position": 1,
        "disabled": False,
        "types": [],
        "content": {
            "base64_encoded_data": base64.b64encode(content).decode(),
            "type": declared,
            "name": "x.png",
        },
    }
    body = {"product": {"sku": "IMG", "name": "x", "price": 1, "media_gallery_entries": [entry]}}
    response = httpx.post(
        f"http://{fake.host}/rest/all/V1/products",
        json=body,
        headers={"Authorization": f"Bearer {fake.token}"},
    )

    assert response.status_code == 400
    assert message in response.json()["message"]
