"""Many merchants on many machines: jobs per merchant and flow on Procrastinate.

``serialsync worker`` runs a Procrastinate worker of the deployment (:func:`build_app`); each job
runs one pass of one merchant (:func:`run_flow`), never two of one flow of a merchant at once
anywhere; a merchant's order pass runs beside its publish, the listing locks across processes
(:mod:`serialsync.workers.locks`) keeping them off one listing.
"""

from serialsync.workers.app import apply_schema, build_app, flow_deferrer, jobs_schema
from serialsync.workers.flows import Flow, FlowOutcome, run_flow
from serialsync.workers.queue import queue_state
from serialsync.workers.schedule import take_due

__all__ = [
    "Flow",
    "FlowOutcome",
    "apply_schema",
    "build_app",
    "flow_deferrer",
    "jobs_schema",
    "queue_state",
    "run_flow",
    "take_due",
]
