"""What a merchant's jobs are doing: read from the queue's table, for ``merchants show``."""

from __future__ import annotations

from serialsync.settings import Settings


def queue_state(deployment: Settings, merchant: str) -> dict[str, dict[str, int]]:
    """Counts of the merchant's jobs by flow and status (``todo``, ``doing``, ``failed``, …),
    the orders webhooks named under ``webhook_orders``; empty when no worker ever created the
    queue."""
    from psycopg import sql

    from serialsync.store.postgres import connect_settings
    from serialsync.workers.app import FLOW_TASK, ORDER_TASK, jobs_schema

    schema = jobs_schema(deployment)
    with connect_settings(deployment.store) as db:
        found = db.execute(
            "SELECT 1 FROM information_schema.tables "
            "WHERE table_schema = %s AND table_name = 'procrastinate_jobs'",
            (schema,),
        ).fetchone()
        if found is None:
            return {}
        rows = db.execute(
            sql.SQL(
                "SELECT CASE WHEN task_name = %s THEN args ->> 'flow' ELSE 'webhook_orders' END "
                "AS flow, status::text AS status, count(*) AS n "
                "FROM {}.procrastinate_jobs WHERE task_name IN (%s, %s) "
                "AND args ->> 'merchant' = %s GROUP BY 1, 2 ORDER BY 1, 2"
            ).format(sql.Identifier(schema)),
            (FLOW_TASK, FLOW_TASK, ORDER_TASK, merchant),
        ).fetchall()
    state: dict[str, dict[str, int]] = {}
    for flow, status, count in rows:
        state.setdefault(str(flow), {})[str(status)] = int(count)
    return state
