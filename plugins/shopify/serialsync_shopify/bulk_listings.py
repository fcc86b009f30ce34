"""Reconcile's read of a large shop: one bulk query operation instead of paged queries.

Paging 250 variants at a time costs a query per page and points from the cost bucket that the
publish and order passes need; a bulk operation runs on Shopify's side and costs three small
requests whatever the catalogue's size::

    bulkOperationRunQuery(query: products { variants })  → the operation's id (CREATED)
    bulkOperation(id:) every ``bulk_poll_interval`` s     → RUNNING … COMPLETED with a url
    GET url (a signed file URL, outside the Admin API)   → JSONL: a line per product, a line
                                                            per variant with ``__parentId``

The file is fetched with a client that holds no credentials: the URL is signed, and the
access token must never travel to a host other than the shop's. A completed operation that
found nothing has no file (``url`` null): the shop holds no variant. Lines are not grouped
under their parent, so a variant is tied to its product by ``__parentId`` alone.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from serialsync import (
    HttpClient,
    ListingsPage,
    PermanentRemoteError,
    RemoteListing,
    RetryableRemoteError,
)

from serialsync_shopify.client import ShopifyClient
from serialsync_shopify.documents import BULK_LISTINGS_QUERY
from serialsync_shopify.listings import SEPARATOR, listing

#: Statuses in which an operation is still under way.
_UNDER_WAY = frozenset({"CREATED", "RUNNING", "CANCELING"})
#: Refusals that mean "another bulk query of this app is running": worth trying later.
_BUSY = frozenset({"OPERATION_IN_PROGRESS", "LIMIT_REACHED"})


class BulkListingReader:
    """Reads every variant of the shop by one bulk query operation."""

    def __init__(
        self,
        client: ShopifyClient,
        downloads: HttpClient,
        *,
        sleep: Callable[[float], None],
        clock: Callable[[], float] = time.monotonic,
        poll_interval: float,
        timeout: float,
    ) -> None:
        self.client = client
        self.downloads = downloads
        self.sleep = sleep
        self.clock = clock
        self.poll_interval = poll_interval
        self.timeout = timeout

    def read(self) -> ListingsPage:
        """Every variant whose SKU is an integration id, in one page."""
        url = self._run()
        if url is None:
            return ListingsPage()
        return ListingsPage(listings=tuple(self._listings(url)))

    def _run(self) -> str | None:
        """Start the operation and wait for it; the result file's URL (``None``: no data)."""
        payload = self.client.bulk_run_query(BULK_LISTINGS_QUERY)
        errors = payload.get("userErrors") or []
        operation = payload.get("bulkOperation") or {}
        if errors or not operation.get("id"):
            codes = {str(e.get("code")) for e in errors}
            messages = "; ".join(str(e.get("message")) for e in errors) or "no operation started"
            error_type = RetryableRemoteError if codes & _BUSY else PermanentRemoteError
            raise error_type(
                f"Shopify did not start the bulk query: {messages}",
                connector=self.client.http.connector,
                code=next(iter(sorted(codes)), None),
            )
        operation_id = str(operation["id"])
        deadline = self.clock() + self.timeout
        while True:
            found = self.client.bulk_operation(operation_id)
            status = str((found or {}).get("status") or "")
            if status == "COMPLETED":
                url = (found or {}).get("url")
                return str(url) if url else None
            if status not in _UNDER_WAY:
                raise RetryableRemoteError(
                    f"the bulk query {operation_id} ended {status or 'unseen'} "
                    f"({(found or {}).get('errorCode') or 'no error code'})",
                    connector=self.client.http.connector,
                    code=str((found or {}).get("errorCode") or status or "BULK_FAILED"),
                )
            if self.clock() >= deadline:
                raise RetryableRemoteError(
                    f"the bulk query {operation_id} was still {status} after {self.timeout:.0f} s",
                    connector=self.client.http.connector,
                    code="BULK_TIMEOUT",
                )
            self.sleep(self.poll_interval)

    def _listings(self, url: str) -> list[RemoteListing]:
        response = self.downloads.get(url, operation="bulk result")
        if response.status_code >= 400:
            raise self.downloads.error_for(response)
        found: list[RemoteListing] = []
        for number, text in enumerate(response.text.splitlines(), start=1):
            if not text.strip():
                continue
            line = _line(text, number, self.downloads.connector)
            parent = line.get("__parentId")
            if parent is None or SEPARATOR not in str(line.get("sku") or ""):
                continue  # a product's own line, or a variant that is not a unit
            found.append(listing(line, product_id=str(parent)))
        return found


def _line(text: str, number: int, connector: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        # A file cut short on the way: read again on the next reconcile.
        raise RetryableRemoteError(
            f"line {number} of the bulk result is not a JSON object", connector=connector
        )
    return value
