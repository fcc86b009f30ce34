"""The wire: every call the plugin makes to WooCommerce's REST API ``wp-json/wc/v3``.

Requests go through the core :class:`~serialsync.HttpClient` (retries on 429/5xx, redacted
logs). WooCommerce has no rate limit of its own, so there is no pacer: hosts that shed load
answer 429 or 503 and the core retry policy handles them.

Errors come back as ``{code, message, data: {status, ...}}``. A refused call raises the core's
typed :class:`~serialsync.RemoteError` with ``code`` set to WooCommerce's code, so callers can
tell ``product_invalid_sku`` from the rest.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from serialsync import (
    AdaptiveLimit,
    ConnectorContext,
    HttpClient,
    RemoteError,
    RetryableRemoteError,
    RetryHint,
)

from serialsync_woocommerce.auth import build_auth
from serialsync_woocommerce.settings import WooCommerceSettings

Json = dict[str, Any]

#: WooCommerce answers at most 100 records per page.
PAGE_SIZE = 100

#: The code WooCommerce gives an id that names no product or variation.
INVALID_PRODUCT_ID = "woocommerce_rest_product_invalid_id"
NO_ROUTE = "rest_no_route"
TERM_EXISTS = "term_exists"
INVALID_VARIATION_ID = "woocommerce_rest_product_variation_invalid_id"


def error_parts(body: Any) -> tuple[str, str, Json]:
    """``(code, message, data)`` of a WooCommerce error object (tolerant of odd shapes)."""
    if not isinstance(body, dict):
        return "unknown_error", str(body)[:200], {}
    data = body.get("data")
    return (
        str(body.get("code") or "unknown_error"),
        str(body.get("message") or ""),
        data if isinstance(data, dict) else {},
    )


def retry_truncated_reads(response: httpx.Response) -> RetryHint | None:
    """Retry a read answered 2xx with a body that is not JSON (a proxy cut it short).

    Only reads: a write answered so may have been applied, and is left to the caller.
    """
    if response.request.method != "GET" or not 200 <= response.status_code < 300:
        return None
    try:
        json.loads(response.content or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return RetryHint("WooCommerce answered a read with a body that is not JSON")
    return None


class WooClient:
    """Typed calls to one store's REST API."""

    def __init__(self, settings: WooCommerceSettings, context: ConnectorContext) -> None:
        #: Requests side by side (withdrawals of many products) follow the host's answers.
        self.limit = AdaptiveLimit(settings.withdraw_concurrency, clock=context.clock)
        self.http: HttpClient = context.http_client(
            settings,
            base_url=settings.api_root,
            headers={"Accept": "application/json"},
            auth=build_auth(settings.auth_mode, settings.consumer_key, settings.consumer_secret),
            retry_signal=retry_truncated_reads,
            rate_limiter=self.limit,
        )
        #: Brand ids by lower-case name, and whether the store has no brands at all.
        self._brands: dict[str, int] = {}
        self._no_brands = False

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    # -- plumbing -----------------------------------------------------------------------------

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            # A truncated body (a proxy cut it): the call may have been applied, so the caller
            # must treat it as unknown and retry later, relying on SKU adoption.
            raise RetryableRemoteError(
                f"{response.request.method} {self.http.redactor.url(str(response.request.url))} "
                f"answered {response.status_code} with a body that is not JSON: "
                f"{self.http.excerpt(response)}",
                connector=self.http.connector,
                status=response.status_code,
            ) from None

    def _checked(self, response: httpx.Response) -> Any:
        """The JSON body of a 2xx response; the typed error (with Woo's code) otherwise."""
        if response.status_code < 400:
            return self._json(response)
        error = self.http.error_for(response)
        with contextlib.suppress(json.JSONDecodeError, UnicodeDecodeError):
            error.code = error_parts(response.json())[0]
        raise error

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        operation: str,
    ) -> Any:
        # Every write this plugin sends is safe to repeat *as the plugin reads the answer*: a
        # repeated create is refused with product_invalid_sku, which the publisher adopts.
        response = self.http.request(
            method, path, params=params, json=body, idempotent=True, operation=operation
        )
        return self._checked(response)

    # -- brands -------------------------------------------------------------------------------

    def brand_id(self, name: str) -> int | None:
        """The id of the product brand named ``name`` (case-insensitive), made when the store
        has none; ``None`` when the store has no brands (WooCommerce before 9.6 without the
        Brands extension: ``rest_no_route``). Remembered for the connector's life."""
        key = name.strip().casefold()
        if self._no_brands:
            return None
        if key in self._brands:
            return self._brands[key]
        try:
            match = self._find_brand(name) or self._create_brand(name)
        except RemoteError as exc:
            if exc.status == 404 and exc.code == NO_ROUTE:
                self._no_brands = True  # no brands on this store: no brand is carried
                return None
            raise
        self._brands[key] = int(match["id"])
        return self._brands[key]

    def _find_brand(self, name: str) -> Json | None:
        found = self._call(
            "GET",
            "products/brands",
            params={"search": name.strip(), "per_page": 100},
            operation="brand.find",
        )
        key = name.strip().casefold()
        return next(
            (b for b in found or [] if str(b.get("name", "")).strip().casefold() == key), None
        )

    def _create_brand(self, name: str) -> Json:
        try:
            created = self._call(
                "POST", "products/brands", body={"name": name.strip()}, operation="brand.create"
            )
        except RemoteError as exc:
            # Made by a first attempt whose answer was lost: read it back.
            if exc.code == TERM_EXISTS:
                found = self._find_brand(name)
                if found is not None:
                    return found
            raise
        return created if isinstance(created, dict) else {}

    # -- products -----------------------------------------------------------------------------

    def get_product(self, product_id: str) -> Json | None:
        """The product (or variation) with this id; ``None`` when there is none."""
        try:
            found = self._call("GET", f"products/{product_id}", operation="product.get")
        except RemoteError as exc:
            if exc.status == 404 or exc.code == INVALID_PRODUCT_ID:
                return None
            raise
        return found if isinstance(found, dict) else None

    def find_product_by_sku(self, sku: str) -> Json | None:
        """The product whose SKU is exactly ``sku``, if any.

        WooCommerce reads a comma in ``?sku=`` as a list of SKUs (``A,B`` asks for ``A`` and
        ``B``), so a SKU holding one is found by listing the products (rare: a POS SKU with a
        comma).
        """
        if "," in sku:
            return next((p for p in self._list_products() if p.get("sku") == sku), None)
        found = self._call(
            "GET", "products", params={"sku": sku, "per_page": 1}, operation="product.find"
        )
        for product in found if isinstance(found, list) else []:
            if isinstance(product, dict) and product.get("sku") == sku:
                return product
        return None

    def _list_products(self) -> list[Json]:
        out: list[Json] = []
        page = 1
        while True:
            response = self.http.get(
                "products",
                params={"per_page": PAGE_SIZE, "page": page},
                operation="product.list",
            )
            batch = self._checked(response)
            out.extend(p for p in batch if isinstance(p, dict))
            if page >= _total_pages(response) or not batch:
                return out
            page += 1

    def products_page(self, page: int) -> tuple[list[Json], int]:
        """One page of every product (``PAGE_SIZE`` a page), and the number of pages."""
        response = self.http.get(
            "products", params={"per_page": PAGE_SIZE, "page": page}, operation="product.page"
        )
        batch = self._checked(response)
        return [p for p in batch or [] if isinstance(p, dict)], _total_pages(response)

    def create_product(self, payload: Json) -> Json:
        """Create a product; raises with ``code="product_invalid_sku"`` if the SKU is taken."""
        created = self._call("POST", "products", body=payload, operation="product.create")
        return created if isinstance(created, dict) else {}

    def update_product(self, product_id: str, payload: Json) -> Json:
        """Update the given fields of a product."""
        updated = self._call(
            "PUT", f"products/{product_id}", body=payload, operation="product.update"
        )
        return updated if isinstance(updated, dict) else {}

    # -- variations ---------------------------------------------------------------------------

    def find_variation_by_sku(self, product_id: str, sku: str) -> Json | None:
        """The variation of ``product_id`` whose SKU is exactly ``sku``, if any."""
        found = self._call(
            "GET",
            f"products/{product_id}/variations",
            params={"sku": sku, "per_page": 1},
            operation="variation.find",
        )
        for variation in found if isinstance(found, list) else []:
            if isinstance(variation, dict) and variation.get("sku") == sku:
                return variation
        return None

    def list_variations(self, product_id: str) -> list[Json]:
        """Every variation of a product, page by page."""
        out: list[Json] = []
        page = 1
        while True:
            response = self.http.get(
                f"products/{product_id}/variations",
                params={"per_page": PAGE_SIZE, "page": page},
                operation="variation.list",
            )
            batch = self._checked(response)
            out.extend(v for v in batch if isinstance(v, dict))
            if page >= _total_pages(response) or not batch:
                return out
            page += 1

    def batch_variations(
        self,
        product_id: str,
        *,
        create: Sequence[Json] = (),
        update: Sequence[Json] = (),
        delete: Sequence[int] = (),
    ) -> Json:
        """One ``variations/batch`` call; the answer has ``create``/``update``/``delete`` lists.

        The batch answers 200 even when items fail: each item of the answer is either the
        variation or ``{id, error: {code, message, data}}``. The caller reads every item.
        """
        body: Json = {}
        if create:
            body["create"] = list(create)
        if update:
            body["update"] = list(update)
        if delete:
            body["delete"] = list(delete)
        answer = self._call(
            "POST",
            f"products/{product_id}/variations/batch",
            body=body,
            operation="variation.batch",
        )
        return answer if isinstance(answer, dict) else {}

    # -- orders and the rest ------------------------------------------------------------------

    def list_orders(self, *, modified_after: str | None, page: int) -> tuple[list[Any], int]:
        """One page of orders by modification time, oldest first; with the total page count.

        Rows come back as sent, a malformed one included: the mapping hands it to the
        quarantine rather than this dropping it unseen.
        """
        params: dict[str, Any] = {
            "dates_are_gmt": "true",
            "orderby": "modified",
            "order": "asc",
            "per_page": PAGE_SIZE,
            "page": page,
        }
        if modified_after is not None:
            params["modified_after"] = modified_after
        response = self.http.get("orders", params=params, operation="orders.list")
        orders = self._checked(response)
        rows = list(orders) if isinstance(orders, list) else []
        return rows, _total_pages(response)

    def get_order(self, order_id: str) -> Any:
        """One order as WooCommerce answers it (a malformed one included, for the mapping to
        read or hand to the quarantine); ``None`` when the store has no such order."""
        if not order_id.isdigit():
            return None  # WooCommerce's order ids are numbers; anything else names none
        try:
            return self._call("GET", f"orders/{order_id}", operation="order.get")
        except RemoteError as exc:
            if exc.status == 404:
                return None
            raise

    # -- webhooks -----------------------------------------------------------------------------

    def list_webhooks(self) -> list[Json]:
        """Every webhook of the store, page by page."""
        found: list[Json] = []
        page = 1
        while True:
            response = self.http.get(
                "webhooks",
                params={"per_page": PAGE_SIZE, "page": page},
                operation="webhooks.list",
            )
            rows = self._checked(response)
            if isinstance(rows, list):
                found.extend(r for r in rows if isinstance(r, dict))
            if page >= _total_pages(response):
                return found
            page += 1

    def create_webhook(self, payload: Json) -> Json:
        """``POST webhooks``; not resent once sent (a resend could make a second webhook)."""
        response = self.http.request(
            "POST", "webhooks", json=payload, idempotent=False, operation="webhook.create"
        )
        created = self._checked(response)
        return created if isinstance(created, dict) else {}

    def update_webhook(self, webhook_id: int, payload: Json) -> Json:
        """``PUT webhooks/{id}`` (setting the same fields twice is harmless)."""
        answer = self._call("PUT", f"webhooks/{webhook_id}", body=payload, operation="webhook.put")
        return answer if isinstance(answer, dict) else {}

    def delete_webhook(self, webhook_id: int) -> None:
        """``DELETE webhooks/{id}?force=true`` (webhooks cannot be trashed); gone is no error."""
        try:
            self._call(
                "DELETE",
                f"webhooks/{webhook_id}",
                params={"force": "true"},
                operation="webhook.delete",
            )
        except RemoteError as exc:
            if exc.status != 404:
                raise

    def count_products(self) -> int | None:
        """The store's product count (one cheap authenticated read)."""
        response = self.http.get(
            "products", params={"per_page": 1, "_fields": "id"}, operation="check"
        )
        self._checked(response)
        total = response.headers.get("x-wp-total")
        return int(total) if total and total.isdigit() else None


def _total_pages(response: httpx.Response) -> int:
    value = response.headers.get("x-wp-totalpages", "")
    return int(value) if value.isdigit() else 1
