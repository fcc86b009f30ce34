"""Base classes for platform fakes: one in-memory platform, served two ways.

A fake implements :meth:`FakePlatform.handle` (an :class:`httpx.Request` in, an
:class:`httpx.Response` out). The same object then serves

* unit tests, as a respx side effect (``respx_mock.route(host=...).mock(side_effect=fake)``) or
  as ``httpx.MockTransport(fake)``;
* the sandbox, end-to-end tests and benchmarks, as an ASGI app (:meth:`FakePlatform.asgi_app`)
  on loopback.

:class:`Faults` injects the failures real platforms have: 429s, 5xx, timeouts and dropped
connections (some *after* the request was applied, which is what idempotency is for),
malformed bodies, and latency. Faults are drawn from a seeded random source, so a failing run
can be replayed.
"""

from __future__ import annotations

import json
import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Collection, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from serialsync.model import FinancialStatus, Product

ASGIScope = MutableMapping[str, Any]

#: How :meth:`FakePOS.damage_item` spoils an item.
ItemDamage = Literal["missing-serial", "missing-id"]
#: How :meth:`FakeChannel.damage_order` spoils an order.
OrderDamage = Literal["negative-quantity", "missing-field", "unknown-status"]
ASGIReceive = Callable[[], Awaitable[MutableMapping[str, Any]]]
ASGISend = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class Faults(BaseModel):
    """Failure rates (0 to 1) a fake injects, and added latency in seconds."""

    model_config = ConfigDict(extra="forbid")

    rate_429: float = Field(default=0.0, ge=0, le=1)
    rate_5xx: float = Field(default=0.0, ge=0, le=1)
    rate_timeout: float = Field(default=0.0, ge=0, le=1)
    rate_drop: float = Field(default=0.0, ge=0, le=1)
    rate_malformed: float = Field(default=0.0, ge=0, le=1)
    #: An HTML error page (a proxy's or a CMS's) instead of the platform's JSON.
    rate_html: float = Field(default=0.0, ge=0, le=1)
    latency: float = Field(default=0.0, ge=0)
    #: How long a served fake stalls before dropping a request it "times out".
    stall: float = Field(default=5.0, ge=0)
    #: Share of timeouts and dropped connections that happen after the request was applied.
    after_apply: float = Field(default=0.5, ge=0, le=1)
    #: A server that works at most this many requests at once (a host's PHP workers): one more
    #: is answered 503 at once, as a saturated web server or its proxy answers. None: no limit.
    #: A model of a host, not a platform limit: neither WooCommerce nor Magento caps concurrent
    #: requests; PHP-FPM's stock pool runs ``pm.max_children = 5`` and queues the rest in its
    #: listen backlog, so an immediate 503 is a proxy's answer (a connection limit), assumed.
    max_in_flight: int | None = Field(default=None, ge=1)
    seed: int | None = None

    @property
    def any(self) -> bool:
        """True when any fault may be injected."""
        return any(
            (
                self.rate_429,
                self.rate_5xx,
                self.rate_timeout,
                self.rate_drop,
                self.rate_malformed,
                self.rate_html,
            )
        )


