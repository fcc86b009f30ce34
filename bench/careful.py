"""The main baseline: a careful hand-written script, one platform's documented batches each.

What a competent developer writes for one channel with the platform's reference open: variants
inside the product create, the documented batch endpoints at their documented sizes, requests
one at a time (a script, not a framework), waiting when refused (and on Shopify for the cost
bucket, as its guide says). It knows the catalogue is new (no lookups, no adoption after a
crash, no idempotency), so it is the request count to beat.

It does serialsync's whole job (issue 22 §3): each unit is shown as itself, with its price,
photo, stock and attributes (issue 17), each product with its description and brand. The
values come from the plugins' own pure helpers (metafield keys, summaries, meta keys, attribute
codes), so both send the same data; the requests are the script's own. What a store needs once
(Shopify's metafield definitions, WooCommerce's brands, Magento's attributes) is sent once per
run, when an attribute or brand first appears.

* Shopify — ``productSet`` carrying the product's first 250 variants (the input-array limit)
  with their stock, metafields and photo, then ``productVariantsBulkCreate`` 250 at a time:
  ``ceil(n / 250)`` per product (and per run one read of the primary location and one
  ``metafieldDefinitionCreate`` per attribute). Each query waits for the points it asked the
  last time (the cost bucket read from the answers), so none is refused. With 4 attributes and
  a photo a variant costs 4.3 points, so past about 230 units a ``productSet`` would exceed the
  1,000-point query limit; the script does not cut it (the bench's products have 20).
* BigCommerce — ``POST /v3/catalog/products`` carrying up to 600 variants with their option
  values and ``image_url``, then the variants' metafields (each attribute and a ``_summary``)
  through ``POST /v3/catalog/variants/metafields``, 50 a request: ``ceil(n / 600) +
  ceil(m / 50)`` per product whose units have ``m`` metafields.
* WooCommerce — the variable parent ``POST`` listing every serial, then variations batches of
  100 creates, each with its description, ``meta_data`` and image: ``1 + ceil(n / 100)`` per
  product (and one brand ``POST`` per brand).
* Magento (synchronous REST, no queue consumers assumed) — one attribute save carrying the
  product's serial options (``PUT /V1/products/attributes/{code}``, the one options array of
  the 2.4.9 contract), one ``POST /V1/products`` per child with its attributes, the
  configurable parent with its option and child links, one ``POST /V1/inventory/source-items``:
  ``n + 3`` per product (and per run one read of the attribute set's groups, then per attribute
  one create and one assignment to the set).
"""

from __future__ import annotations

from typing import Any

import httpx
from serialsync.model import Product, SerializedUnit
from serialsync_bigcommerce import unit_metafields
from serialsync_magento.unit_attributes import derived_code
from serialsync_shopify.unit_fields import NAMESPACE, TYPE, metafield_key, metafields_input
from serialsync_woocommerce.mapping import unit_description, unit_meta

from bench.naive import _GRAPHQL, Counter, Publish, Send, _shopify_variant, run_script
from bench.platforms import BIGCOMMERCE_METAFIELDS
from bench.timescale import TimeScale

SHOPIFY_BATCH = 250
BIGCOMMERCE_VARIANTS = 600
WOOCOMMERCE_BATCH = 100
MAGENTO_PREFIX = "pos_"
_M = "/rest/all/V1"


