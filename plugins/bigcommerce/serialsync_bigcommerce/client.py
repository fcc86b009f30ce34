"""The wire: every HTTP call the BigCommerce plugin makes, and nothing else.

Catalog v3 answers ``{data, meta}``; errors are ``{status, title, type, errors}``; the batch
variant endpoint answers 200, 207 (partial success) or 422 with ``batch_errors``. Orders v2
answers bare JSON lists, and an empty page is **204 with no body**. v2 speaks XML unless asked
for JSON, hence the ``Accept`` header on every request.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from serialsync import (
    ConnectorContext,
    HttpClient,
    PermanentRemoteError,
    RetryableRemoteError,
)

from serialsync_bigcommerce.mapping import format_rfc2822
from serialsync_bigcommerce.ratelimit import BigCommerceRateLimiter, retry_signal
from serialsync_bigcommerce.settings import BigCommerceSettings

#: Items per ``PUT /v3/catalog/variants``; the platform answers 413 beyond.
BATCH_LIMIT = 50
#: Variants (SKUs) one product may hold.
VARIANT_LIMIT = 600
#: Values one option may hold (the option values reference); with one "Serial" option, the
#: units one product holds.
OPTION_VALUE_LIMIT = 250


def chunks(items: Sequence[Any], size: int) -> Iterator[list[Any]]:
    """``items`` in lists of at most ``size``."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


@dataclass(frozen=True)
class BatchError:
    """Why one item of a batch was not written: the item's HTTP-like status and the text."""

    status: int  # 0 when no error named the item
    text: str


#: Asks an order's record (Get All Orders, Get an Order) for its lines in its consignments.
LINES_INCLUDED = {"include": "consignments.line_items", "consignment_structure": "object"}


class BatchResult:
    """What ``PUT /v3/catalog/variants`` answered: the variants it wrote, and its errors.

    BigCommerce documents no item index in ``batch_errors``, so an error is matched to the
    item whose variant id or SKU it names anywhere in its body.
    """

    def __init__(self, status: int, data: list[dict[str, Any]], errors: list[dict[str, Any]]):
        self.status = status
        self.data = data
        self.errors = errors
        self._by_id = {int(v["id"]): v for v in data if "id" in v}
        self._by_sku = {str(v.get("sku", "")).casefold(): v for v in data}

    def written(self, *, variant_id: int | None, sku: str) -> dict[str, Any] | None:
        """The written variant: by id for an update, by SKU (any case) for a create."""
        if variant_id is not None:
            return self._by_id.get(variant_id)
        return self._by_sku.get(sku.casefold())

    def error_about(self, *, variant_id: int | None, sku: str, alone: bool) -> BatchError:
        """The error about one unwritten item; ``alone``: it is the only unwritten item."""
        keys = {sku.casefold()}
        if variant_id is not None:
            keys.add(str(variant_id))
        error = next((e for e in self.errors if keys & set(_leaves(e))), None)
        if error is None and alone and len(self.errors) == 1:
            error = self.errors[0]  # one error, one unwritten item: they belong together
        if error is None:
            titles = "; ".join(str(e.get("title") or e) for e in self.errors)
            return BatchError(0, titles or "not written, and no error said why")
        detail = error.get("errors")
        title = str(error.get("title") or "error")
        text = f"{title} {json.dumps(detail, sort_keys=True)}" if detail else title
        try:
            status = int(error.get("status") or 0)
        except (TypeError, ValueError):
            status = 0
        return BatchError(status, text)


@dataclass
class MetafieldsResult:
    """What a metafields batch wrote (``data``) and what it refused (``errors``)."""

    data: list[Any]
    errors: list[dict[str, Any]]


def _leaves(value: Any) -> list[str]:
    """Every scalar in a JSON value, as casefolded text."""
    if isinstance(value, Mapping):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list | tuple):
        return [leaf for v in value for leaf in _leaves(v)]
    return [str(value).casefold()]


