"""What a pass did, counted per connector."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from serialsync.metering import RequestCounts
from serialsync.redaction import redact_personal_data


@dataclass
class ConnectorCounts:
    """The counts of one connector in one pass."""

    created: int = 0
    updated: int = 0
    withdrawn: int = 0
    unchanged: int = 0
    failed: int = 0
    units_in: int = 0
    orders: int = 0
    sales_reported: int = 0
    sales_failed: int = 0
    conflicts: int = 0
    quarantined: int = 0
    errors: list[str] = field(default_factory=list)
    #: What the pass asked of this connector's platform (see :mod:`serialsync.metering`).
    http: RequestCounts = field(default_factory=RequestCounts)

    @property
    def published(self) -> int:
        """Units created or updated."""
        return self.created + self.updated


@dataclass
class PassSummary:
    """A pass: when, which kind, and the counts per connector. ``ok`` is false on any failure."""

    kind: str
    started_at: datetime
    finished_at: datetime | None = None
    connectors: dict[str, ConnectorCounts] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def counts(self, connector: str) -> ConnectorCounts:
        """The counts of one connector (created on first use; safe across threads)."""
        with self._lock:
            return self.connectors.setdefault(connector, ConnectorCounts())

    @property
    def ok(self) -> bool:
        """True when nothing failed, conflicted or was quarantined."""
        return not any(
            c.failed or c.sales_failed or c.conflicts or c.quarantined or c.errors
            for c in self.connectors.values()
        )

    def total(self, name: str) -> int:
        """The sum of one count over every connector."""
        return sum(int(getattr(c, name)) for c in self.connectors.values())

    def merge(self, other: PassSummary) -> PassSummary:
        """A summary adding ``other``'s counts to this one's (for ``run_once``)."""
        merged = PassSummary(kind=f"{self.kind}+{other.kind}", started_at=self.started_at)
        merged.finished_at = other.finished_at or self.finished_at
        for source in (self, other):
            for name, counts in source.connectors.items():
                target = merged.counts(name)
                for key, value in asdict(counts).items():
                    if key == "errors":
                        target.errors.extend(value)
                    elif key == "http":
                        target.http = _added(target.http, counts.http)
                    elif key == "unchanged":
                        # Each pass counts the whole unchanged catalogue: adding would double it.
                        target.unchanged = max(target.unchanged, value)
                    else:
                        setattr(target, key, getattr(target, key) + value)
        return merged

    def add_requests(self, counts: dict[str, RequestCounts]) -> None:
        """Add each connector's requests in this pass (from its meter)."""
        for name, requests in counts.items():
            target = self.counts(name)
            target.http = _added(target.http, requests)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (``run --json``, the ``runs`` table), errors without personal data."""
        return {
            "kind": self.kind,
            "ok": self.ok,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "connectors": {
                name: {
                    **asdict(c),
                    # Most errors are messages of serialsync's own errors, masked already; a
                    # plugin's bare exception is not.
                    "errors": [redact_personal_data(e) for e in c.errors],
                    "published": c.published,
                    "http": c.http.as_dict(),
                }
                for name, c in self.connectors.items()
            },
        }


def _added(one: RequestCounts, other: RequestCounts) -> RequestCounts:
    return RequestCounts(**{k: v + getattr(other, k) for k, v in asdict(one).items()})
