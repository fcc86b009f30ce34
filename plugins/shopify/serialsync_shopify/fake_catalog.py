"""The fake store's catalogue: products, variants, inventory levels, and their mutations.

It answers ``productSet``, ``productVariantsBulkCreate`` / ``Update`` / ``Delete`` and
``inventorySetQuantities`` with Shopify's rules and ``userErrors`` shapes, and builds the views
(plain dicts, with callables for fields that take arguments) that
:mod:`serialsync_shopify.fake_graphql` projects onto a query's selection.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from serialsync_shopify.fake_graphql import GraphQLFaultError, connection
from serialsync_shopify.fake_metafields import Metafields, MetafieldStore, metafield_views

PRIMARY_LOCATION = "gid://shopify/Location/1"
MAX_INPUT_ARRAY = 250
_REASONS = frozenset(
    {
        "correction",
        "cycle_count_available",
        "damaged",
        "movement_created",
        "movement_updated",
        "movement_received",
        "movement_canceled",
        "other",
        "promotion",
        "quality_control",
        "received",
        "reservation_created",
        "reservation_deleted",
        "reservation_updated",
        "restock",
        "safety_stock",
        "shrinkage",
    }
)


@dataclass
class FakeVariant:
    """One variant: its option value (the serial), SKU, price and inventory item."""

    id: str
    product_id: str
    sku: str
    price: Decimal
    option_value: str
    inventory_item_id: str
    policy: str = "DENY"
    tracked: bool = True
    image: str | None = None
    metafields: Metafields = field(default_factory=dict)


@dataclass
class FakeProduct:
    """One product: handle, status, its one option, metafields and variants in order."""

    id: str
    handle: str
    title: str
    status: str
    option_name: str
    description: str = ""
    vendor: str = ""
    metafields: dict[tuple[str, str], str] = field(default_factory=dict)
    variant_ids: list[str] = field(default_factory=list)
    media: list[str] = field(default_factory=list)
    #: Each media's global id, by the source it was made from (a variant's media is one of them).
    media_ids: dict[str, str] = field(default_factory=dict)
    #: A product of the shop that serialsync never published (a strap, a gift card).
    plain: bool = False


@dataclass
class _UserErrorsError(Exception):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors


_TITLE_LIMIT = 255  # characters in a product title
_STATUSES = {"ACTIVE", "ARCHIVED", "DRAFT", "UNLISTED"}


def _user_error(path: Sequence[str | int], message: str, code: str | None) -> dict[str, Any]:
    return {"field": [str(p) for p in path] if path else None, "message": message, "code": code}


class Catalog:
    """Products, variants and stock of the fake store; ``gid`` mints global ids."""

    def __init__(self, *, max_variants: int, gid: Callable[[str], str]) -> None:
        self.max_variants = max_variants
        self._gid = gid
        self.products: dict[str, FakeProduct] = {}
        self.variants: dict[str, FakeVariant] = {}
        self.metafields = MetafieldStore(gid)
        self.levels: dict[tuple[str, str], int] = {}
        self.locations: dict[str, str] = {PRIMARY_LOCATION: "Main warehouse"}
        self.idempotency: dict[str, tuple[str, dict[str, Any]]] = {}
        #: Media ids a test marks as still being processed: Shopify refuses to delete a file
        #: with a pending operation (FILE_LOCKED, "File has a pending operation.").
        self.processing: set[str] = set()

    def product_by_handle(self, handle: str) -> FakeProduct | None:
        """The product with this handle, if any."""
        return next((p for p in self.products.values() if p.handle == handle), None)

    def variants_with_sku(self, sku: str) -> list[FakeVariant]:
        """Every variant carrying ``sku`` (Shopify does not keep SKUs unique)."""
        return [v for v in self.variants.values() if v.sku == sku]

    def plain_variant(self, sku: str) -> FakeVariant:
        """The variant of the shop's own plain product ``sku``, created on first sale.

        Stands for a product the merchant sells outside serialsync: its own product with one
        default variant, not tracked (so any quantity can be sold), priced 19.99.
        """
        existing = next((v for v in self.variants_with_sku(sku)), None)
        if existing is not None:
            return existing
        product = FakeProduct(
            id=self._gid("Product"),
            handle=f"plain-{_slug(sku)}-{len(self.products) + 1}",
            title=f"Shop product {sku}",
            status="ACTIVE",
            option_name="Title",
            plain=True,
        )
        self.products[product.id] = product
        variant = FakeVariant(
            id=self._gid("ProductVariant"),
            product_id=product.id,
            sku=sku,
            price=Decimal("19.99"),
            option_value="Default Title",
            inventory_item_id=self._gid("InventoryItem"),
            policy="DENY",
            tracked=False,
        )
        self.variants[variant.id] = variant
        product.variant_ids.append(variant.id)
        self.levels[(variant.inventory_item_id, PRIMARY_LOCATION)] = 0
        return variant

    def stock_of(self, variant_id: str) -> int:
        """A variant's available quantity over all locations."""
        item = self.variants[variant_id].inventory_item_id
        return sum(self.levels.get((item, location), 0) for location in self.locations)

    def location(self, args: dict[str, Any]) -> dict[str, Any] | None:
        """The ``location`` query: by id, or the primary location without one."""
        location_id = args.get("id") or PRIMARY_LOCATION
        if location_id not in self.locations:
            return None
        return {
            "__typename": "Location",
            "id": location_id,
            "name": self.locations[location_id],
            "isActive": True,
            "isPrimary": location_id == PRIMARY_LOCATION,
        }

    def product_by_identifier(self, args: dict[str, Any]) -> dict[str, Any] | None:
        """The ``productByIdentifier`` query: by id, handle or unique metafield."""
        identifier = args.get("identifier") or {}
        if identifier.get("id"):
            return self.product_view(identifier["id"])
        if identifier.get("handle"):
            product = self.product_by_handle(str(identifier["handle"]))
            return self.product_view(product.id) if product else None
        custom = identifier.get("customId")
        if custom:
            for product in self.products.values():
                key = (custom.get("namespace") or "custom", custom["key"])
                if product.metafields.get(key) == custom["value"]:
                    return self.product_view(product.id)
        return None

    def node_ids(self, args: dict[str, Any]) -> list[str]:
        """The ids of a ``nodes(ids:)`` query, refused past 250 as Shopify does."""
        ids = [str(i) for i in args.get("ids") or []]
        _check_size(ids, ["ids"])
        return ids

    def node(self, node_id: str | None) -> dict[str, Any] | None:
        """A product or variant by global id (``None`` for anything else)."""
        if node_id in self.variants:
            return self.variant_view(node_id)
        if node_id in self.products:
            return self.product_view(node_id)
        return None

    def product_view(self, product_id: str | None) -> dict[str, Any] | None:
        """A product as the projector walks it (``None`` when there is none)."""
        product = self.products.get(product_id or "")
        if product is None:
            return None
        pid = product.id

        def metafield(a: dict[str, Any]) -> dict[str, Any] | None:
            value = product.metafields.get((a.get("namespace") or "custom", a.get("key", "")))
            return None if value is None else {"__typename": "Metafield", "value": value}

        def options(_a: dict[str, Any]) -> list[dict[str, Any]]:
            values = [self.variants[v].option_value for v in product.variant_ids]
            return [
                {
                    "__typename": "ProductOption",
                    "id": f"{pid}/Option/1",
                    "name": product.option_name,
                    "position": 1,
                    "values": values,
                    "optionValues": [
                        {"__typename": "ProductOptionValue", "name": v, "hasVariants": True}
                        for v in values
                    ],
                }
            ]

        def variants(a: dict[str, Any]) -> dict[str, Any]:
            items = [self.variants[v] for v in product.variant_ids]
            return connection(
                items, a, key=lambda v: (gid_number(v.id),), view=lambda v: self.variant_view(v.id)
            )

        return {
            "__typename": "Product",
            "id": pid,
            "handle": product.handle,
            "title": product.title,
            "status": product.status,
            "vendor": product.vendor,
            "descriptionHtml": product.description,
            "metafield": metafield,
            "variantsCount": {"count": len(product.variant_ids), "precision": "EXACT"},
            "options": options,
            "variants": variants,
            # The product's media in gallery order (``last: n`` gives the n added last).
            "media": lambda a: connection(
                list(enumerate(product.media)),
                a,
                key=lambda item: (item[0],),
                view=lambda item: {
                    "__typename": "MediaImage",
                    "id": self.media_id(pid, item[1]),
                    "status": "READY",
                },
            ),
            "totalInventory": lambda _a: sum(self.stock_of(v) for v in product.variant_ids),
        }

    def variants_search(self, args: dict[str, Any]) -> dict[str, Any]:
        """``productVariants(first, after)`` over every variant, or ``(first, query)`` for the one
        filter the plugin uses:
        ``sku:"…"`` (quoted, ``\\`` and ``\"`` escaped), matched exactly here (Shopify's
        search may match more loosely; the plugin keeps exact SKUs only)."""
        if args.get("query") is None:
            # No search: every variant, in the order of its id (sortKey ID, Shopify's default).
            return connection(
                list(self.variants.values()),
                args,
                key=lambda v: (_numeric_id(v.id),),
                view=lambda v: self.variant_view(v.id),
            )
        match = re.fullmatch(r'sku:"((?:[^"\\]|\\.)*)"', str(args.get("query") or ""))
        if match is None:
            raise GraphQLFaultError('The fake searches variants by sku:"…" only', "NOT_IMPLEMENTED")
        sku = re.sub(r"\\(.)", r"\1", match.group(1))
        found = [v.id for v in self.variants.values() if v.sku == sku]
        first = int(args.get("first") or 0)
        return {
            "nodes": [self.variant_view(v) for v in found[:first]],
            "pageInfo": {"hasNextPage": len(found) > first, "endCursor": None},
        }

    def variant_view(self, variant_id: str | None) -> dict[str, Any] | None:
        """A variant as the projector walks it (``None`` when there is none)."""
        variant = self.variants.get(variant_id or "")
        if variant is None:
            return None

        def level(a: dict[str, Any]) -> dict[str, Any] | None:
            quantity = self.levels.get((variant.inventory_item_id, a.get("locationId", "")))
            if quantity is None:
                return None
            return {
                "__typename": "InventoryLevel",
                "quantities": lambda q: [
                    {"name": n, "quantity": quantity} for n in q.get("names", [])
                ],
            }

        return {
            "__typename": "ProductVariant",
            "id": variant.id,
            "sku": variant.sku,
            "title": variant.option_value,
            "price": format(variant.price, "f"),
            "inventoryPolicy": variant.policy,
            "inventoryQuantity": self.stock_of(variant.id),
            "selectedOptions": [
                {
                    "name": self.products[variant.product_id].option_name,
                    "value": variant.option_value,
                }
            ],
            "inventoryItem": {
                "__typename": "InventoryItem",
                "id": variant.inventory_item_id,
                "sku": variant.sku,
                "tracked": variant.tracked,
                "inventoryLevel": level,
            },
            "product": lambda _a: self.product_view(variant.product_id),
            "metafield": metafield_views(variant.metafields),
            # A variant shows at most one media (Shopify: PRODUCT_VARIANT_ALREADY_HAS_MEDIA).
            "media": lambda a: connection(
                [variant.image] if variant.image else [],
                a,
                key=lambda url: (url,),
                view=lambda url: {
                    "__typename": "MediaImage",
                    "id": self.media_id(variant.product_id, url),
                },
            ),
        }

    def media_id(self, product_id: str, source: str) -> str:
        """The global id of the product's media made from ``source`` (minted when first asked)."""
        product = self.products[product_id]
        if source not in product.media_ids:
            product.media_ids[source] = self._gid("MediaImage")
        return product.media_ids[source]

    def detach_media(self, args: dict[str, Any]) -> dict[str, Any]:
        """The ``productVariantDetachMedia`` mutation: one media per variant-media pair, at
        most 100 pairs, each variant once and on the product, the media attached to it; a
        refused pair refuses the call (nothing is detached). The media stays on the product."""
        product = self.products.get(str(args.get("productId")))
        if product is None:
            return {**_product_missing(), "productVariants": None}
        pairs = list(args.get("variantMedia") or [])
        errors: list[dict[str, Any]] = []
        if len(pairs) > 100:
            errors.append(
                _user_error(
                    ["variantMedia"],
                    "Exceeded the maximum number of 100 variant-media pairs per mutation call.",
                    "MAXIMUM_VARIANT_MEDIA_PAIRS_EXCEEDED",
                )
            )
        known = {self.media_id(product.id, url) for url in product.media}
        seen: set[str] = set()
        detach: list[FakeVariant] = []
        for index, pair in enumerate(pairs[:100]):
            path = ["variantMedia", str(index)]
            variant = self.variants.get(str(pair.get("variantId")))
            media = [str(m) for m in pair.get("mediaIds") or []]
            if variant is None or variant.product_id != product.id:
                problem = (
                    "variantId",
                    "Variant does not exist on the given product.",
                    "PRODUCT_VARIANT_DOES_NOT_EXIST_ON_PRODUCT",
                )
            elif variant.id in seen:
                problem = (
                    "variantId",
                    "Variant specified in more than one pair.",
                    "PRODUCT_VARIANT_SPECIFIED_MULTIPLE_TIMES",
                )
            elif len(media) != 1:
                problem = (
                    "mediaIds",
                    "Only one mediaId is allowed per variant-media input pair.",
                    "TOO_MANY_MEDIA_PER_INPUT_PAIR",
                )
            elif media[0] not in known:
                problem = (
                    "mediaIds",
                    "Media does not exist on the given product.",
                    "MEDIA_DOES_NOT_EXIST_ON_PRODUCT",
                )
            elif not variant.image or self.media_id(product.id, variant.image) != media[0]:
                problem = (
                    "mediaIds",
                    "The specified media is not attached to the specified variant.",
                    "MEDIA_IS_NOT_ATTACHED_TO_VARIANT",
                )
            else:
                seen.add(variant.id)
                detach.append(variant)
                continue
            errors.append(_user_error([*path, problem[0]], problem[1], problem[2]))
        if errors:
            return {
                "product": self.product_view(product.id),
                "productVariants": None,
                "userErrors": errors,
            }
        for variant in detach:
            variant.image = None
        return {
            "product": self.product_view(product.id),
            "productVariants": [self.variant_view(v.id) for v in detach],
            "userErrors": [],
        }

    def product_set(self, args: dict[str, Any]) -> dict[str, Any]:
        """The ``productSet`` mutation (synchronous)."""
        data = args.get("input") or {}
        identifier = args.get("identifier") or {}
        try:
            product = self.__product_set_apply(data, identifier)
        except _UserErrorsError as exc:
            return {"product": None, "productSetOperation": None, "userErrors": exc.errors}
        return {
            "product": self.product_view(product.id),
            "productSetOperation": None,
            "userErrors": [],
        }

    def __product_set_apply(self, data: dict[str, Any], identifier: dict[str, Any]) -> FakeProduct:
        existing: FakeProduct | None = None
        if identifier.get("id"):
            existing = self.products.get(identifier["id"])
            if existing is None:
                raise _UserErrorsError(
                    [
                        _user_error(
                            ["identifier", "id"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST"
                        )
                    ]
                )
        elif identifier.get("handle"):
            existing = self.product_by_handle(identifier["handle"])
        variants_in = list(data.get("variants") or [])
        # Every input list holds at most 250 entries (productSet's variants: the variant cap).
        _check_size(list(data.get("files") or []), ["input", "files"])
        _check_size(list(data.get("metafields") or []), ["input", "metafields"])
        _check_size(list(data.get("productOptions") or []), ["input", "productOptions"])
        if len(variants_in) > self.max_variants:
            raise _UserErrorsError(
                [
                    _user_error(
                        ["input", "variants"],
                        f"Exceeded the maximum of {self.max_variants} variants per product",
                        "VARIANTS_OVER_LIMIT",
                    )
                ]
            )
        options = list(data.get("productOptions") or [])
        if variants_in and not options and existing is None:
            raise _UserErrorsError(
                [
                    _user_error(
                        ["input", "productOptions"],
                        "Product options input is required when updating variants",
                        "PRODUCT_OPTIONS_INPUT_MISSING",
                    )
                ]
            )
        option_name = (
            str(options[0].get("name"))
            if options
            else (existing.option_name if existing else "Title")
        )
        declared = (
            {str(v.get("name")) for v in (options[0].get("values") or [])} if options else None
        )
        handle = data.get("handle") or _slug(str(data.get("title") or "product"))
        if existing is None and self.product_by_handle(handle) is not None:
            # An explicit handle already in use is refused, not renamed; real productSet answers
            # it with code null (recorded traffic), so only the field and message tell.
            raise _UserErrorsError(
                [
                    _user_error(
                        ["input", "handle"],
                        f"Handle '{handle}' has already been taken",
                        None,
                    )
                ]
            )
        errors: list[dict[str, Any]] = []
        seen: set[str] = set()
        prepared: list[tuple[dict[str, Any], str, Decimal]] = []
        for index, variant in enumerate(variants_in):
            path = ["input", "variants", str(index)]
            value = _option_value(variant, option_name)
            if value is None:
                errors.append(
                    _user_error(
                        [*path, "optionValues"],
                        "Option values are missing",
                        "OPTION_VALUES_MISSING",
                    )
                )
                continue
            if declared is not None and value not in declared:
                errors.append(
                    _user_error(
                        [*path, "optionValues"],
                        f"Option value '{value}' does not exist",
                        "OPTION_VALUE_DOES_NOT_EXIST",
                    )
                )
                continue
            if value in seen:
                # As real productSet answers a duplicate variant: the variant's path, code null.
                errors.append(_user_error(path, f"The variant '{value}' already exists.", None))
                continue
            seen.add(value)
            price = _price(variant.get("price"))
            if price is None or price < 0:
                errors.append(
                    _user_error(
                        [*path, "price"],
                        "Price must be greater than or equal to 0",
                        "INVALID_VARIANT",
                    )
                )
                continue
            sku_error = _sku_error(variant)
            if sku_error:
                errors.append(_user_error([*path, "sku"], sku_error, "INVALID_VARIANT"))
                continue
            refused = self._variant_metafields(variant, path, "INVALID_METAFIELD")
            if refused:
                errors.extend(refused)
                continue
            for quantity in variant.get("inventoryQuantities") or []:
                if quantity.get("locationId") not in self.locations:
                    errors.append(
                        _user_error(
                            [*path, "inventoryQuantities"],
                            "Location does not exist",
                            "INVALID_INPUT",
                        )
                    )
            prepared.append((variant, value, price))
        if errors:
            raise _UserErrorsError(errors)
        if existing is None:
            product = FakeProduct(
                id=self._gid("Product"),
                handle=handle,
                title=str(data.get("title") or ""),
                status=str(data.get("status") or "ACTIVE"),
                option_name=option_name,
                description=str(data.get("descriptionHtml") or ""),
                vendor=str(data.get("vendor") or ""),
            )
            self.products[product.id] = product
        else:
            product = existing
            product.option_name = option_name
            for key in ("title", "status"):
                if data.get(key):
                    setattr(product, key, str(data[key]))
        for metafield in data.get("metafields") or []:
            product.metafields[(metafield.get("namespace") or "custom", metafield["key"])] = str(
                metafield["value"]
            )
        for file in data.get("files") or []:
            product.media.append(str(file.get("originalSource")))
        # The trap: every variant not in the input is deleted.
        kept: list[str] = []
        by_value = {self.variants[v].option_value: v for v in product.variant_ids}
        for variant, value, price in prepared:
            if value in by_value:
                current = self.variants[by_value[value]]
                current.price = price
                current.sku = str(
                    (variant.get("inventoryItem") or {}).get("sku")
                    or variant.get("sku")
                    or current.sku
                )
                self.metafields.apply(
                    current.metafields, variant.get("metafields") or [], "PRODUCTVARIANT"
                )
                kept.append(current.id)
            else:
                created = self._new_variant(
                    product, variant, value, price, set_quantities="productSet"
                )
                kept.append(created.id)
        for gone in set(product.variant_ids) - set(kept):
            self._drop_variant(gone)
        product.variant_ids = kept
        return product

    def bulk_create(self, args: dict[str, Any]) -> dict[str, Any]:
        """The ``productVariantsBulkCreate`` mutation: all or nothing."""
        variants_in = list(args.get("variants") or [])
        _check_size(variants_in, ["variants"])
        _check_size(list(args.get("media") or []), ["media"])
        product = self.products.get(str(args.get("productId")))
        if product is None:
            return {**_product_missing(), "productVariants": None}
        existing = {self.variants[v].option_value for v in product.variant_ids}
        if len(product.variant_ids) + len(variants_in) > self.max_variants:
            # Assumed code and wording; the limit itself is Shopify's.
            return {
                "product": self.product_view(product.id),
                "productVariants": [],
                "userErrors": [
                    _user_error(
                        ["variants"],
                        f"You can only have a maximum of {self.max_variants} variants per product",
                        "INVALID_INPUT",
                    )
                ],
            }
        errors: list[dict[str, Any]] = []
        prepared: list[tuple[dict[str, Any], str, Decimal]] = []
        for index, variant in enumerate(variants_in):
            path = ["variants", str(index)]
            value = _option_value(variant, product.option_name)
            if value is None:
                errors.append(
                    _user_error(
                        [*path, "optionValues"],
                        "You need to add option values for " + product.option_name,
                        "NEED_TO_ADD_OPTION_VALUES",
                    )
                )
                continue
            if value in existing:
                errors.append(
                    _user_error(
                        [*path], f"The variant '{value}' already exists.", "VARIANT_ALREADY_EXISTS"
                    )
                )
                continue
            existing.add(value)
            price = _price(variant.get("price"))
            if price is None or price < 0:
                errors.append(
                    _user_error(
                        [*path, "price"],
                        "Price must be greater than or equal to 0",
                        "GREATER_THAN_OR_EQUAL_TO",
                    )
                )
                continue
            sku_error = _sku_error(variant)
            if sku_error:
                errors.append(_user_error([*path, "inventoryItem", "sku"], sku_error, "INVALID"))
                continue
            refused = self._variant_metafields(variant, path, "INVALID")
            if refused:
                errors.extend(refused)
                continue
            bad_location = [
                q
                for q in variant.get("inventoryQuantities") or []
                if q.get("locationId") not in self.locations
            ]
            if bad_location:
                errors.append(
                    _user_error(
                        [*path, "inventoryQuantities"],
                        "Location not found",
                        "TRACKED_VARIANT_LOCATION_NOT_FOUND",
                    )
                )
                continue
            prepared.append((variant, value, price))
        if errors:
            # All or nothing: one refused variant and none is created (an empty list, as
            # Shopify answers, not null).
            return {
                "product": self.product_view(product.id),
                "productVariants": [],
                "userErrors": errors,
            }
        for media in args.get("media") or []:
            product.media.append(str(media.get("originalSource")))
        created = [
            self._new_variant(product, variant, value, price, set_quantities="bulk")
            for variant, value, price in prepared
        ]
        product.variant_ids.extend(v.id for v in created)
        return {
            "product": self.product_view(product.id),
            "productVariants": [self.variant_view(v.id) for v in created],
            "userErrors": [],
        }

    def bulk_update(self, args: dict[str, Any]) -> dict[str, Any]:
        """The ``productVariantsBulkUpdate`` mutation (``allowPartialUpdates`` honoured)."""
        variants_in = list(args.get("variants") or [])
        _check_size(variants_in, ["variants"])
        _check_size(list(args.get("media") or []), ["media"])
        product = self.products.get(str(args.get("productId")))
        if product is None:
            return {**_product_missing(), "productVariants": None}
        errors: list[dict[str, Any]] = []
        valid: list[tuple[FakeVariant, dict[str, Any]]] = []
        for index, variant in enumerate(variants_in):
            path = ["variants", str(index)]
            if not variant.get("id"):
                errors.append(
                    _user_error(
                        [*path, "id"], "Product variant ID is missing", "PRODUCT_VARIANT_ID_MISSING"
                    )
                )
                continue
            current = self.variants.get(str(variant["id"]))
            if current is None or current.product_id != product.id:
                errors.append(
                    _user_error(
                        [*path, "id"],
                        "Product variant does not exist",
                        "PRODUCT_VARIANT_DOES_NOT_EXIST",
                    )
                )
                continue
            if variant.get("inventoryQuantities"):
                errors.append(
                    _user_error(
                        [*path, "inventoryQuantities"],
                        "Inventory quantities can only be provided during create",
                        "NO_INVENTORY_QUANTITIES_ON_VARIANTS_UPDATE",
                    )
                )
                continue
            if "price" in variant:
                price = _price(variant.get("price"))
                if price is None or price < 0:
                    errors.append(
                        _user_error(
                            [*path, "price"],
                            "Price must be greater than or equal to 0",
                            "GREATER_THAN_OR_EQUAL_TO",
                        )
                    )
                    continue
            refused = self._variant_metafields(variant, path, "INVALID_VALUE")
            if refused:
                errors.extend(refused)
                continue
            valid.append((current, variant))
        if errors and not args.get("allowPartialUpdates"):
            return {
                "product": self.product_view(product.id),
                "productVariants": None,
                "userErrors": errors,
            }
        for media in args.get("media") or []:
            product.media.append(str(media.get("originalSource")))
        for current, variant in valid:
            if "price" in variant:
                current.price = _price(variant["price"]) or Decimal("0")
            if variant.get("inventoryPolicy"):
                current.policy = str(variant["inventoryPolicy"])
            item = variant.get("inventoryItem") or {}
            if "sku" in item:  # the SKU lives on the inventory item (staff retype it there)
                current.sku = str(item["sku"] or "")
            if "tracked" in item:
                current.tracked = bool(item["tracked"])
            if variant.get("mediaSrc"):
                current.image = str(variant["mediaSrc"][0])
            self.metafields.apply(
                current.metafields, variant.get("metafields") or [], "PRODUCTVARIANT"
            )
        return {
            "product": self.product_view(product.id),
            "productVariants": [self.variant_view(c.id) for c, _ in valid],
            "userErrors": errors,
        }

    def bulk_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        """The ``productVariantsBulkDelete`` mutation: never the last variant."""
        ids = [str(i) for i in args.get("variantsIds") or []]
        _check_size(ids, ["variantsIds"])
        product = self.products.get(str(args.get("productId")))
        if product is None:
            return _product_missing()
        stranger = next((n for n, i in enumerate(ids) if i not in product.variant_ids), None)
        if stranger is not None:
            # Real bulk delete names the input item: ["variantsIds", "0"].
            return {
                "product": None,
                "userErrors": [
                    _user_error(
                        ["variantsIds", str(stranger)],
                        "At least one variant does not belong to the product",
                        "AT_LEAST_ONE_VARIANT_DOES_NOT_BELONG_TO_THE_PRODUCT",
                    )
                ],
            }
        if set(product.variant_ids) <= set(ids):
            return {
                "product": None,
                "userErrors": [
                    _user_error(
                        ["variantsIds", "0"],
                        "Cannot delete the last variant of a product",
                        "CANNOT_DELETE_LAST_VARIANT",
                    )
                ],
            }
        for variant_id in ids:
            self._drop_variant(variant_id)
        gone = set(ids)
        product.variant_ids = [v for v in product.variant_ids if v not in gone]
        return {"product": self.product_view(product.id), "userErrors": []}

    def product_update(self, args: dict[str, Any]) -> dict[str, Any]:
        """The ``productUpdate`` mutation: the fields given (title, description, vendor,
        status, metafields) of the product ``product.id``, and the new ``media`` appended to
        its gallery in the order given (at most 250, as every input list); a blank or
        over-long title is refused."""
        data = args.get("product") or {}
        _check_size(list(args.get("media") or []), ["media"])
        _check_size(list(data.get("metafields") or []), ["product", "metafields"])
        product = self.products.get(str(data.get("id") or ""))
        if product is None:
            return {
                "product": None,
                "userErrors": [_user_error(["id"], "Product does not exist", None)],
            }
        errors: list[dict[str, Any]] = []
        if "title" in data:
            title = str(data.get("title") or "")
            if not title.strip():
                errors.append(_user_error(["title"], "Title can't be blank", None))
            elif len(title) > _TITLE_LIMIT:
                message = f"Title is too long (maximum is {_TITLE_LIMIT} characters)"
                errors.append(_user_error(["title"], message, None))
        if "status" in data and data["status"] not in _STATUSES:
            errors.append(_user_error(["status"], "Status is not included in the list", None))
        if errors:
            return {"product": None, "userErrors": errors}
        for key, attribute in (
            ("title", "title"),
            ("descriptionHtml", "description"),
            ("vendor", "vendor"),
            ("status", "status"),
        ):
            if key in data:
                setattr(product, attribute, str(data.get(key) or ""))
        for metafield in data.get("metafields") or []:
            held = (str(metafield.get("namespace") or "app"), str(metafield["key"]))
            product.metafields[held] = str(metafield["value"])
        for media in args.get("media") or []:
            product.media.append(str(media.get("originalSource")))
        return {"product": self.product_view(product.id), "userErrors": []}

    def file_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        """The ``fileDelete`` mutation: each file goes from the store, from the gallery of the
        product that holds it and from any variant that shows it (Shopify's reference: deleting
        a file removes its references). An id the store does not hold is reported
        (``FILE_DOES_NOT_EXIST``, field ``["fileIds"]``); the others are deleted (assumed: the
        documentation says only that deleting a file that does not exist returns an error)."""
        ids = [str(i) for i in args.get("fileIds") or []]
        _check_size(ids, ["fileIds"])
        deleted: list[str] = []
        errors: list[dict[str, Any]] = []
        for file_id in ids:
            holder = next(
                (
                    (product, source)
                    for product in self.products.values()
                    for source, known in product.media_ids.items()
                    if known == file_id and source in product.media
                ),
                None,
            )
            if holder is None:
                errors.append(
                    _user_error(
                        ["fileIds"], f"File id {file_id} does not exist.", "FILE_DOES_NOT_EXIST"
                    )
                )
                continue
            if file_id in self.processing:
                errors.append(
                    _user_error(["fileIds"], "File has a pending operation.", "FILE_LOCKED")
                )
                continue
            product, source = holder
            product.media = [m for m in product.media if m != source]
            del product.media_ids[source]
            for variant_id in product.variant_ids:
                variant = self.variants[variant_id]
                if variant.image == source:
                    variant.image = None
            deleted.append(file_id)
        return {"deletedFileIds": deleted or None, "userErrors": errors}

    def product_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        """The ``productDelete`` mutation (synchronous): the product and its variants."""
        product_id = str((args.get("input") or {}).get("id") or "")
        product = self.products.get(product_id)
        if product is None:
            return {
                "deletedProductId": None,
                "userErrors": [_user_error(["id"], "Product does not exist", None)],
            }
        for variant_id in list(product.variant_ids):
            self._drop_variant(variant_id)
        del self.products[product_id]
        return {"deletedProductId": product_id, "userErrors": []}

    def set_quantities(self, args: dict[str, Any], key: Any) -> dict[str, Any]:
        """The ``inventorySetQuantities`` mutation under its ``@idempotent`` key."""
        if not key:
            # Assumed wording and code: required from 2026-04.
            raise GraphQLFaultError(
                "The @idempotent directive with a key is required for inventorySetQuantities",
                "BAD_REQUEST",
            )
        data = args.get("input") or {}
        quantities = list(data.get("quantities") or [])
        _check_size(quantities, ["input", "quantities"])
        for index, quantity in enumerate(quantities):
            if "changeFromQuantity" not in quantity:
                # Assumed code; the rule (omitting it is an error) is Shopify's.
                raise GraphQLFaultError(
                    f"input.quantities.{index}.changeFromQuantity must be given "
                    "(pass null to skip the compare check)",
                    "BAD_REQUEST",
                )
        fingerprint = json.dumps(data, sort_keys=True, default=str)
        previous = self.idempotency.get(str(key))
        if previous is not None:
            if previous[0] != fingerprint:
                return {
                    "inventoryAdjustmentGroup": None,
                    "userErrors": [
                        _user_error(
                            ["input"],
                            "The same idempotency key was used with different parameters",
                            "IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
                        )
                    ],
                }
            return previous[1]  # a replay: nothing is applied twice
        result = self._apply_quantities(data, quantities)
        self.idempotency[str(key)] = (fingerprint, result)
        return result

    def _apply_quantities(
        self, data: dict[str, Any], quantities: list[dict[str, Any]]
    ) -> dict[str, Any]:
        errors: list[dict[str, Any]] = []
        if data.get("name") not in ("available", "on_hand"):
            errors.append(
                _user_error(
                    ["input", "name"],
                    "The quantity name must be available or on_hand",
                    "INVALID_NAME",
                )
            )
        if data.get("reason") not in _REASONS:
            errors.append(
                _user_error(
                    ["input", "reason"], "The specified reason is invalid", "INVALID_REASON"
                )
            )
        items = {v.inventory_item_id for v in self.variants.values()}
        pairs: set[tuple[str, str]] = set()
        for index, quantity in enumerate(quantities):
            path = ["input", "quantities", str(index)]
            item, location = str(quantity.get("inventoryItemId")), str(quantity.get("locationId"))
            if item not in items:
                errors.append(
                    _user_error(
                        [*path, "inventoryItemId"],
                        "The specified inventory item could not be found.",
                        "INVALID_INVENTORY_ITEM",
                    )
                )
                continue
            if location not in self.locations:
                errors.append(
                    _user_error(
                        [*path, "locationId"],
                        "The specified location could not be found.",
                        "INVALID_LOCATION",
                    )
                )
                continue
            if (item, location) in pairs:
                errors.append(
                    _user_error(
                        path,
                        "The combination of inventoryItemId and locationId must be unique.",
                        "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR",
                    )
                )
                continue
            pairs.add((item, location))
            if int(quantity.get("quantity", 0)) < 0:
                errors.append(
                    _user_error(
                        [*path, "quantity"],
                        "The quantity can't be negative.",
                        "INVALID_QUANTITY_NEGATIVE",
                    )
                )
                continue
            current = self.levels.get((item, location), 0)
            expected = quantity.get("changeFromQuantity")
            if expected is not None and int(expected) != current:
                errors.append(
                    _user_error(
                        [*path, "changeFromQuantity"],
                        "The specified compare quantity does not match the current quantity.",
                        "CHANGE_FROM_QUANTITY_STALE",
                    )
                )
        if errors:
            return {"inventoryAdjustmentGroup": None, "userErrors": errors}
        for quantity in quantities:
            self.levels[(str(quantity["inventoryItemId"]), str(quantity["locationId"]))] = int(
                quantity["quantity"]
            )
        return {
            "inventoryAdjustmentGroup": {
                "__typename": "InventoryAdjustmentGroup",
                "id": self._gid("InventoryAdjustmentGroup"),
            },
            "userErrors": [],
        }

    def delete_metafields(self, args: dict[str, Any]) -> dict[str, Any]:
        """The ``metafieldsDelete`` mutation: a metafield not there is answered ``null``."""
        identifiers = list(args.get("metafields") or [])
        _check_size(identifiers, ["metafields"])
        deleted: list[dict[str, Any] | None] = []
        for identifier in identifiers:
            variant = self.variants.get(str(identifier.get("ownerId") or ""))
            key = (str(identifier.get("namespace")), str(identifier.get("key")))
            if variant is not None and variant.metafields.pop(key, None) is not None:
                deleted.append({"ownerId": variant.id, "namespace": key[0], "key": key[1]})
            else:
                deleted.append(None)
        return {"deletedMetafields": deleted, "userErrors": []}

    # -- internals ------------------------------------------------------------------------

    def _variant_metafields(
        self, variant: dict[str, Any], path: list[str], code: str
    ) -> list[dict[str, Any]]:
        """The user errors of a variant input's metafields (at most 250 of them)."""
        entries = list(variant.get("metafields") or [])
        _check_size(entries, [*path, "metafields"])
        return self.metafields.check("PRODUCTVARIANT", entries, path, code)

    def _new_variant(
        self,
        product: FakeProduct,
        variant: dict[str, Any],
        value: str,
        price: Decimal,
        *,
        set_quantities: str,
    ) -> FakeVariant:
        item_input = variant.get("inventoryItem") or {}
        created = FakeVariant(
            id=self._gid("ProductVariant"),
            product_id=product.id,
            sku=str(item_input.get("sku") or variant.get("sku") or ""),
            price=price,
            option_value=value,
            inventory_item_id=self._gid("InventoryItem"),
            policy=str(variant.get("inventoryPolicy") or "DENY"),
            tracked=bool(item_input.get("tracked", True)),
            image=(variant.get("mediaSrc") or [None])[0]
            or (variant.get("file") or {}).get("originalSource"),
        )
        self.metafields.apply(created.metafields, variant.get("metafields") or [], "PRODUCTVARIANT")
        self.variants[created.id] = created
        stocked = False
        for quantity in variant.get("inventoryQuantities") or []:
            amount = (
                quantity.get("availableQuantity")
                if set_quantities == "bulk"
                else quantity.get("quantity")
            )
            self.levels[(created.inventory_item_id, str(quantity["locationId"]))] = int(amount or 0)
            stocked = True
        if not stocked:
            self.levels[(created.inventory_item_id, PRIMARY_LOCATION)] = 0
        return created

    def _drop_variant(self, variant_id: str) -> None:
        variant = self.variants.pop(variant_id)
        for location in self.locations:
            self.levels.pop((variant.inventory_item_id, location), None)

    def stocked_level(self, variant: FakeVariant) -> tuple[str, str]:
        """The ``(item, location)`` a sale takes stock from: one in stock, else any."""
        levels = [
            (variant.inventory_item_id, location)
            for location in self.locations
            if (variant.inventory_item_id, location) in self.levels
        ]
        stocked = [k for k in levels if self.levels[k] > 0]
        return (stocked or levels or [(variant.inventory_item_id, PRIMARY_LOCATION)])[0]


# -- module helpers ------------------------------------------------------------


def _check_size(items: Sequence[Any], path: list[str]) -> None:
    if len(items) > MAX_INPUT_ARRAY:
        raise GraphQLFaultError(
            f"The input array size of {len(items)} is greater than the maximum allowed of "
            f"{MAX_INPUT_ARRAY}.",
            "MAX_INPUT_SIZE_EXCEEDED",
            path=path,
        )


def gid_number(gid: str) -> int:
    """The number at the end of a global id (``gid://shopify/Product/12`` → 12)."""
    return int(gid.rsplit("/", 1)[-1])


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "product"


def _price(value: Any) -> Decimal | None:
    if value is None:
        return Decimal("0")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _sku_error(variant: dict[str, Any]) -> str | None:
    sku = (variant.get("inventoryItem") or {}).get("sku") or variant.get("sku") or ""
    if len(str(sku)) > 255:
        return "SKU is too long (maximum is 255 characters)"
    return None


def _option_value(variant: dict[str, Any], option_name: str) -> str | None:
    for value in variant.get("optionValues") or []:
        if value.get("optionName") in (option_name, None) and value.get("name"):
            return str(value["name"])
    return None


def _product_missing() -> dict[str, Any]:
    """The payload a variants mutation answers for an unknown ``productId``."""
    return {
        "product": None,
        "userErrors": [
            _user_error(["productId"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST")
        ],
    }


def _numeric_id(gid: str) -> int:
    """The number at the end of a global id (``gid://shopify/ProductVariant/12`` → 12)."""
    tail = gid.rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else 0