def _slices(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# -- Shopify --------------------------------------------------------------------------------


def _variant(
    product: Product, unit: SerializedUnit, location: str, *, in_set: bool
) -> dict[str, Any]:
    """A variant with its stock of 1 at the location, its attributes as metafields and its
    photo (``productSet`` and the bulk create name stock and photo differently)."""
    stock = (
        {"locationId": location, "name": "available", "quantity": 1}
        if in_set
        else {"availableQuantity": 1, "locationId": location}
    )
    variant: dict[str, Any] = {
        **_shopify_variant(product, unit),
        "inventoryPolicy": "DENY",
        "inventoryQuantities": [stock],
    }
    fields = metafields_input(unit)
    if fields:
        variant["metafields"] = fields
    if unit.images and in_set:
        variant["file"] = {"originalSource": unit.images[0], "contentType": "IMAGE"}
    elif unit.images:
        variant["mediaSrc"] = [unit.images[0]]
    return variant


class ShopifyBucket:
    """Shopify's cost bucket as its last answer showed it (``extensions.cost``).

    The script waits, before each query, until the bucket holds the points that query asked
    the last time it was sent (Shopify's rate-limit guide: read ``throttleStatus``, wait for
    the restore), instead of sending it to be refused: a refused query is one more request.
    """

    def __init__(self, scale: TimeScale) -> None:
        self.scale = scale
        self.available: float | None = None
        self.restore = 0.0
        self.seen_at = 0.0
        #: Points each query text asked when last sent.
        self.asked: dict[str, float] = {}

    def paced(self, send: Send) -> Send:
        """``send`` with the wait before each query."""

        def paced_send(method: str, url: str, **kwargs: Any) -> httpx.Response:
            query = str((kwargs.get("json") or {}).get("query", ""))
            self._wait(self.asked.get(query, 0.0))
            response = send(method, url, **kwargs)
            cost = (response.json().get("extensions") or {}).get("cost") or {}
            status = cost.get("throttleStatus") or {}
            if "currentlyAvailable" in status:
                self.available = float(status["currentlyAvailable"])
                self.restore = float(status["restoreRate"])
                self.seen_at = self.scale.monotonic()
                self.asked[query] = float(cost.get("requestedQueryCost") or 0)
            return response

        return paced_send

    def _wait(self, points: float) -> None:
        if self.available is None or not self.restore:
            return
        now = self.scale.monotonic()
        held = self.available + (now - self.seen_at) * self.restore
        # A point to spare: the answer rounds what it shows to a tenth.
        if held < points + 1:
            self.scale.sleep((points + 1 - held) / self.restore, "naive:shopify")


def _define_shopify(send: Send, product: Product, state: dict[str, Any]) -> None:
    """One metafield definition per attribute not defined yet in this run: it names the
    attribute in the admin and lets the storefront read it."""
    defined: set[str] = state.setdefault("defined", set())
    names = {metafield_key(n): n for u in product.units for n, v in u.attributes.items() if v}
    query = (
        "mutation Define($definition: MetafieldDefinitionInput!) { metafieldDefinitionCreate("
        "definition: $definition) { createdDefinition { id } userErrors { message } } }"
    )
    for key, name in sorted(names.items()):
        if key in defined:
            continue
        definition = {
            "name": name,
            "namespace": NAMESPACE,
            "key": key,
            "type": TYPE,
            "ownerType": "PRODUCTVARIANT",
            "pin": True,
            "access": {"storefront": "PUBLIC_READ"},
        }
        send("POST", _GRAPHQL, json={"query": query, "variables": {"definition": definition}})
        defined.add(key)


def publish_shopify(send: Send, product: Product, counter: Counter, state: dict[str, Any]) -> None:
    """``productSet`` with up to 250 variants and their stock, then bulk creates of 250.

    The primary location is read once per run (``location`` without an id), as stock needs it.
    """
    if "location" not in state:
        answer = send("POST", _GRAPHQL, json={"query": "{ location { id } }"}).json()
        state["location"] = answer["data"]["location"]["id"]
    _define_shopify(send, product, state)
    location = str(state["location"])
    first, *rest = _slices(list(product.units), SHOPIFY_BATCH)
    # A variant's file is one of the product's files.
    photos = dict.fromkeys([*product.images, *(u.images[0] for u in first if u.images)])
    product_input: dict[str, Any] = {
        "title": product.title,
        "handle": product.sku.lower(),
        "descriptionHtml": product.description,
        "status": "ACTIVE",
        "productOptions": [{"name": "Serial", "values": [{"name": u.serial} for u in first]}],
        "variants": [_variant(product, u, location, in_set=True) for u in first],
        "files": [{"originalSource": url, "contentType": "IMAGE"} for url in photos],
    }
    if product.brand:
        product_input["vendor"] = product.brand
    query = (
        "mutation Set($input: ProductSetInput!) { productSet(input: $input, synchronous: true) "
        "{ product { id } userErrors { message } } }"
    )
    variables: dict[str, Any] = {"input": product_input}
    body = send("POST", _GRAPHQL, json={"query": query, "variables": variables}).json()
    result = (body.get("data") or {}).get("productSet") or {}
    if result.get("userErrors") or not result.get("product"):
        counter.failed += len(product.units)
        return
    create = (
        "mutation Add($id: ID!, $v: [ProductVariantsBulkInput!]!, $media: [CreateMediaInput!]) "
        "{ productVariantsBulkCreate(productId: $id, variants: $v, media: $media) "
        "{ userErrors { message } } }"
    )
    for batch in rest:
        media = dict.fromkeys(u.images[0] for u in batch if u.images)
        variables = {
            "id": result["product"]["id"],
            "v": [_variant(product, u, location, in_set=False) for u in batch],
            "media": [{"originalSource": url, "mediaContentType": "IMAGE"} for url in media],
        }
        answer = send("POST", _GRAPHQL, json={"query": create, "variables": variables}).json()
        errors = ((answer.get("data") or {}).get("productVariantsBulkCreate") or {}).get(
            "userErrors"
        )
        if errors or answer.get("errors"):
            counter.failed += len(batch)


# -- BigCommerce ----------------------------------------------------------------------------


def _bigcommerce_product(
    product: Product, units: list[SerializedUnit], part: int
) -> dict[str, Any]:
    """The product create carrying ``units`` as variants, each with its photo."""
    body: dict[str, Any] = {
        "name": product.title + (f" ({part})" if part > 1 else ""),
        "type": "physical",
        "sku": product.sku + (f"-{part}" if part > 1 else ""),
        "weight": 1,
        "price": float(product.price),
        "description": product.description,
        "inventory_tracking": "variant",
        "is_visible": True,
        "variants": [
            {
                "sku": f"{u.sku}|||{u.serial}",
                "price": float(u.price or product.price),
                "inventory_level": 1,
                "option_values": [{"option_display_name": "Serial", "label": u.serial}],
                **({"image_url": u.images[0]} if u.images else {}),
            }
            for u in units
        ],
    }
    if product.brand:
        body["brand_name"] = product.brand
    if product.images:
        body["images"] = [
            {"image_url": url, "is_thumbnail": i == 0} for i, url in enumerate(product.images)
        ]
    return body


def publish_bigcommerce(send: Send, product: Product, counter: Counter) -> None:
    """One product ``POST`` per 600 units, each carrying its variants and their images, then
    the variants' metafields 50 a request (their ids are in the create's answer)."""
    for index, batch in enumerate(_slices(list(product.units), BIGCOMMERCE_VARIANTS)):
        answer = send(
            "POST", "/v3/catalog/products", json=_bigcommerce_product(product, batch, index + 1)
        )
        if answer.status_code >= 300:
            counter.failed += len(batch)
            continue
        variant_of = {v["sku"]: int(v["id"]) for v in answer.json()["data"]["variants"]}
        items = [
            {
                "resource_id": variant_of[f"{u.sku}|||{u.serial}"],
                "namespace": unit_metafields.NAMESPACE,
                "key": key,
                "value": value,
                "permission_set": unit_metafields.PERMISSION,
                "description": "One unit's own property, from the point of sale",
            }
            for u in batch
            for key, value in unit_metafields.wanted(u).items()
        ]
        for chunk in _slices(items, BIGCOMMERCE_METAFIELDS):
            written = send("POST", "/v3/catalog/variants/metafields", json=chunk)
            if written.status_code >= 300:
                counter.failed += len({item["resource_id"] for item in chunk})


# -- WooCommerce ----------------------------------------------------------------------------


def publish_woocommerce(
    send: Send, product: Product, counter: Counter, state: dict[str, Any]
) -> None:
    """The variable parent listing every serial, then variations batches of 100 creates; a
    brand is created the first time a product names it."""
    brands: dict[str, int] = state.setdefault("brands", {})
    if product.brand and product.brand not in brands:
        made = send("POST", "/wp-json/wc/v3/products/brands", json={"name": product.brand})
        brands[product.brand] = int(made.json()["id"])
    body: dict[str, Any] = {
        "name": product.title,
        "type": "variable",
        "status": "publish",
        "sku": product.sku,
        "description": product.description,
        "attributes": [
            {
                "name": "Serial",
                "variation": True,
                "visible": True,
                "options": [u.serial for u in product.units],
            }
        ],
    }
    if product.brand:
        body["brands"] = [brands[product.brand]]
    if product.images:
        body["images"] = [{"src": src} for src in product.images]
    parent = send("POST", "/wp-json/wc/v3/products", json=body).json()
    for batch in _slices(list(product.units), WOOCOMMERCE_BATCH):
        items = [
            {
                "sku": f"{u.sku}|||{u.serial}",
                "regular_price": str(u.price or product.price),
                "manage_stock": True,
                "stock_quantity": 1,
                "backorders": "no",
                "attributes": [{"name": "Serial", "option": u.serial}],
                "description": unit_description(u),
                "meta_data": unit_meta(u),
                **({"image": {"src": u.images[0]}} if u.images else {}),
            }
            for u in batch
        ]
        answer = send(
            "POST",
            f"/wp-json/wc/v3/products/{parent['id']}/variations/batch",
            json={"create": items},
        )
        created = answer.json().get("create") if answer.status_code == 200 else None
        counter.failed += sum(1 for c in created or [{}] * len(batch) if "error" in c)


# -- Magento --------------------------------------------------------------------------------


def _magento_attribute(send: Send, code: str, label: str, state: dict[str, Any]) -> None:
    """A text attribute shown on the storefront, created and put in the default attribute set
    once per run (the set's groups read once)."""
    made: set[str] = state.setdefault("made", set())
    if code in made:
        return
    if "group" not in state:
        params = {
            "searchCriteria[filterGroups][0][filters][0][field]": "attribute_set_id",
            "searchCriteria[filterGroups][0][filters][0][value]": "4",
        }
        groups = send("GET", f"{_M}/products/attribute-sets/groups/list", params=params).json()
        state["group"] = int(groups["items"][0]["attribute_group_id"])
    attribute = {
        "attribute_code": code,
        "frontend_input": "text",
        "entity_type_id": "4",
        "is_required": False,
        "scope": "global",
        "is_user_defined": True,
        "is_visible": True,
        "is_visible_on_front": "1",
        "default_frontend_label": label,
        "frontend_labels": [{"store_id": 0, "label": label}],
    }
    send("POST", f"{_M}/products/attributes", json={"attribute": attribute})
    assign = {"attributeSetId": 4, "attributeGroupId": state["group"], "attributeCode": code}
    send("POST", f"{_M}/products/attribute-sets/attributes", json={**assign, "sortOrder": 0})
    made.add(code)


def _magento_values(
    send: Send, values: dict[str, str], state: dict[str, Any]
) -> list[dict[str, str]]:
    """``name -> value`` as ``custom_attributes`` (each attribute made the first time)."""
    out = []
    for name, value in sorted(values.items()):
        if not value.strip():
            continue
        code = derived_code(name, MAGENTO_PREFIX)
        _magento_attribute(send, code, name, state)
        out.append({"attribute_code": code, "value": value})
    return out


def publish_magento(
    send: Send,
    product: Product,
    counter: Counter,
    attribute: dict[str, Any],
    state: dict[str, Any],
) -> None:
    """Options in one attribute save, the children with their attributes, the parent with its
    links, description and brand, the stock."""
    identity = {
        k: attribute[k]
        for k in (
            "attribute_id",
            "attribute_code",
            "frontend_input",
            "entity_type_id",
            "is_required",
            "frontend_labels",
        )
    }
    saved = send(
        "PUT",
        f"{_M}/products/attributes/serial_number",
        json={"attribute": {**identity, "options": [{"label": u.serial} for u in product.units]}},
    ).json()
    option_of = {o["label"]: o["value"] for o in saved.get("options") or []}
    child_ids: list[int] = []
    for unit in product.units:
        child = send(
            "POST",
            f"{_M}/products",
            json={
                "product": {
                    "sku": f"{unit.sku}|||{unit.serial}",
                    "name": f"{product.title} {unit.serial}",
                    "type_id": "simple",
                    "attribute_set_id": 4,
                    "price": float(unit.price or product.price),
                    "status": 1,
                    "visibility": 1,
                    "extension_attributes": {"website_ids": [1]},
                    "custom_attributes": [
                        {"attribute_code": "serial_number", "value": option_of[unit.serial]},
                        {"attribute_code": "url_key", "value": f"{unit.sku}-{unit.serial}".lower()},
                        *_magento_values(send, unit.attributes, state),
                    ],
                }
            },
        )
        if child.status_code != 200:
            counter.failed += 1
            continue
        child_ids.append(int(child.json()["id"]))
    send(
        "POST",
        f"{_M}/products",
        json={
            "product": {
                "sku": product.sku,
                "name": product.title,
                "type_id": "configurable",
                "attribute_set_id": 4,
                "price": float(product.price),
                "status": 1,
                "visibility": 4,
                "custom_attributes": [
                    {"attribute_code": "description", "value": product.description},
                    *_magento_values(send, {"Brand": product.brand or ""}, state),
                ],
                "extension_attributes": {
                    "website_ids": [1],
                    "configurable_product_options": [
                        {
                            "attribute_id": str(attribute["attribute_id"]),
                            "label": "Serial",
                            "position": 0,
                            "values": [
                                {"value_index": int(option_of[u.serial])} for u in product.units
                            ],
                        }
                    ],
                    "configurable_product_links": child_ids,
                },
            }
        },
    )
    send(
        "POST",
        f"{_M}/inventory/source-items",
        json={
            "sourceItems": [
                {
                    "sku": f"{u.sku}|||{u.serial}",
                    "source_code": "default",
                    "quantity": 1,
                    "status": 1,
                }
                for u in product.units
            ]
        },
    )


def run_careful(
    name: str,
    section: dict[str, Any],
    catalogue: list[Product],
    scale: TimeScale,
    transport: httpx.BaseTransport | None = None,
) -> dict[str, Any]:
    """Publish ``catalogue`` to one channel as the careful script does; requests, times."""
    state: dict[str, Any] = {}
    bucket = ShopifyBucket(scale)
    publish: dict[str, Publish] = {
        "shopify": lambda send, p, c, _a: publish_shopify(bucket.paced(send), p, c, state),
        "bigcommerce": lambda send, p, c, _a: publish_bigcommerce(send, p, c),
        "woocommerce": lambda send, p, c, _a: publish_woocommerce(send, p, c, state),
        "magento": lambda send, p, c, a: publish_magento(send, p, c, a, state),
    }
    return run_script(name, section, catalogue, scale, publish[name], transport)