class BigCommerceClient:
    """Typed calls over :class:`serialsync.HttpClient`; JSON in, JSON out."""

    def __init__(self, settings: BigCommerceSettings, context: ConnectorContext) -> None:
        self.settings = settings
        self.limiter = BigCommerceRateLimiter(
            clock=context.clock, quota=settings.plan_quota, reserve=settings.rate_limit_reserve
        )
        self.http: HttpClient = context.http_client(
            settings,
            base_url=settings.store_url,
            headers={
                "X-Auth-Token": settings.access_token.get_secret_value(),
                "Accept": "application/json",
            },
            rate_limiter=self.limiter,
            retry_signal=retry_signal,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    # -- helpers --------------------------------------------------------------------------

    def read_json(self, response: httpx.Response) -> Any:
        """The JSON of a 2xx response (``None`` when empty); the typed error otherwise."""
        self.http.raise_for_status(response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            # A truncated body on a 2xx: the call may have worked, so say "try again".
            raise RetryableRemoteError(
                f"{response.request.method} {self.http.redactor.url(str(response.request.url))}"
                f" answered {response.status_code} with a body that is not JSON: "
                f"{self.http.excerpt(response)}",
                connector=self.http.connector,
                status=response.status_code,
            ) from None

    # -- store ----------------------------------------------------------------------------

    def store(self) -> dict[str, Any]:
        """``GET /v2/store``: name, domain and plan; the cheapest authenticated read."""
        data = self.read_json(self.http.get("/v2/store", operation="store"))
        return dict(data or {})

    # -- catalog --------------------------------------------------------------------------

    def product_by_sku(self, sku: str) -> dict[str, Any] | None:
        """The product whose own SKU is ``sku``, with its variants and options, or ``None``."""
        response = self.http.get(
            "/v3/catalog/products",
            params={"sku": sku, "include": "variants,options"},
            operation="product_by_sku",
        )
        found = (self.read_json(response) or {}).get("data") or []
        # The filter is case-insensitive like the SKUs; pick the exact one when several match.
        for record in found:
            if str(record.get("sku", "")).casefold() == sku.casefold():
                return dict(record)
        return None

    def product(self, product_id: int) -> dict[str, Any] | None:
        """One product with its variants and options, or ``None`` when it is gone."""
        response = self.http.get(
            f"/v3/catalog/products/{product_id}",
            params={"include": "variants,options"},
            operation="product",
        )
        if response.status_code == 404:
            return None
        return dict((self.read_json(response) or {}).get("data") or {})

    def create_product(self, body: Mapping[str, Any]) -> httpx.Response:
        """``POST /v3/catalog/products`` (with its variants); the raw response (409 is read)."""
        # Not retried once sent: a repeat after a lost answer would make a second product.
        # The next pass finds the first by SKU instead.
        return self.http.post("/v3/catalog/products", json=body, operation="create_product")

    def update_product(self, product_id: int, body: Mapping[str, Any]) -> httpx.Response:
        """``PUT /v3/catalog/products/{id}`` with ``body``; the raw response (409 is read)."""
        # Setting the same fields again is harmless: safe to resend after a lost answer.
        return self.http.put(
            f"/v3/catalog/products/{product_id}", json=body, operation="update_product"
        )

    def track_by_variant(self, product_id: int) -> None:
        """``PUT /v3/catalog/products/{id}`` setting ``inventory_tracking: "variant"``."""
        response = self.http.put(
            f"/v3/catalog/products/{product_id}",
            json={"inventory_tracking": "variant"},
            operation="track_by_variant",
        )
        self.http.raise_for_status(response)

    def variant_by_sku(self, sku: str) -> dict[str, Any] | None:
        """The variant whose SKU is ``sku`` (case-insensitive), on any product."""
        response = self.http.get(
            "/v3/catalog/variants", params={"sku": sku}, operation="variant_by_sku"
        )
        for record in (self.read_json(response) or {}).get("data") or []:
            if str(record.get("sku", "")).casefold() == sku.casefold():
                return dict(record)
        return None

    def create_option(self, product_id: int, name: str, labels: list[str]) -> dict[str, Any]:
        """``POST …/options``: the serial option with its first values."""
        body = {
            "product_id": product_id,
            "display_name": name,
            "type": "dropdown",
            "option_values": [{"label": label, "sort_order": i} for i, label in enumerate(labels)],
        }
        response = self.http.post(
            f"/v3/catalog/products/{product_id}/options", json=body, operation="create_option"
        )
        return dict((self.read_json(response) or {}).get("data") or {})

    def add_option_values(
        self,
        product_id: int,
        option_id: int,
        name: str,
        existing: Sequence[Mapping[str, Any]],
        labels: list[str],
    ) -> dict[str, Any]:
        """``PUT …/options/{id}`` with every existing value plus new ones: one call for all.

        *Unsure*: whether an option PUT merges or replaces ``option_values`` is not documented;
        sending every existing value (by id) with the new ones is right either way.
        """
        values: list[dict[str, Any]] = [{"id": v["id"], "label": v.get("label")} for v in existing]
        start = len(values)
        values += [{"label": label, "sort_order": start + i} for i, label in enumerate(labels)]
        body = {"product_id": product_id, "display_name": name, "option_values": values}
        response = self.http.put(
            f"/v3/catalog/products/{product_id}/options/{option_id}",
            json=body,
            operation="add_option_values",
        )
        return dict((self.read_json(response) or {}).get("data") or {})

    def batch_variants(self, items: list[dict[str, Any]]) -> BatchResult:
        """``PUT /v3/catalog/variants`` with at most :data:`BATCH_LIMIT` items.

        200: all written; 207: some written (``data``) and some refused; 422: none written,
        ``batch_errors`` says why. Any other error status raises.
        """
        if len(items) > BATCH_LIMIT:
            raise ValueError(f"a variant batch holds at most {BATCH_LIMIT} items")
        response = self.http.put("/v3/catalog/variants", json=items, operation="batch_variants")
        if response.status_code in (207, 422):
            try:
                body = response.json()
            except ValueError:
                body = {}
            errors = list(body.get("batch_errors") or body.get("errors") or [])
            if response.status_code == 422 and not errors:
                raise self.http.error_for(response)
            return BatchResult(response.status_code, list(body.get("data") or []), errors)
        body = self.read_json(response) or {}
        return BatchResult(response.status_code, list(body.get("data") or []), [])

    def metafields_batch(self, method: str, items: list[Any]) -> MetafieldsResult:
        """``POST`` (create), ``PUT`` (update by id) or ``DELETE`` (ids) on
        ``/v3/catalog/variants/metafields``: 200 all written, 422 some or none (``errors``
        says which). Any other error status raises."""
        response = self.http.request(
            method,
            "/v3/catalog/variants/metafields",
            json=items,
            # A create resent after a lost answer is refused as a duplicate, never doubled.
            idempotent=True,
            operation=f"variant_metafields_{method.lower()}",
        )
        if response.status_code == 422:
            try:
                body = response.json()
            except ValueError:
                body = {}
            if "data" not in body:
                raise self.http.error_for(response)
            return MetafieldsResult(list(body.get("data") or []), list(body.get("errors") or []))
        body = self.read_json(response) or {}
        return MetafieldsResult(list(body.get("data") or []), [])

    def variant_metafields(self, product_id: int, variant_id: int, namespace: str) -> list[Any]:
        """One variant's metafields in ``namespace`` (``GET …/variants/{id}/metafields``)."""
        response = self.http.get(
            f"/v3/catalog/products/{product_id}/variants/{variant_id}/metafields",
            params={"namespace": namespace, "limit": 250},
            operation="variant_metafields",
        )
        return list((self.read_json(response) or {}).get("data") or [])

    def delete_variant(self, product_id: int, variant_id: int) -> bool:
        """``DELETE …/variants/{id}``; ``False`` when it was already gone."""
        response = self.http.delete(
            f"/v3/catalog/products/{product_id}/variants/{variant_id}",
            operation="delete_variant",
        )
        if response.status_code == 404:
            return False
        self.http.raise_for_status(response)
        return True

    def delete_option_value(self, product_id: int, option_id: int, value_id: int) -> bool:
        """``DELETE …/options/{id}/values/{id}``; ``False`` when it was already gone."""
        response = self.http.delete(
            f"/v3/catalog/products/{product_id}/options/{option_id}/values/{value_id}",
            operation="delete_option_value",
        )
        if response.status_code == 404:
            return False
        self.http.raise_for_status(response)
        return True

    def product_image_ids(self, product_id: int) -> list[int]:
        """``GET …/products/{id}/images``: the ids of the product's own images."""
        response = self.http.get(
            f"/v3/catalog/products/{product_id}/images", operation="product_images"
        )
        self.http.raise_for_status(response)
        body = self.read_json(response) or {}
        return [int(i["id"]) for i in body.get("data") or []]

    def add_product_image(self, product_id: int, url: str, *, thumbnail: bool) -> None:
        """``POST …/products/{id}/images {image_url, is_thumbnail}`` (BigCommerce fetches it)."""
        response = self.http.post(
            f"/v3/catalog/products/{product_id}/images",
            json={"image_url": url, "is_thumbnail": thumbnail},
            operation="add_product_image",
        )
        self.http.raise_for_status(response)

    def delete_product_image(self, product_id: int, image_id: int) -> bool:
        """``DELETE …/products/{id}/images/{id}``; ``False`` when it was already gone."""
        response = self.http.delete(
            f"/v3/catalog/products/{product_id}/images/{image_id}",
            operation="delete_product_image",
        )
        if response.status_code == 404:
            return False
        self.http.raise_for_status(response)
        return True

    def delete_product(self, product_id: int) -> bool:
        """``DELETE /v3/catalog/products/{id}`` (its variants and options go with it);
        ``False`` when it was already gone."""
        response = self.http.delete(
            f"/v3/catalog/products/{product_id}", operation="delete_product"
        )
        if response.status_code == 404:
            return False
        self.http.raise_for_status(response)
        return True

    # -- orders ---------------------------------------------------------------------------

    def orders(self, since: datetime | None, page: int, limit: int) -> list[dict[str, Any]]:
        """``GET /v2/orders`` modified at or after ``since``, oldest first; ``[]`` on 204.

        Each order comes with its lines, in its consignments (``include=consignments.line_items``
        with ``consignment_structure=object``, as the Orders v2 reference documents for Get All
        Orders): a page of 250 orders is one request, not 251 (see
        :func:`~serialsync_bigcommerce.orders.inline_lines`)."""
        params: dict[str, Any] = {
            "sort": "date_modified:asc",
            "page": page,
            "limit": limit,
            **LINES_INCLUDED,
        }
        if since is not None:
            params["min_date_modified"] = format_rfc2822(since)
        data = self.read_json(self.http.get("/v2/orders", params=params, operation="orders"))
        if data is None:
            return []
        if not isinstance(data, list):
            raise PermanentRemoteError(
                "GET /v2/orders did not answer a list", connector=self.http.connector
            )
        return [dict(record) for record in data]

    def order(self, order_id: str) -> dict[str, Any] | None:
        """``GET /v2/orders/{id}`` with its lines (:data:`LINES_INCLUDED`); ``None`` when the
        store has no such order (404)."""
        if not order_id.isdigit():
            return None  # v2 order ids are numbers; anything else names no order
        response = self.http.get(f"/v2/orders/{order_id}", params=LINES_INCLUDED, operation="order")
        if response.status_code == 404:
            return None
        data = self.read_json(response)
        if not isinstance(data, dict):
            raise PermanentRemoteError(
                f"GET /v2/orders/{order_id} did not answer an object",
                connector=self.http.connector,
            )
        return dict(data)

    # -- webhooks -------------------------------------------------------------------------

    def hooks(self) -> list[dict[str, Any]]:
        """``GET /v3/hooks``: every webhook of this app on the store, page by page."""
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            response = self.http.get(
                "/v3/hooks", params={"page": page, "limit": 250}, operation="hooks"
            )
            body = self.read_json(response) or {}
            found.extend(h for h in body.get("data") or [] if isinstance(h, dict))
            pages = ((body.get("meta") or {}).get("pagination") or {}).get("total_pages") or 1
            if page >= int(pages):
                return found
            page += 1

    def create_hook(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /v3/hooks``; not resent once sent (a resend could make a second webhook)."""
        response = self.http.request(
            "POST", "/v3/hooks", json=dict(body), idempotent=False, operation="hook.create"
        )
        return dict((self.read_json(response) or {}).get("data") or {})

    def update_hook(self, hook_id: int, body: Mapping[str, Any]) -> dict[str, Any]:
        """``PUT /v3/hooks/{id}`` (the same fields twice is harmless)."""
        response = self.http.request(
            "PUT", f"/v3/hooks/{hook_id}", json=dict(body), idempotent=True, operation="hook.put"
        )
        return dict((self.read_json(response) or {}).get("data") or {})

    def delete_hook(self, hook_id: int) -> None:
        """``DELETE /v3/hooks/{id}``; a webhook already gone is no error."""
        response = self.http.request(
            "DELETE", f"/v3/hooks/{hook_id}", idempotent=True, operation="hook.delete"
        )
        if response.status_code != 404:
            self.read_json(response)

    def order_lines(self, order_id: int | str) -> list[dict[str, Any]]:
        """Every ``GET /v2/orders/{id}/products`` line, all pages."""
        lines: list[dict[str, Any]] = []
        page = 1
        while True:
            response = self.http.get(
                f"/v2/orders/{order_id}/products",
                params={"page": page, "limit": 250},
                operation="order_lines",
            )
            data = self.read_json(response)
            if not data:
                return lines
            lines += [dict(line) for line in data]
            if len(data) < 250:
                return lines
            page += 1
