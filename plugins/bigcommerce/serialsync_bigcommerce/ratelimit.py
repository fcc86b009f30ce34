"""Pacing by BigCommerce's ``X-Rate-Limit-*`` headers, and the wait a 429 asks for.

BigCommerce counts requests per store in a window (30 s; 150 requests on Standard/Plus, 450 on
Pro), shared by every app on the store. Each response says what is left
(``X-Rate-Limit-Requests-Left``) and when the window resets (``X-Rate-Limit-Time-Reset-Ms``).
:class:`BigCommerceRateLimiter` pauses *before* the budget runs out, so throttling is avoided
rather than suffered; :func:`retry_signal` turns a 429 into a wait of exactly the reset time.

A share of each window (:data:`ORDERS_SHARE`) is kept for urgent requests
(:func:`serialsync.is_urgent`: reading an order, withdrawing what it sold): a publish waits for
the next window before it would spend it. Without that, a publish that runs at the quota leaves
every withdrawal waiting for the window's reset, up to 30 s with the sold unit still for sale.
Half of that share is kept from the reads of orders for withdrawals
(:func:`serialsync.is_withdrawing`): a burst's read costs a request per order (its lines), and
spent the window that the few withdrawals of units sold elsewhere then waited 30 s for.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
from serialsync import RetryHint, is_urgent, is_withdrawing

LEFT = "X-Rate-Limit-Requests-Left"
QUOTA = "X-Rate-Limit-Requests-Quota"
RESET_MS = "X-Rate-Limit-Time-Reset-Ms"
WINDOW_MS = "X-Rate-Limit-Time-Window-Ms"
#: The share of a window's quota that only urgent requests may spend (15 of 150 requests).
ORDERS_SHARE = 0.1


def _int_header(response: httpx.Response, name: str) -> int | None:
    value = response.headers.get(name)
    if value is None:
        return None
    try:
        return int(float(value))
    except ValueError:
        return None


class BigCommerceRateLimiter:
    """A :class:`serialsync.RateLimiter` fed by the ``X-Rate-Limit-*`` headers.

    Between responses it counts the requests it lets go, so a burst cannot overshoot what the
    last response reported. When at most ``reserve`` requests are left in the window it asks
    the client to wait until the window resets; a request that is not urgent waits already
    when at most ``reserve`` plus the orders' share (``orders_share`` of the quota) are left,
    and an urgent one that is not a withdrawal when ``reserve`` plus half of it are.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        quota: int = 150,
        reserve: int = 5,
        orders_share: float = ORDERS_SHARE,
    ) -> None:
        self._clock = clock
        self.quota = quota
        self.reserve = min(reserve, max(quota - 1, 0))
        self.orders_share = orders_share
        self._left: int | None = None
        self._reset_at: float | None = None

    @property
    def kept_for_orders(self) -> int:
        """Requests of a window that only urgent requests may spend (beyond ``reserve``)."""
        return int(self.quota * self.orders_share)

    @property
    def kept_for_withdrawals(self) -> int:
        """Of :attr:`kept_for_orders`, the requests a read of orders leaves to withdrawals."""
        return self.kept_for_orders // 2

    def _floor(self) -> int:
        """Requests the running work must leave in the window."""
        if is_withdrawing():
            return self.reserve
        if is_urgent():
            return self.reserve + self.kept_for_withdrawals
        return self.reserve + self.kept_for_orders

    def wait_time(self) -> float:
        """Seconds to wait before the next request (0 when it may go now)."""
        now = self._clock()
        if self._reset_at is not None and now >= self._reset_at:
            # The window the last response described is over: a fresh budget.
            self._left, self._reset_at = None, None
        floor = self._floor()
        if self._left is not None and self._left <= floor and self._reset_at is not None:
            wait = self._reset_at - now
            # After the wait the window is fresh; the next response corrects the guess.
            self._left, self._reset_at = None, None
            return wait
        if self._left is not None:
            self._left -= 1  # this request spends one; the response will say the truth
        return 0.0

    def observe(self, response: httpx.Response) -> None:
        """Take the remaining budget and the reset time from a response's headers."""
        quota = _int_header(response, QUOTA)
        if quota is not None and quota > 0:
            self.quota = quota
        left = _int_header(response, LEFT)
        reset_ms = _int_header(response, RESET_MS)
        if left is None or reset_ms is None:
            return
        self._left = left
        self._reset_at = self._clock() + max(reset_ms, 0) / 1000

    @property
    def left(self) -> int | None:
        """Requests believed left in the current window (``None``: not known yet)."""
        return self._left


def retry_signal(response: httpx.Response) -> RetryHint | None:
    """On a 429, retry after the window's reset time (``X-Rate-Limit-Time-Reset-Ms``); retry a
    read answered 2xx with a body cut short (a read is safe to send again; a write so answered
    may have been applied, and is left to adoption)."""
    if response.status_code != 429:
        return _truncated_read(response)
    reset_ms = _int_header(response, RESET_MS)
    if reset_ms is not None:
        wait: float | None = reset_ms / 1000
    else:
        # A proxy in front may answer 429 the generic way.
        retry_after = _int_header(response, "Retry-After")
        wait = float(retry_after) if retry_after is not None else None
    return RetryHint("BigCommerce rate limit reached (429)", wait=wait)


def _truncated_read(response: httpx.Response) -> RetryHint | None:
    try:
        method = response.request.method
    except RuntimeError:  # a response built by hand, with no request
        return None
    if method != "GET" or not 200 <= response.status_code < 300:
        return None
    if response.status_code == 204 or not response.content:
        return None
    try:
        json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return RetryHint("BigCommerce answered a read with a body that is not JSON")
    return None