class FakePlatform(ABC):
    """An in-memory platform. Subclasses implement :meth:`handle` under :attr:`lock`."""

    #: The host the real platform answers on; plugin tests route respx to it.
    host: str = "fake.invalid"

    def __init__(
        self, *, faults: Faults | None = None, sleep: Callable[[float], None] = time.sleep
    ):
        self.lock = threading.RLock()
        self._flight_lock = threading.Lock()
        #: Requests being served right now (in their latency or handling).
        self.in_flight = 0
        #: The most requests that were ever served at once.
        self.peak_in_flight = 0
        self.faults = faults or Faults()
        self._rng = random.Random(self.faults.seed)
        self._sleep = sleep
        #: ``(method, path)`` of every request received, faults included.
        self.requests: list[tuple[str, str]] = []
        #: How many of each fault were injected.
        self.injected: dict[str, int] = {}
        #: Called with each request before it is served, outside :attr:`lock` (so it may place
        #: orders or wait for other requests): tests use it to act while a call is under way.
        self.on_request: Callable[[httpx.Request], None] | None = None

    @abstractmethod
    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request as the platform would. Called with :attr:`lock` held."""

    # -- serving ------------------------------------------------------------------------------

    def set_faults(self, faults: Faults) -> None:
        """Change the injected faults (and reseed)."""
        with self.lock:
            self.faults = faults
            self._rng = random.Random(faults.seed)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """Serve one request with faults applied: the respx side effect / MockTransport handler."""
        limit = self.faults.max_in_flight
        with self._flight_lock:
            busy = limit is not None and self.in_flight >= limit
            if not busy:
                self.in_flight += 1
                self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        if busy:
            with self.lock:
                self.requests.append((request.method, request.url.path))
                self._count("busy")
            return httpx.Response(
                503,
                content=b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
                headers={"content-type": "text/html"},
            )
        try:
            return self._serve(request)
        finally:
            with self._flight_lock:
                self.in_flight -= 1

    def _serve(self, request: httpx.Request) -> httpx.Response:
        if self.on_request is not None:
            self.on_request(request)
        if self.faults.latency:
            # Outside the lock: a platform serves concurrent requests concurrently.
            self._sleep(self.faults.latency)
        with self.lock:
            self.requests.append((request.method, request.url.path))
            faults = self.faults
            roll = self._rng.random if faults.any else None
            if roll is None:
                return self.handle(request)
            # Whether a timeout / dropped connection, if one is drawn, comes after applying.
            after = roll() < faults.after_apply
            if roll() < faults.rate_429:
                self._count("429")
                return _json(429, {"errors": "Too Many Requests"}, {"Retry-After": "1"})
            if roll() < faults.rate_5xx:
                self._count("5xx")
                return _json(503, {"errors": "Service Unavailable"})
            if roll() < faults.rate_html:
                self._count("html")
                return httpx.Response(
                    503,
                    content=b"<html><body><h1>503 Service Unavailable</h1></body></html>",
                    headers={"content-type": "text/html"},
                )
            if not after:
                self._maybe_break(request, roll, faults)
            response = self.handle(request)
            if after:
                self._maybe_break(request, roll, faults)
            if roll() < faults.rate_malformed and response.status_code < 300:
                self._count("malformed")
                return httpx.Response(
                    response.status_code,
                    content=response.content[: max(1, len(response.content) // 2)],
                    headers={"content-type": "application/json"},
                )
            return response

    def _maybe_break(
        self, request: httpx.Request, roll: Callable[[], float], faults: Faults
    ) -> None:
        if roll() < faults.rate_timeout:
            self._count("timeout")
            raise httpx.ReadTimeout("fake: injected timeout", request=request)
        if roll() < faults.rate_drop:
            self._count("drop")
            raise httpx.RemoteProtocolError("fake: injected dropped connection", request=request)

    def _count(self, kind: str) -> None:
        self.injected[kind] = self.injected.get(kind, 0) + 1

    def transport(self) -> httpx.MockTransport:
        """This fake as an httpx transport (for ``ConnectorContext(transport=...)``)."""
        return httpx.MockTransport(self)

    def asgi_app(self) -> Callable[[ASGIScope, ASGIReceive, ASGISend], Awaitable[None]]:
        """This fake as an ASGI app, for serving over real HTTP on loopback."""
        import anyio.to_thread

        async def app(scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
            if scope["type"] == "lifespan":
                while True:
                    message = await receive()
                    if message["type"] == "lifespan.startup":
                        await send({"type": "lifespan.startup.complete"})
                    elif message["type"] == "lifespan.shutdown":
                        await send({"type": "lifespan.shutdown.complete"})
                        return
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
            host = dict(headers).get("host", self.host)
            query = scope.get("query_string", b"").decode("latin-1")
            raw_path = scope.get("raw_path") or scope["path"].encode()
            url = f"http://{host}{raw_path.decode('latin-1').split('?')[0]}"
            if query:
                url += f"?{query}"
            request = httpx.Request(scope["method"], url, headers=headers, content=body)
            try:
                response = await anyio.to_thread.run_sync(self, request)
            except httpx.TransportError as exc:
                if isinstance(exc, httpx.TimeoutException):
                    # Answer nothing for longer than the client waits, then give up on it.
                    await anyio.sleep(self.faults.stall)
                # Drop the connection mid-response: promise a body, send part of it, and fail;
                # the server then closes the connection, as a crashed upstream would.
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", b"4096"),
                        ],
                    }
                )
                await send(
                    {"type": "http.response.body", "body": b'{"partial": ', "more_body": True}
                )
                raise ConnectionAbortedError(str(exc)) from None
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": [
                        (k.encode(), v.encode()) for k, v in response.headers.multi_items()
                    ],
                }
            )
            await send({"type": "http.response.body", "body": response.content})

        return app


@dataclass(frozen=True)
class FakeListing:
    """One variant as a channel fake holds it: its SKU, stock, and the product it belongs to."""

    sku: str
    stock: int
    product: str
    sellable: bool = True


class FakeChannel(FakePlatform):
    """A fake web shop: what the sandbox, the conformance suite and reliability tests need."""

    @abstractmethod
    def listings(self) -> list[FakeListing]:
        """Every variant on the platform now (duplicates included: tests look for them)."""

    def listings_of(self, skus: Collection[str]) -> list[FakeListing]:
        """The variants whose SKU is one of ``skus`` (duplicates included), as :meth:`listings`
        shows them.

        A watcher that follows a few units (the oversell benchmark) reads this many times a
        second under the fake's lock; the fakes shipped with serialsync skip the others before
        building anything, since reading every listing of a 10,000-unit catalogue that often
        held the lock long enough to slow the fake's own answers. This default filters
        :meth:`listings`.
        """
        wanted = set(skus)
        return [listing for listing in self.listings() if listing.sku in wanted]

    def storefront(self) -> dict[str, bool]:
        """Whether the storefront shows each product holding a listing, by the name
        :attr:`FakeListing.product` gives it (a product hidden, or taken off sale, is
        ``False``).

        Optional: a fake that does not model product visibility raises
        :class:`NotImplementedError`.
        """
        raise NotImplementedError(f"{type(self).__name__} does not model product visibility")

    @abstractmethod
    def create_order(
        self,
        lines: Sequence[tuple[str | None, int]],
        *,
        status: FinancialStatus = FinancialStatus.PAID,
    ) -> str:
        """Place an order for ``(sku, quantity)`` lines as a shopper would; return its id.

        Each line is what a real order of this platform can hold, shaped exactly as the
        platform's order API shows it:

        * a SKU of a variant serialsync published (``SKU|||SERIAL``): that variant is bought
          and its stock taken (an unknown integration id, or one out of stock, is refused with
          ``ValueError``, as the storefront would refuse it);
        * any other SKU: a plain shop product that serialsync does not sell (a strap, a gift
          card); the fake creates it on the fly, in stock, and the line names it as the
          platform names a product line;
        * ``None``: a custom line with no SKU and no product ("Setup service", a tip), as staff
          add to an order by hand.
        """

    @abstractmethod
    def set_order_status(self, order_id: str, status: FinancialStatus) -> None:
        """Move an order on (paid, cancelled, refunded), as the shop's staff would."""

    def damage_order(self, order_id: str, damage: OrderDamage) -> None:
        """Spoil a stored order as a buggy extension or a broken import leaves real ones.

        ``negative-quantity``: its first line's quantity is -1; ``missing-field``: its first
        line has no quantity; ``unknown-status``: a state the platform's plugin cannot know.
        The order counts as changed now, so the next read sees it. Optional: a fake that
        cannot hold such orders raises :class:`NotImplementedError`.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot damage an order")

    @abstractmethod
    def connector_settings(self, base_url: str) -> dict[str, Any]:
        """Settings for this plugin's connector pointing at the fake served at ``base_url``."""


