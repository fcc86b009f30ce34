"""Which requests go first: an order's work before a publish's.

A unit sold on one channel stays for sale on the others until its withdrawal lands there (the
oversell window); a publish loses little by waiting a moment. So the work that closes the
window is marked *urgent* (:func:`urgent`): reading orders (the order pass, and the one order a
webhook names), withdrawing what they sold, and a publish's own call that only withdraws (a
unit sold while its product was being published). Everything else is not.

The mark is a context variable: it follows the work into the threads that
:func:`~serialsync.in_this_context` runs it in (the engine's channels side by side, a plugin's
requests side by side). A plugin's pacing reads it with :func:`is_urgent`: a rate limiter keeps
a share of its budget for urgent requests (the publish waits before using it), and
:class:`~serialsync.AdaptiveLimit` gives a free slot to an urgent waiter first. Nothing is
refused or reordered beyond that: urgency only decides who waits when both would.

Within urgent work, a withdrawal (:func:`withdrawing`, new in 0.7) goes before an order's read:
it is a few requests for units known to be sold, where a burst's reads are hundreds (BigCommerce
reads each order's lines with a request of its own). A rate limiter may keep a share of its
budget from reads for it (:func:`is_withdrawing`), as it keeps one from a publish for urgent work.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

_URGENT: contextvars.ContextVar[bool] = contextvars.ContextVar("serialsync_urgent", default=False)
_WITHDRAWING: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "serialsync_withdrawing", default=False
)


@contextlib.contextmanager
def urgent(on: bool = True) -> Iterator[None]:
    """Mark the work inside the block urgent (or, with ``on=False``, leave the mark as it is)."""
    if not on:
        yield
        return
    token = _URGENT.set(True)
    try:
        yield
    finally:
        _URGENT.reset(token)


def is_urgent() -> bool:
    """True when the running work closes an oversell window (see :func:`urgent`)."""
    return _URGENT.get()


@contextlib.contextmanager
def withdrawing() -> Iterator[None]:
    """Mark the work inside the block a withdrawal of sold units: urgent, and ahead of an
    order's read (see the module's text)."""
    token = _WITHDRAWING.set(True)
    try:
        with urgent():
            yield
    finally:
        _WITHDRAWING.reset(token)


def is_withdrawing() -> bool:
    """True when the running work withdraws units known to be sold (see :func:`withdrawing`)."""
    return _WITHDRAWING.get()
