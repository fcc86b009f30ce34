"""Per-unit outcomes of a publish: what cannot be sent, and Shopify's ``userErrors`` mapped.

Bulk mutations answer with ``userErrors`` whose ``field`` path names the input item they are
about (``["variants", "3", "price"]``); these helpers turn them into one
:class:`~serialsync.PublishOutcome` per unit, with the platform's code and message, and say
whether resending can help.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from serialsync import (
    CHANNEL_SKU_LIMITS,
    IntegrationIdError,
    ListingAction,
    ListingChange,
    PermanentRemoteError,
    Product,
    PublishOutcome,
    PublishResult,
    RemoteError,
    RemoteIds,
    check_length,
)

from serialsync_shopify.unit_fields import unit_problem

NOT_RETRYABLE_CODES = frozenset(
    {
        "INVALID",
        "INVALID_INPUT",
        "GREATER_THAN_OR_EQUAL_TO",
        "NEGATIVE_PRICE_VALUE",
        "BLANK",
        "TOO_LONG",
        "TOO_SHORT",
        "INVALID_VALUE",
        "INVALID_QUANTITY_NEGATIVE",
        "INVALID_INVENTORY_ITEM",
        "ITEM_NOT_STOCKED_AT_LOCATION",
        "DUPLICATED_OPTION_VALUE",
        "OPTION_VALUES_OVER_LIMIT",
        "VARIANTS_OVER_LIMIT",
        "HANDLE_NOT_UNIQUE",
    }
)


def invalid_change(
    product: Product, change: ListingChange, seen: set[str]
) -> tuple[str, str] | None:
    """``(code, reason)`` when a change cannot be sent at all."""
    unit = change.unit
    if unit.sku != product.sku:
        return "WRONG_PRODUCT", f"unit of SKU {unit.sku!r} sent with product {product.sku!r}"
    try:
        integration_id = unit.integration_id
        check_length(integration_id, limit=CHANNEL_SKU_LIMITS["shopify"], channel="shopify")
    except IntegrationIdError as exc:
        return "INVALID_INTEGRATION_ID", str(exc)
    if integration_id in seen:
        return "DUPLICATE_CHANGE", f"{integration_id!r} appears twice in one publish"
    seen.add(integration_id)
    problem = unit_problem(unit) if change.action is ListingAction.UPSERT else None
    if problem is not None:
        return "INVALID_ATTRIBUTES", problem
    return None


def batches(items: Sequence[Any], size: int) -> list[list[Any]]:
    """``items`` cut into lists of at most ``size``."""
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def input_index(error: dict[str, Any], key: str = "variants") -> int | None:
    """The index a userError's ``field`` path points at (``["variants", "3", "price"]``)."""
    path = [str(p) for p in error.get("field") or []]
    for position, part in enumerate(path[:-1]):
        if part == key and path[position + 1].isdigit():
            return int(path[position + 1])
    return None


def refused_indexes(errors: list[dict[str, Any]], size: int, key: str = "variants") -> set[int]:
    """Which input items the errors name; empty when an error is about the whole request."""
    indexes = {input_index(e, key) for e in errors}
    if None in indexes:
        return set()  # an error about the whole request: nobody in particular
    return {i for i in indexes if i is not None and 0 <= i < size}


def outcome(
    change: ListingChange, result: PublishResult, remote: RemoteIds | None
) -> PublishOutcome:
    """A successful outcome; ``remote`` defaults to what the change carried."""
    return PublishOutcome(
        sku=change.unit.sku,
        serial=change.unit.serial,
        result=result,
        remote=remote or change.remote,
    )


def failed(
    change: ListingChange, reason: str, code: str | None, *, retryable: bool
) -> PublishOutcome:
    """A ``FAILED`` outcome that keeps the ids the change carried."""
    return change.failed(reason, code=code, retryable=retryable)


#: Words of a message saying that sending again later may succeed.
_TRANSIENT_WORDS = ("try again", "temporar", "throttl", "timed out", "timeout", "locked", "busy")


def classify(error: dict[str, Any]) -> tuple[str, bool]:
    """``(code, retryable)`` of one userError.

    With a code, the code decides. Real ``productSet`` answers some errors with ``code: null``
    (a duplicate variant, field ``["input", "variants", "4"]``; a handle in use, field
    ``["input", "handle"]``): then the field and the message decide. A handle taken or a
    variant that already exists is named as such; any other refusal without a code is a
    validation that resending cannot change, unless its message says to try again.
    """
    code = error.get("code")
    if code:
        return str(code), str(code) not in NOT_RETRYABLE_CODES
    path = [str(p) for p in error.get("field") or []]
    message = str(error.get("message") or "").casefold()
    if (path and path[-1] == "handle") or ("handle" in message and "taken" in message):
        return "HANDLE_NOT_UNIQUE", False
    if "already exists" in message or "duplicate" in message:
        return "DUPLICATE_VARIANT", False
    if any(word in message for word in _TRANSIENT_WORDS):
        return "USER_ERROR", True
    return "USER_ERROR", False


def failed_user_errors(
    change: ListingChange, errors: list[dict[str, Any]], retryable: bool | None
) -> PublishOutcome:
    """A ``FAILED`` outcome from ``userErrors``; ``retryable=None`` decides by the errors
    (:func:`classify`: by code, else by field and message): retryable only when all are."""
    classified = [classify(e) for e in errors] or [("USER_ERROR", True)]
    code = classified[0][0]
    reason = "; ".join(str(e.get("message")) for e in errors) or "refused by Shopify"
    if retryable is None:
        retryable = all(again for _, again in classified)
    return failed(change, reason, code, retryable=retryable)


def failed_remote(change: ListingChange, exc: RemoteError) -> PublishOutcome:
    """A ``FAILED`` outcome for a request that failed as a whole (retryable unless permanent)."""
    return failed(
        change,
        str(exc),
        exc.code or type(exc).__name__,
        retryable=not isinstance(exc, PermanentRemoteError),
    )
