"""The wire: every request the plugin makes to the Shopify Admin GraphQL API.

All requests are ``POST /admin/api/{version}/graphql.json`` through the core
:class:`~serialsync.HttpClient`, paced by :class:`~serialsync_shopify.ratelimit.CostBucketLimiter`
and retried on ``THROTTLED``. Queries are sent ``idempotent=True`` (a read is safe to repeat);
mutations are not, except ``inventorySetQuantities``, whose ``@idempotent`` key makes a repeat
harmless. Top-level ``errors`` become typed exceptions here; ``userErrors`` are returned to the
caller, which maps them to per-unit outcomes.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from serialsync import (
    AuthenticationError,
    ConnectorContext,
    PermanentRemoteError,
    RetryableRemoteError,
)

from serialsync_shopify import documents
from serialsync_shopify.ratelimit import (
    CostBucketLimiter,
    error_codes,
    response_body,
    throttle_signal,
)
from serialsync_shopify.settings import ShopifySettings

#: Shopify's single-query cost limit.
MAX_QUERY_COST = 1000


class MaxCostExceededError(PermanentRemoteError):
    """A query asked for more than the single-query limit; resend it smaller."""

    def __init__(self, message: str, *, cost: float | None, **kwargs: Any) -> None:
        super().__init__(message, code="MAX_COST_EXCEEDED", **kwargs)
        self.cost = cost


class ShopifyClient:
    """One store's GraphQL endpoint. ``stats`` counts requests by operation name."""

    def __init__(self, settings: ShopifySettings, context: ConnectorContext) -> None:
        self.settings = settings
        self.limiter = CostBucketLimiter(context.clock)
        self.http = context.http_client(
            settings,
            base_url=settings.root_url,
            headers={
                "X-Shopify-Access-Token": settings.access_token.get_secret_value(),
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
            rate_limiter=self.limiter,
            retry_signal=throttle_signal,
        )
        self._ratio: dict[str, float] = {}
        #: Requests sent, by operation name (attempts, retries included, are in ``http.stats``).
        self.calls: dict[str, int] = {}

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def expected_cost(self, operation: str, variables: Mapping[str, Any]) -> float:
        """The cost the next ``operation`` request is expected to be charged."""
        estimate = documents.estimated_cost(operation, variables)
        return estimate * self._ratio.get(operation, 1.0)

    # -- the one request --------------------------------------------------------------------

    def execute(
        self,
        operation: str,
        variables: Mapping[str, Any],
        *,
        idempotent: bool | None = None,
    ) -> dict[str, Any]:
        """Send the document named ``operation``; return its ``data``.

        :raises AuthenticationError: the token was refused.
        :raises MaxCostExceededError: the query costs more than one query may.
        :raises RemoteError: any other top-level error, a malformed body, or retries exhausted.
        """
        document = documents.DOCUMENTS[operation]
        is_query = document.lstrip().startswith("query")
        self.limiter.expect(self.expected_cost(operation, variables))
        self.calls[operation] = self.calls.get(operation, 0) + 1
        response = self.http.post(
            self.settings.graphql_path,
            json={"query": document, "variables": dict(variables), "operationName": operation},
            idempotent=is_query if idempotent is None else idempotent,
            operation=operation,
            # A body cut short is resent when the call is safe to repeat (queries).
            expect_json=True,
        )
        if response.status_code in (401, 403):
            raise AuthenticationError(
                f"Shopify refused the access token for {self.settings.shop} "
                f"(HTTP {response.status_code})",
                connector=self.http.connector,
                status=response.status_code,
            )
        self.http.raise_for_status(response)
        body = response_body(response)
        if body is None:
            raise RetryableRemoteError(
                f"{operation}: Shopify answered a body that is not JSON: "
                f"{self.http.excerpt(response)}",
                connector=self.http.connector,
                status=response.status_code,
            )
        cost = ((body.get("extensions") or {}).get("cost") or {}).get("requestedQueryCost")
        estimate = documents.estimated_cost(operation, variables)
        if isinstance(cost, int | float) and cost > 0 and estimate > 0:
            # Learn how far the platform's arithmetic is from ours, per operation.
            self._ratio[operation] = float(cost) / estimate
        self._raise_top_level_errors(operation, body)
        data = body.get("data")
        if not isinstance(data, dict):
            raise RetryableRemoteError(
                f"{operation}: Shopify answered without data", connector=self.http.connector
            )
        return data

    def _raise_top_level_errors(self, operation: str, body: dict[str, Any]) -> None:
        errors = body.get("errors")
        if not errors:
            return
        messages = "; ".join(
            str(e.get("message", e)) if isinstance(e, dict) else str(e)
            for e in (errors if isinstance(errors, list) else [errors])
        )
        codes = error_codes(body)
        if "MAX_COST_EXCEEDED" in codes:
            asked = None
            for error in errors:
                if isinstance(error, dict):
                    asked = (error.get("extensions") or {}).get("cost", asked)
            raise MaxCostExceededError(
                f"{operation}: {messages}",
                cost=float(asked) if isinstance(asked, int | float) else None,
                connector=self.http.connector,
            )
        if "THROTTLED" in codes:
            # Only reached when the HTTP client's retries ran out on a throttle.
            raise RetryableRemoteError(
                f"{operation}: still throttled: {messages}",
                connector=self.http.connector,
                code="THROTTLED",
            )
        if "ACCESS_DENIED" in codes:
            raise AuthenticationError(
                f"{operation}: {messages}", connector=self.http.connector, code="ACCESS_DENIED"
            )
        retryable = any(code in ("INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE") for code in codes)
        error_type = RetryableRemoteError if retryable else PermanentRemoteError
        raise error_type(
            f"{operation}: {messages}",
            connector=self.http.connector,
            code=codes[0] if codes else None,
        )

    # -- reads ------------------------------------------------------------------------------

    def shop_context(self, location_id: str | None) -> dict[str, Any]:
        """The shop, its variant limit, and the location (the primary one when ``None``)."""
        return self.execute("ShopContext", {"locationId": location_id})

    def product_lookup(self, handle: str, variant_ids: list[str]) -> dict[str, Any]:
        """The product with ``handle`` (or ``None``), and the variants with these ids."""
        return self.execute(
            "ProductLookup", {"identifier": {"handle": handle}, "variantIds": variant_ids}
        )

    def variants_by_id(self, ids: list[str]) -> list[dict[str, Any] | None]:
        """Variants by id; ``None`` (or an empty object) for an id that is gone."""
        nodes = self.execute("VariantsById", {"ids": ids}).get("nodes") or []
        return list(nodes)

    def variants_page(self, product_id: str, first: int, after: str | None) -> dict[str, Any]:
        """One page of a product's variants (``product`` is ``None`` when it is gone)."""
        return self.execute(
            "ProductVariantsPage", {"id": product_id, "first": first, "after": after}
        )

    def listings_page(self, first: int, after: str | None) -> dict[str, Any]:
        """One page of every variant of the shop, by id (``productVariants``)."""
        data = self.execute("ListingsPage", {"first": first, "after": after})
        return dict(data.get("productVariants") or {})

    def variants_count(self, limit: int) -> int:
        """How many variants the shop holds, counted up to ``limit``."""
        data = self.execute("ListingsCount", {"limit": limit})
        return int((data.get("productVariantsCount") or {}).get("count") or 0)

    def bulk_run_query(self, query: str) -> dict[str, Any]:
        """``bulkOperationRunQuery`` payload (``bulkOperation`` and ``userErrors``)."""
        # Not resent on a lost answer: a second operation could be started; the caller reads
        # the refusal (one in progress) instead.
        data = self.execute("BulkListingsRun", {"query": query}, idempotent=False)
        return dict(data.get("bulkOperationRunQuery") or {})

    def bulk_operation(self, operation_id: str) -> dict[str, Any] | None:
        """One bulk operation by id (``None`` when Shopify has none)."""
        found = self.execute("BulkOperationPoll", {"id": operation_id}).get("bulkOperation")
        return dict(found) if isinstance(found, dict) else None

    def orders_page(
        self, first: int, after: str | None, query: str | None, lines: int
    ) -> dict[str, Any]:
        """One page of orders sorted by update time."""
        return self.execute(
            "OrdersPage",
            {
                "first": first,
                "after": after,
                "query": query,
                "lines": lines,
                "withEmail": self.settings.customer_email,
            },
        )

    def order_by_id(self, order_id: str, lines: int) -> dict[str, Any]:
        """One order by id (``{"order": null}`` when the store has none)."""
        return self.execute(
            "OrderById",
            {"id": order_id, "lines": lines, "withEmail": self.settings.customer_email},
        )

    def webhook_subscriptions(
        self, first: int, after: str | None, uri: str | None, topics: list[str] | None
    ) -> dict[str, Any]:
        """One page of the app's webhook subscriptions (for ``uri`` and ``topics`` if given)."""
        data = self.execute(
            "WebhookSubscriptions",
            {"first": first, "after": after, "uri": uri, "topics": topics},
        )
        return dict(data.get("webhookSubscriptions") or {})

    def webhook_subscription_create(self, topic: str, uri: str) -> dict[str, Any]:
        """``webhookSubscriptionCreate`` payload (JSON deliveries to ``uri``)."""
        data = self.execute(
            "WebhookSubscriptionCreate",
            {"topic": topic, "webhookSubscription": {"uri": uri, "format": "JSON"}},
        )
        return dict(data.get("webhookSubscriptionCreate") or {})

    def webhook_subscription_delete(self, subscription_id: str) -> dict[str, Any]:
        """``webhookSubscriptionDelete`` payload (deleting twice is harmless: not found)."""
        data = self.execute("WebhookSubscriptionDelete", {"id": subscription_id}, idempotent=True)
        return dict(data.get("webhookSubscriptionDelete") or {})

    def order_line_items(self, order_id: str, first: int, after: str | None) -> dict[str, Any]:
        """The next page of one order's line items."""
        return self.execute("OrderLineItems", {"id": order_id, "first": first, "after": after})

    # -- writes -----------------------------------------------------------------------------

    def product_set(self, product_input: dict[str, Any], product_media: int = 0) -> dict[str, Any]:
        """Create a new product with its first variants (``productSet`` payload); its answer
        lists the ids of the first ``product_media`` media (the product's own photos)."""
        data = self.execute(
            "ProductCreateWithVariants",
            {
                "input": product_input,
                "productMedia": product_media,
                "withMedia": product_media > 0,
            },
        )
        return dict(data.get("productSet") or {})

    def variants_create(
        self, product_id: str, variants: list[dict[str, Any]], media: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """``productVariantsBulkCreate`` payload."""
        data = self.execute(
            "VariantsCreate",
            {"productId": product_id, "variants": variants, "media": media or None},
        )
        return dict(data.get("productVariantsBulkCreate") or {})

    def variants_update(
        self,
        product_id: str,
        variants: list[dict[str, Any]],
        media: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """``productVariantsBulkUpdate`` payload (partial updates allowed); ``media`` adds the
        photos the variants' ``mediaSrc`` name to the product."""
        # Setting the same fields twice is harmless, so a resend after a lost answer is safe
        # (a photo resent is added twice at worst, which a lost answer cannot tell apart).
        data = self.execute(
            "VariantsUpdate",
            {"productId": product_id, "variants": variants, "media": media or None},
            idempotent=True,
        )
        return dict(data.get("productVariantsBulkUpdate") or {})

    def metafields_delete(self, identifiers: list[dict[str, str]]) -> dict[str, Any]:
        """``metafieldsDelete`` payload for ``{ownerId, namespace, key}`` identifiers."""
        # Deleting twice is harmless: a metafield already gone is simply not listed.
        data = self.execute("UnitMetafieldsDelete", {"metafields": identifiers}, idempotent=True)
        return dict(data.get("metafieldsDelete") or {})

    def variant_media(self, ids: list[str]) -> dict[str, list[str]]:
        """The media ids each variant shows, by variant id (a variant that is gone has none)."""
        nodes = self.execute("VariantMedia", {"ids": ids}).get("nodes") or []
        return {
            str(node["id"]): [str(m["id"]) for m in (node.get("media") or {}).get("nodes") or []]
            for node in nodes
            if node and node.get("id")
        }

    def detach_media(self, product_id: str, pairs: list[dict[str, Any]]) -> dict[str, Any]:
        """``productVariantDetachMedia`` payload for ``{variantId, mediaIds}`` pairs."""
        # Sent again after a lost answer it is refused (the media is no longer attached),
        # which the next pass reads as nothing left to detach.
        data = self.execute(
            "VariantDetachMedia", {"productId": product_id, "variantMedia": pairs}, idempotent=True
        )
        return dict(data.get("productVariantDetachMedia") or {})

    def product_update(self, product_input: dict[str, Any]) -> dict[str, Any]:
        """``productUpdate`` payload (the product's own fields; ``id`` names it)."""
        # Setting the same fields twice is harmless, so a resend after a lost answer is safe.
        data = self.execute("ProductUpdate", {"product": product_input}, idempotent=True)
        return dict(data.get("productUpdate") or {})

    def product_update_media(
        self, product_input: dict[str, Any], media: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """``productUpdate`` payload adding ``media`` (``CreateMediaInput``) to the product;
        its ``product.media`` lists the ids of the media added, in order."""
        # Not resent after a lost answer: each send adds the photos once more.
        data = self.execute(
            "ProductUpdateMedia",
            {"product": product_input, "media": media, "added": len(media)},
            idempotent=False,
        )
        return dict(data.get("productUpdate") or {})

    def product_media_replace(
        self, file_ids: list[str], product_input: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(fileDelete payload, productUpdate payload)``: files deleted and the product's
        fields set, in one request."""
        # Resent after a lost answer, the deletes are refused as FILE_DOES_NOT_EXIST (read as
        # done) and the fields are set again: safe.
        data = self.execute(
            "ProductMediaReplace",
            {"fileIds": file_ids, "product": product_input},
            idempotent=True,
        )
        return dict(data.get("fileDelete") or {}), dict(data.get("productUpdate") or {})

    def media_delete(self, file_ids: list[str]) -> dict[str, Any]:
        """``fileDelete`` payload (resent after a lost answer: FILE_DOES_NOT_EXIST, done)."""
        data = self.execute("MediaDelete", {"fileIds": file_ids}, idempotent=True)
        return dict(data.get("fileDelete") or {})

    def variants_by_sku(self, sku: str, first: int = 10) -> list[dict[str, Any]]:
        """Variants whose SKU matches ``sku`` in Shopify's search (exact ones: the caller's
        to pick), in any product."""
        quoted = sku.replace("\\", "\\\\").replace('"', '\\"')
        data = self.execute("VariantsBySku", {"query": f'sku:"{quoted}"', "first": first})
        return list(((data.get("productVariants") or {}).get("nodes")) or [])

    def product_delete(self, product_id: str) -> dict[str, Any]:
        """``productDelete`` payload."""
        data = self.execute("ProductDelete", {"input": {"id": product_id}})
        return dict(data.get("productDelete") or {})

    def variants_delete(self, product_id: str, variant_ids: list[str]) -> dict[str, Any]:
        """``productVariantsBulkDelete`` payload."""
        data = self.execute("VariantsDelete", {"productId": product_id, "variantsIds": variant_ids})
        return dict(data.get("productVariantsBulkDelete") or {})

    def set_available(self, quantities: list[dict[str, Any]], *, reason: str) -> dict[str, Any]:
        """``inventorySetQuantities`` of ``available``, under a fresh idempotency key.

        Each quantity must carry ``changeFromQuantity`` (``None`` opts out of the check).
        """
        key = str(uuid.uuid4())
        data = self.execute(
            "StockSet",
            {
                "input": {"name": "available", "reason": reason, "quantities": quantities},
                "key": key,
            },
            idempotent=True,
        )
        return dict(data.get("inventorySetQuantities") or {})
