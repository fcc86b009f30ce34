"""Magento's asynchronous bulk API: many operations in one request, then polling for results.

``POST /async/bulk/V1/…`` only says "accepted"; whether each operation worked is learnt from
``GET /V1/bulk/{uuid}/status`` (1 complete, 2 retriable failure, 3 failed, 4 open, 5 rejected)
once the store's message-queue consumers have run them. Off by default: a store whose
consumers are not running would leave every bulk open until ``bulk_timeout``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from serialsync import PermanentRemoteError, RemoteError, RetryableRemoteError

from serialsync_magento.client import MagentoClient, chunks
from serialsync_magento.mapping import option_body

COMPLETE, RETRIABLY_FAILED, FAILED, OPEN, REJECTED = 1, 2, 3, 4, 5
#: SKUs looked up per ``GET /V1/products`` after a bulk save (keeps the URL short).
LOOKUP_BATCH = 50


class BulkRunner:
    """Schedules bulks and waits for them, sleeping through the connector's ``sleep``."""

    def __init__(
        self,
        client: MagentoClient,
        *,
        sleep: Callable[[float], None],
        poll_interval: float,
        timeout: float,
        connector: str,
    ) -> None:
        self.client = client
        self._sleep = sleep
        self._interval = poll_interval
        self._timeout = timeout
        self._connector = connector

    def run(self, path: str, items: Sequence[Mapping[str, Any]], operation: str) -> list[Any]:
        """Schedule one operation per item and wait; per item, ``None`` or its error."""
        uuid = self.client.bulk(path, items, operation)
        operations = self._wait(uuid)
        return [self._error(operations, index, operation) for index in range(len(items))]

    def add_options(self, code: str, labels: Sequence[str]) -> list[RemoteError | None]:
        """Add one option per label to the attribute ``code``; per label, its error if any.

        "Already exists" failures are left to the caller, which reads the options back.
        """
        items = [{"attributeCode": code, "option": option_body(label)} for label in labels]
        return self.run("products/attributes/byAttributeCode/options", items, "add options")

    def save_products(
        self, payloads: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any] | RemoteError]:
        """Upsert products by bulk; per payload, the saved product (with its id) or the error."""
        errors = self.run("products", [{"product": p} for p in payloads], "save products")
        found: dict[str, dict[str, Any]] = {}
        skus = [str(p["sku"]) for p in payloads]
        for batch in chunks(skus, LOOKUP_BATCH):
            found.update(self.client.find_products(batch))
        results: list[dict[str, Any] | RemoteError] = []
        for sku, error in zip(skus, errors, strict=True):
            product = found.get(sku)
            if error is not None:
                results.append(error)
            elif product is None:
                results.append(
                    RetryableRemoteError(
                        f"the bulk saved {sku!r} but Magento does not find it",
                        connector=self._connector,
                    )
                )
            else:
                results.append(product)
        return results

    def _wait(self, uuid: str) -> list[dict[str, Any]]:
        waited = 0.0
        while True:
            operations = self.client.bulk_status(uuid)
            if operations and all(int(op.get("status") or OPEN) != OPEN for op in operations):
                return operations
            if waited >= self._timeout:
                raise RetryableRemoteError(
                    f"Magento bulk {uuid} is still open after {waited:.0f} s: are the store's "
                    "message-queue consumers running?",
                    connector=self._connector,
                )
            self._sleep(self._interval)
            waited += self._interval

    def _error(
        self, operations: Sequence[Mapping[str, Any]], index: int, operation: str
    ) -> RemoteError | None:
        op = operations[index] if index < len(operations) else {}
        status = int(op.get("status") or 0)
        if status == COMPLETE:
            return None
        message = str(op.get("result_message") or f"the bulk {operation} did not complete")
        text = f"Magento bulk {operation} failed (status {status}): {message}"
        if status == RETRIABLY_FAILED:
            return RetryableRemoteError(text, connector=self._connector, code=f"bulk {status}")
        return PermanentRemoteError(text, connector=self._connector, code=f"bulk {status}")
