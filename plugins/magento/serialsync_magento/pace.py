"""Which way a product's new children go faster: by bulk, or side by side synchronously.

The bulk path's pace is the store's consumers': each runs one operation at a time, and
Magento starts one ``async.operations.all`` consumer unless ``env.php`` asks for more, while
the synchronous path has ``concurrency`` saves in flight. So the presence of consumers does not
say which is quicker; what was measured does. Each path is timed whole, as it is taken for a
product's new children:

* a bulk, from its request until the poll that found its operations done (the request, the
  waits and the polls included): ``n`` operations in ``t`` seconds;
* the synchronous saves of a product's children, side by side, from the first until the last
  is answered (slot waits, retries and the store's 503s included): ``n`` saves in ``t``.

Each path's pace is the median of its last :data:`MEMORY` measurements (``n / t``), so one
held up (a lock on the store, the host's thread waiting for a core) does not turn the choice,
while two in a row (consumers stopped, a store slowed down) do. Bulk is chosen when it is
expected to take at most ``1 + margin`` times the synchronous time: it sends one request
instead of ``n``, leaving the store's web workers to shoppers and the host's CPU to other
work, which is worth a little time.
"""

from __future__ import annotations

import statistics
import threading
from collections import deque

#: How many of each path's last measurements its pace is the median of.
MEMORY = 3
#: How many measurements of each path are taken before choosing by pace: one alone may be a
#: hiccup, and the path it loses to would not be measured again for ``bulk_redetect_after``.
LEARN = 2


class Pace:
    """Both paths' measured pace; which one a product's new children should take.

    Thread-safe: a connector may publish from more than one thread (a pass, an order's
    withdrawal), and a median must not read a measurement list while another is added.
    """

    def __init__(self, *, margin: float) -> None:
        self.margin = margin
        self._lock = threading.Lock()
        self._bulks: deque[float] = deque(maxlen=MEMORY)
        self._syncs: deque[float] = deque(maxlen=MEMORY)

    @property
    def learning(self) -> bool | None:
        """While a path has fewer than :data:`LEARN` measurements: whether the next product
        should measure the bulk (the paths take turns, the bulk first); None once both have."""
        with self._lock:
            bulks, syncs = len(self._bulks), len(self._syncs)
        if min(bulks, syncs) >= LEARN:
            return None
        return bulks <= syncs

    @property
    def bulk_rate(self) -> float | None:
        """Operations a second a whole bulk gets through (None: none measured)."""
        return _median(self._bulks, self._lock)

    @property
    def sync_rate(self) -> float | None:
        """Children a second the synchronous saves get through (None: none measured)."""
        return _median(self._syncs, self._lock)

    def observe_bulk(self, operations: int, seconds: float) -> None:
        """A bulk whose ``operations`` left "open" within ``seconds`` of its request."""
        if operations > 0 and seconds > 0:
            with self._lock:
                self._bulks.append(operations / seconds)

    def observe_sync(self, saves: int, seconds: float) -> None:
        """``saves`` synchronous child saves, side by side, done in ``seconds``."""
        if saves > 0 and seconds > 0:
            with self._lock:
                self._syncs.append(saves / seconds)

    def bulk_time(self, count: int) -> float | None:
        """Seconds a bulk of ``count`` operations is expected to take (None: not known)."""
        rate = self.bulk_rate
        return None if rate is None else count / rate

    def sync_time(self, count: int) -> float | None:
        """Seconds ``count`` synchronous saves are expected to take (None: not known)."""
        rate = self.sync_rate
        return None if rate is None else count / rate

    def prefers_bulk(self, count: int) -> bool | None:
        """Whether a bulk is expected to be done no later than the synchronous path would be,
        with the margin; None while either pace is unknown."""
        bulk = self.bulk_time(count)
        sync = self.sync_time(count)
        if bulk is None or sync is None:
            return None
        return bulk <= sync * (1 + self.margin)


def _median(values: deque[float], lock: threading.Lock) -> float | None:
    with lock:
        return statistics.median(values) if values else None
