"""A channel's withdrawals as intervals: paired, merged, and what waited on them.

Since the order pass hands each channel's claims to a withdrawal as soon as that channel's
read ends, a burst is several withdrawals per target channel, overlapping the other channels'
reads. A channel's *span* (its first withdraw call to its last record) holds those reads'
waits; the figures here count only the time its withdrawals ran (``withdraw.started`` →
``withdraw.done``, paired per thread), and how long each reading channel's sold units waited
for the target channel's next withdrawal.

Instants are real ``time.monotonic()`` seconds; sleeps are ``(name, real start, platform
seconds)`` as :class:`~bench.timescale.TimeScale` and the sandbox's child record them.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

Interval = tuple[float, float]


class IntervalPairs:
    """Each channel's intervals from start and end marks, paired per thread.

    Two withdrawals of one channel may run at once in different threads, so a start is closed
    by the next end *in its own thread*. An end with no open start in its thread is ignored,
    as is a start left open (a withdrawal that raised before its end mark): a later start in
    the same thread replaces it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[int, tuple[str, float]] = {}
        self.intervals: dict[str, list[Interval]] = {}

    def start(self, thread: int, channel: str, at: float) -> None:
        """``channel``'s interval begins at ``at`` in ``thread``."""
        with self._lock:
            self._open[thread] = (channel, at)

    def end(self, thread: int, at: float) -> None:
        """The interval open in ``thread`` ends at ``at``."""
        with self._lock:
            opened = self._open.pop(thread, None)
            if opened is not None:
                channel, began = opened
                self.intervals.setdefault(channel, []).append((began, max(began, at)))

    def of(self, channel: str) -> list[Interval]:
        """``channel``'s closed intervals, by start."""
        with self._lock:
            return sorted(self.intervals.get(channel, []))


def merged(intervals: Iterable[Interval]) -> list[Interval]:
    """The union of ``intervals`` as disjoint intervals, in order (touching ones joined)."""
    out: list[Interval] = []
    for begin, end in sorted(intervals):
        if out and begin <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((begin, end))
    return out


def union_seconds(intervals: Iterable[Interval]) -> float:
    """The length of the union of ``intervals`` (overlaps once)."""
    return sum(end - begin for begin, end in merged(intervals))


def waited_within(
    events: Sequence[tuple[str, float, float]],
    intervals: Iterable[Interval],
    channel: str,
    factor: float,
    sides: tuple[str, ...] = ("client", "fake"),
) -> float:
    """Platform seconds ``channel`` slept inside the union of ``intervals``, overlaps once.

    As :func:`~bench.timescale.waited_union` does for one span (a sleep belongs to the
    interval it starts in; sleeps side by side count once), but over several intervals: they
    are merged first, so a sleep inside two overlapping withdrawals is not counted twice.
    Unlike ``waited_union``, a sleep is cut at the end of its interval: the channel's own read
    may run beside its withdrawal, and its request started inside the interval but answered
    after it is not the withdrawal's time (nor may the sleeps exceed the real busy time they
    are converted with, :func:`~bench.timescale.unscaled`).

    ``sides`` says whose sleeps count: the connector's client's (its pacing and retry waits)
    and the fake's (its latency), or one of them.
    """
    names = {f"{side}:{channel}" for side in sides}
    union = merged(intervals)
    spans: list[Interval] = []
    for name, at, seconds in events:
        if name not in names:
            continue
        for begin, end in union:
            if begin <= at <= end:
                spans.append((at, min(end, at + seconds / factor)))
                break
    return union_seconds(spans) * factor


def handover_latencies(
    read_ends: Mapping[str, float], intervals: Sequence[Interval]
) -> dict[str, float | None]:
    """Per reading channel, real seconds from its read's end to the end of the first of
    ``intervals`` (a target channel's withdrawals) that started at or after it: how long the
    units it sold waited to be withdrawn there. ``None`` when no withdrawal started after.

    A withdrawal started after the read's end plans from the store, where the read's claims
    are committed, so it withdraws them (or its holder replans a product held meanwhile).
    """
    ordered = sorted(intervals)
    out: dict[str, float | None] = {}
    for reader, ended in read_ends.items():
        after = [end for begin, end in ordered if begin >= ended]
        out[reader] = after[0] - ended if after else None
    return out


#: Per channel, the request patterns (``bench.sandbox_process.request_label``) a withdrawal
#: sends: ``withdraw_units``' batch calls, and Magento's disabling of a withdrawn child.
WITHDRAW_PATTERNS: dict[str, tuple[str, ...]] = {
    "shopify": ("POST /admin/api/{…}/graphql.json StockSet",),
    "bigcommerce": ("PUT /stores/{…}/{…}/catalog/variants",),
    "woocommerce": ("POST /wp-json/wc/{…}/products/{…}/variations/batch",),
    "magento": ("POST /rest/all/{…}/inventory/source-items", "PUT /rest/all/{…}/products/{…}"),
}


def withdraw_requests(channel: str, labels: Mapping[str, int]) -> tuple[int, Counter[str]]:
    """Of the requests served by ``labels`` (label → count), those of ``channel``'s withdrawal
    patterns, and the others (order reads that ran inside the withdrawal, for instance)."""
    patterns = WITHDRAW_PATTERNS.get(channel, ())
    others: Counter[str] = Counter()
    count = 0
    for label, n in labels.items():
        if label in patterns:
            count += n
        else:
            others[label] += n
    return count, others
