"""Whether a rate budget could have bound a withdrawal, from the fakes' own records.

The bench runs platform time ``N`` times faster than real time, so a budget-bound platform's
budget (Shopify's cost bucket, BigCommerce's request window) refills ``N`` times faster while
the host does its own, real-time work. A withdrawal's busy time in platform seconds is then
only known between an estimate (real time once, sleeps at platform speed) and ``real x N``.
The estimate is exact when the budget could not have bound: when the client waited for it not
at all, the fake refused nothing, and every request the fake answered inside the interval fit
in what the budget held *when the interval began*, without any refill. No refill needed means
the same at every time scale.

What the fake held is read from its answers, as the sandbox child records them for every
request (:class:`Charge`): Shopify's ``extensions.cost`` (requested and actual cost, the
bucket's points left after charging, its size and restore rate), BigCommerce's
``X-Rate-Limit-*`` headers (requests left in the window and when it resets). Shopify refuses a
request whose *requested* cost exceeds what is left, and charges its *actual* cost: so what an
interval needed is the most, over its requests, of the actual costs charged before it plus its
requested cost (``needed``), not only what it spent.

Floors of the latency-bound platforms' withdraw step (a fixed latency a request, ``workers``
requests at once): WooCommerce batches one product's variations only (woocommerce#29341,
#31282), so ``ceil(distinct products / workers) x latency``; Magento ``ceil(withdrawal requests
/ workers) x latency`` (:func:`bench.platforms.time_floor`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from bench.busy import Interval
from bench.platforms import Limits, time_floor


class Charge(NamedTuple):
    """One request a budget-bound fake answered, as its answer reported the budget.

    ``at`` is the real ``time.monotonic()`` instant it was charged (the fake serves one request
    at a time under its lock, so the records are in charge order). ``requested`` is what the
    platform checks against what is left (Shopify's requested cost; 1 a BigCommerce request),
    ``spent`` what it took (the actual cost; 1; 0 for a refused or uncounted request),
    ``refused`` whether the budget refused it (THROTTLED, 429), ``left`` what the budget held
    right after (points; requests left in the window), and ``resets_at`` the real instant a
    fixed window resets to its full quota (``None`` for a bucket, which refills steadily).
    """

    at: float
    requested: float
    spent: float
    refused: bool
    left: float
    resets_at: float | None


def available_at(charges: Sequence[Charge], at: float, capacity: float, rate: float) -> float:
    """What the budget held at real instant ``at``, as the fake keeps it.

    From the last charge before ``at``: a window's requests left until it resets (then its full
    quota); a bucket's points left, refilled ``rate`` a real second (restore rate x time scale)
    up to ``capacity``. Full before the first charge (a fake starts with its budget whole).
    """
    last = None
    for charge in charges:
        if charge.at > at:
            break
        last = charge
    if last is None:
        return capacity
    if last.resets_at is not None:
        return capacity if at >= last.resets_at else last.left
    return min(capacity, last.left + (at - last.at) * rate)


def verdict(
    charges: Iterable[Charge],
    interval: Interval,
    available: float,
    capacity: float,
    client_waited: float,
) -> dict[str, Any]:
    """Whether the budget could have bound in ``interval``, given what it held as it began.

    It could not when the client waited for nothing (``client_waited`` platform seconds), the
    fake refused nothing, and every request charged inside fit in ``available`` with no refill:
    ``needed`` (module docstring) at most ``available``.
    """
    begin, end = interval
    inside = [c for c in charges if begin <= c.at <= end]
    spent = needed = 0.0
    for charge in inside:
        needed = max(needed, spent + charge.requested)
        spent += charge.spent
    refused = sum(1 for c in inside if c.refused)
    return {
        "could_bind": client_waited > 0 or refused > 0 or needed > available,
        "client_waited": client_waited,
        "available_at_start": available,
        "spent": spent,
        "needed": needed,
        "capacity": capacity,
        "requests": len(inside),
        "refused": refused,
    }


def worst(verdicts: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The interval nearest to binding: one that could bind, else the least slack
    (``available_at_start - needed``); ``None`` for no intervals."""
    if not verdicts:
        return None
    return min(verdicts, key=lambda v: (not v["could_bind"], v["available_at_start"] - v["needed"]))


def withdraw_floor(
    name: str, limits: Limits, *, distinct_products: int, requests: int
) -> dict[str, Any] | None:
    """The least platform time a latency-bound platform's withdraw step can take (module
    docstring), and what it counts; ``None`` for the other platforms."""
    if name == "woocommerce":
        count, basis, workers = distinct_products, "distinct products", limits.woocommerce_workers
    elif name == "magento":
        count, basis, workers = requests, "withdrawal requests", limits.magento_workers
    else:
        return None
    return {
        "platform_seconds": time_floor(name, count, limits),
        "basis": basis,
        "count": count,
        "workers": workers,
        "latency": limits.woocommerce_latency if name == "woocommerce" else limits.magento_latency,
    }
