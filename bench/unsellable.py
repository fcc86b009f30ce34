"""A channel fake's own record of the moment each followed unit stopped being sellable.

The oversell window ends when an order's unit is unsellable on every other channel. A watch
that polls the fakes learns it one poll late, and under CPU load its polls come late too: the
window it measures then holds the watch's own lag. The fake knows better: a unit changes only
while the fake serves a request (under its lock), so :class:`UnsellableRecord` looks at the
units it follows right after each request the fake handles, before the lock is let go and so
before any shopper (or the watch) could see the change, and stamps the first look that finds a
unit unsellable (absent, stock 0 or not sellable) with ``time.monotonic()``, the clock the
bench's time scale turns into platform seconds.

A unit is followed from just before its order is placed until it goes unsellable; after that
the record looks no more (a look reads the fake's listings under its lock, so looking only
while something is outstanding keeps the record off the fake's answers). A unit seen for sale
again afterwards (by the watch, which keeps polling every order's unit) is followed anew with
:meth:`UnsellableRecord.seen_for_sale`, so its end moves to when it went off again.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any

import httpx
from serialsync.testing.fake import FakeChannel


def sellable(fake: FakeChannel, among: Collection[str] | None = None) -> set[str]:
    """The integration ids a shopper can buy on ``fake`` now (of ``among`` only, if given)."""
    # Under the fake's (reentrant) lock: not every fake's listings() takes it, and its
    # request threads change the listings meanwhile. A poll reads only the watched units: the
    # whole catalogue at 10,000 units took long enough under the lock, many times a second,
    # to slow the fakes' own answers and to stretch each poll to several platform seconds.
    with fake.lock:
        listed = fake.listings() if among is None else fake.listings_of(among)
    return {x.sku for x in listed if x.stock > 0 and x.sellable and "|||" in x.sku}


class UnsellableRecord:
    """When each followed unit last went unsellable on one channel fake (real monotonic).

    Installing it wraps the fake's ``handle`` (an instance attribute, as the bench's request
    stamps do); the fake calls ``handle`` with its lock held, so the look after it sees the
    state the request left, before anyone else can.
    """

    def __init__(self, fake: FakeChannel) -> None:
        self.fake = fake
        #: Followed units the last look found sellable.
        self.outstanding: set[str] = set()
        #: Per followed unit: when a look first found it unsellable (None: it was not for sale
        #: here when it was first followed, and has not been seen for sale since).
        self.ends: dict[str, float | None] = {}
        #: Times a unit was followed anew after being seen for sale past its end.
        self.resold: dict[str, int] = {}
        original = fake.handle

        def handle(request: httpx.Request) -> httpx.Response:
            response = original(request)
            if self.outstanding:
                self._look(time.monotonic())
            return response

        setattr(fake, "handle", handle)  # noqa: B010 - an instance attribute on purpose

    def follow(self, sku: str) -> None:
        """Follow ``sku`` from now (before its order is placed on another channel)."""
        with self.fake.lock:
            if sku in sellable(self.fake, [sku]):
                self.outstanding.add(sku)
                self.ends.pop(sku, None)
            else:
                self.ends.setdefault(sku, None)

    def seen_for_sale(self, sku: str, since: float) -> bool:
        """A look that began at ``since`` found ``sku`` for sale: True when that contradicts the
        record (it was past its end by then), and the unit is then followed anew.

        If it is off sale again by now, its end is now: the moment it went is somewhere between
        the look and now, and the later bound is taken (never a shorter window).
        """
        with self.fake.lock:
            if sku in self.outstanding or sku not in self.ends:
                return False
            end = self.ends[sku]
            if end is not None and end > since:
                return False  # the look came before the unit went: no contradiction
            self.resold[sku] = self.resold.get(sku, 0) + 1
            if sku in sellable(self.fake, [sku]):
                self.outstanding.add(sku)
            else:
                self.ends[sku] = time.monotonic()
            return True

    def state(self, sku: str) -> dict[str, Any]:
        """``{"open": bool, "end": float | None, "resold": int}`` for one followed unit.

        A unit still outstanding is looked at once more first: a fake may change a unit outside
        a request (Magento's consumers run queued operations when the store is next read), and
        such a change is stamped when it is first seen, never earlier than it happened.
        """
        with self.fake.lock:
            if sku in self.outstanding:
                self._look(time.monotonic())
            return {
                "open": sku in self.outstanding,
                "end": self.ends.get(sku),
                "resold": self.resold.get(sku, 0),
            }

    def _look(self, at: float) -> None:
        # Called with the fake's lock held, right after a request: the units still for sale
        # stay outstanding, the others went during that request, so ``at`` is their end.
        still = sellable(self.fake, self.outstanding)
        for sku in self.outstanding - still:
            self.ends[sku] = at
        self.outstanding &= still
