"""What ``GET /healthz`` answers: 200 when the store is writable and the passes end in time.

"In time" is per kind of pass: the last pass of each kind the runner schedules ended within
its interval plus a grace (one more interval, at least five minutes: a long publish is not a
failure), or, right after start, none was due yet. Anything else is 503 with a small JSON
reason per problem, so a monitor can say what is wrong without reading the logs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from serialsync.store import RunRecord, Store

MIN_GRACE = timedelta(minutes=5)
_RUNS_READ = 200


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class HealthPolicy:
    """Which passes must keep ending, and how often (``{"orders": timedelta(seconds=60)}``)."""

    every: Mapping[str, timedelta] = field(default_factory=dict)
    started_at: datetime = field(default_factory=_utcnow)
    now: Callable[[], datetime] = _utcnow

    def allowance(self, kind: str) -> timedelta:
        """How long after its last end a pass of ``kind`` may go before it is late."""
        interval = self.every[kind]
        return interval + max(interval, MIN_GRACE)


def check_health(store: Store, policy: HealthPolicy) -> tuple[bool, dict[str, Any]]:
    """``(healthy, details)``: the store writable, and every scheduled kind of pass in time."""
    problems: dict[str, str] = {}
    try:
        # BEGIN IMMEDIATE takes the write lock: a read-only, full or locked store fails here.
        with store.transaction():
            pass
    except Exception as exc:
        problems["store"] = f"not writable: {type(exc).__name__}"
    now = policy.now()
    if "store" not in problems and policy.every:
        try:
            last = _last_ended(store.runs(limit=_RUNS_READ))
        except Exception as exc:
            problems["store"] = f"not readable: {type(exc).__name__}"
            last = {}
        for kind in sorted(policy.every):
            late = policy.allowance(kind)
            ended = last.get(kind)
            since = ended or policy.started_at
            if now - since > late:
                seconds = int((now - since).total_seconds())
                every = int(policy.every[kind].total_seconds())
                problems[f"{kind}_pass"] = (
                    f"last ended {seconds} s ago (every {every} s)"
                    if ended
                    else f"none has ended in the {seconds} s since start (every {every} s)"
                )
    details: dict[str, Any] = {"status": "ok" if not problems else "unhealthy"}
    if problems:
        details["problems"] = problems
    return not problems, details


def _last_ended(runs: list[RunRecord]) -> dict[str, datetime]:
    last: dict[str, datetime] = {}
    for run in runs:
        if run.finished_at is not None and run.finished_at > last.get(
            run.kind, datetime.min.replace(tzinfo=UTC)
        ):
            last[run.kind] = run.finished_at
    return last