@dataclass(frozen=True)
class RecordedOrder:
    """An order as a POS fake recorded it: its number and ``(sku, serial, quantity)`` lines."""

    order_number: str
    lines: tuple[tuple[str, str | None, int], ...]


class FakePOS(FakePlatform):
    """A fake point of sale: what the sandbox, the conformance suite and reliability tests need."""

    @abstractmethod
    def add_product(self, product: Product) -> None:
        """Stock a product and its units, flagged to be sold online one serial at a time."""

    @abstractmethod
    def remove_unit(self, sku: str, serial: str) -> None:
        """Delete a unit in the POS (it must come back from inventory as deleted)."""

    @abstractmethod
    def recorded_orders(self) -> list[RecordedOrder]:
        """Every order the POS received, in arrival order (a repeat shows up twice)."""

    def damage_item(self, sku: str, damage: ItemDamage) -> None:
        """Spoil a stored item as a broken import leaves real ones.

        ``missing-serial``: its first unit's row has no serial; ``missing-id``: the item has
        no id of its own. The item counts as changed now, so the next read sees it. Optional:
        a fake that cannot hold such items raises :class:`NotImplementedError`.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot damage an item")

    @abstractmethod
    def connector_settings(self, base_url: str) -> dict[str, Any]:
        """Settings for this plugin's connector pointing at the fake served at ``base_url``."""


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json", **(headers or {})},
    )
