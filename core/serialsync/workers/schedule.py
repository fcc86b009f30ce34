"""When each merchant's flows are due: one table beside the register, read by every worker.

``schedule`` holds a row per enabled merchant and flow with its interval (from the register,
kept there in clear) and when it is next due. A tick — run by whichever worker's periodic job
comes first — brings the rows in line with the register and takes the due ones, moving each one's
``due_at`` on by its interval in the same transaction. Two ticks at once (two machines) cannot
both take a row: the second waits on the first's row lock and then finds it no longer due; and
the flow's job is deferred with a queueing lock, so it is never queued twice either.
"""

from __future__ import annotations

from typing import Any

from serialsync.merchants.registry import MerchantRegistry
from serialsync.settings import Settings
from serialsync.workers.flows import Flow

_SYNC_ROWS = """
INSERT INTO {schedule} (merchant, flow, every_s, due_at)
SELECT m.name, f.key, f.value::double precision,
       -- Reconcile first after one interval: the first inventory pass is publishing now.
       now() + CASE WHEN f.key = 'reconcile'
                    THEN f.value::double precision * interval '1 second'
                    ELSE interval '0' END
FROM {merchants} m, jsonb_each_text(m.intervals) f
WHERE m.enabled AND f.value::double precision > 0
ON CONFLICT (merchant, flow) DO UPDATE SET every_s = EXCLUDED.every_s
"""

_DROP_ROWS = """
DELETE FROM {schedule} s
WHERE NOT EXISTS (
    SELECT 1 FROM {merchants} m
    WHERE m.name = s.merchant AND m.enabled
      AND COALESCE((m.intervals ->> s.flow)::double precision, 0) > 0
)
"""

_TAKE_DUE = """
UPDATE {schedule}
SET due_at = now() + every_s * interval '1 second'
WHERE due_at <= now()
RETURNING merchant, flow
"""


def _schedule_sql(registry: MerchantRegistry, template: str) -> Any:
    from psycopg import sql

    return sql.SQL(template).format(
        schedule=sql.SQL("{}.schedule").format(sql.Identifier(registry.schema)),
        merchants=sql.SQL("{}.merchants").format(sql.Identifier(registry.schema)),
    )


def ensure_table(registry: MerchantRegistry) -> None:
    """Create the schedule table when missing."""
    registry.execute(
        _schedule_sql(
            registry,
            """CREATE TABLE IF NOT EXISTS {schedule} (
                merchant TEXT NOT NULL,
                flow TEXT NOT NULL,
                every_s DOUBLE PRECISION NOT NULL,
                due_at TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (merchant, flow)
            )""",
        )
    )


def take_due(deployment: Settings, *, everything: bool = False) -> list[tuple[str, Flow]]:
    """The flows due now, each moved on by its interval (one transaction).

    :param everything: take every enabled merchant's every flow, due or not
        (``serialsync schedule --now``).
    """
    with MerchantRegistry.open(deployment) as registry:
        ensure_table(registry)
        with registry.transaction():
            registry.execute(_schedule_sql(registry, _SYNC_ROWS))
            registry.execute(_schedule_sql(registry, _DROP_ROWS))
            if everything:
                registry.execute(_schedule_sql(registry, "UPDATE {schedule} SET due_at = now()"))
            rows = registry.execute(_schedule_sql(registry, _TAKE_DUE))
    return sorted((row["merchant"], Flow(row["flow"])) for row in rows)
