"""Pacing by Shopify's calculated query cost: a leaky bucket read from every response body.

Every GraphQL answer carries ``extensions.cost.throttleStatus`` (``maximumAvailable``,
``currentlyAvailable``, ``restoreRate``). :class:`CostBucketLimiter` remembers the last one and
when it saw it, projects the bucket forward at the restore rate, and asks the HTTP client to
wait just long enough that the next request's expected cost is available: the bucket is used,
never overrun. :func:`throttle_signal` turns a ``THROTTLED`` answer (HTTP 200 or 429) into a
retry that waits ``(cost - currentlyAvailable) / restoreRate`` seconds.

A part of the bucket is kept for urgent requests (:func:`serialsync.is_urgent`: reading an
order, withdrawing what it sold): a tenth of it (:data:`ORDERS_SHARE`), and at least one orders
page's cost (:data:`ORDERS_PAGE_COST`). A publish waits until the bucket holds its cost *and*
that reserve, so an order read or a withdrawal finds its points there and does not queue behind
the publish's next create. Were the reserve smaller than an orders page, a publish of small
requests would keep the bucket below the page's cost and the read would wait (or be throttled)
again and again. The publish is paced by the restore rate either way; it only runs that much
higher above empty.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from serialsync import RetryHint, is_urgent

#: Used until the first response says otherwise (Shopify's Standard plan).
DEFAULT_MAXIMUM = 1000.0
DEFAULT_RESTORE_RATE = 100.0
#: Seconds added to every paced wait.
PACING_MARGIN = 0.05
#: The share of the bucket's maximum that only urgent requests may spend (100 of 1,000 points).
ORDERS_SHARE = 0.1
#: The query cost an orders page is cut to: a quarter of the standard bucket (see
#: ``ShopifyConnector.fetch_orders``). The reserve for urgent requests is never less.
ORDERS_PAGE_COST = 250.0


def response_body(response: httpx.Response) -> dict[str, Any] | None:
    """The JSON object of a response, or ``None`` when it is not one."""
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


@dataclass(frozen=True, slots=True)
class ThrottleStatus:
    """The bucket as one response described it."""

    maximum: float
    available: float
    restore_rate: float
    requested: float | None

    @classmethod
    def from_body(cls, body: dict[str, Any] | None) -> ThrottleStatus | None:
        """Read ``extensions.cost`` of a GraphQL answer; ``None`` when absent or malformed."""
        if body is None:
            return None
        cost = (body.get("extensions") or {}).get("cost")
        if not isinstance(cost, dict):
            return None
        status = cost.get("throttleStatus")
        if not isinstance(status, dict):
            return None
        try:
            requested = cost.get("requestedQueryCost")
            return cls(
                maximum=float(status["maximumAvailable"]),
                available=float(status["currentlyAvailable"]),
                restore_rate=float(status["restoreRate"]),
                requested=float(requested) if requested is not None else None,
            )
        except (KeyError, TypeError, ValueError):
            return None


def error_codes(body: dict[str, Any] | None) -> list[str]:
    """The ``extensions.code`` of every top-level error in a GraphQL answer."""
    if body is None or not isinstance(body.get("errors"), list):
        return []
    codes = []
    for error in body["errors"]:
        if isinstance(error, dict):
            code = (error.get("extensions") or {}).get("code")
            if isinstance(code, str):
                codes.append(code)
    return codes


class CostBucketLimiter:
    """The :class:`serialsync.RateLimiter` for one store's cost bucket.

    The client calls :meth:`expect` with the cost it expects of the next request (the
    requested cost the same operation had last time), so :meth:`wait_time` waits for exactly
    that much, plus the :meth:`reserve` for a request that is not urgent. Before any response
    is seen it does not wait. The expected cost is the calling thread's own: the publish and an
    order's withdrawal expect different costs side by side.

    :param orders_share: the share of the maximum kept for urgent requests.
    :param urgent_cost: the points kept for them at least (one orders page).
    """

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        orders_share: float = ORDERS_SHARE,
        urgent_cost: float = ORDERS_PAGE_COST,
    ) -> None:
        self._clock = clock
        self.orders_share = orders_share
        self.urgent_cost = urgent_cost
        self._status: ThrottleStatus | None = None
        self._seen_at = 0.0
        self._local = threading.local()

    @property
    def status(self) -> ThrottleStatus | None:
        """The last throttle status observed."""
        return self._status

    def expect(self, cost: float) -> None:
        """Set the expected cost of this thread's next request."""
        self._local.expected = max(0.0, cost)

    def reserve(self, maximum: float) -> float:
        """The points of a bucket of ``maximum`` that a request that is not urgent leaves."""
        return min(maximum, max(maximum * self.orders_share, self.urgent_cost))

    def available_now(self) -> float | None:
        """The bucket projected to now, or ``None`` before any response."""
        if self._status is None:
            return None
        elapsed = max(0.0, self._clock() - self._seen_at)
        refilled = self._status.available + elapsed * self._status.restore_rate
        return min(self._status.maximum, refilled)

    def wait_time(self) -> float:
        """Seconds until the bucket holds the expected cost of the next request."""
        available = self.available_now()
        if available is None or self._status is None or self._status.restore_rate <= 0:
            return 0.0
        expected: float = getattr(self._local, "expected", 0.0)
        if not is_urgent():
            expected += self.reserve(self._status.maximum)
        # A request can never need more than the whole bucket.
        needed = min(expected, self._status.maximum)
        if available >= needed:
            return 0.0
        # A little over the exact refill time, so rounding never leaves us a point short.
        return (needed - available) / self._status.restore_rate + PACING_MARGIN

    def observe(self, response: httpx.Response) -> None:
        """Remember the throttle status of a response (any status code; body may be junk)."""
        status = ThrottleStatus.from_body(response_body(response))
        if status is not None:
            self._status = status
            self._seen_at = self._clock()


def throttle_wait(status: ThrottleStatus | None, cost: float | None = None) -> float | None:
    """``(cost - currentlyAvailable) / restoreRate``: how long a throttled request must wait."""
    if status is None or status.restore_rate <= 0:
        return None
    needed = cost if cost is not None else status.requested
    if needed is None:
        return None
    return max(0.0, (min(needed, status.maximum) - status.available) / status.restore_rate)


def throttle_signal(response: httpx.Response) -> RetryHint | None:
    """The plugin's :data:`RetrySignal`: retry a ``THROTTLED`` answer, whatever its status.

    Shopify answers a throttled request with HTTP 200 and ``errors[].extensions.code ==
    "THROTTLED"`` (sometimes with 429). Nothing was executed, so the request is safe to
    resend after the bucket has refilled by its cost.
    """
    if response.status_code not in (200, 429):
        return None
    body = response_body(response)
    if "THROTTLED" not in error_codes(body):
        return None
    wait = throttle_wait(ThrottleStatus.from_body(body))
    return RetryHint(reason="Shopify THROTTLED: the cost bucket is empty", wait=wait)
