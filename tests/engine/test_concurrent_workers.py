"""Two workers of one merchant at once, each with its own connection to the same store: the
second waits or skips, never doubles (issue 18 #1).

The runner lock keeps two runners apart; these workers take none (as jobs of a task queue do, or
the webhook worker beside a runner's order loop), so what keeps them apart here is the store's
own locking: write transactions one at a time per store, and one reporter per sale.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from serialsync.host import Host
from serialsync.settings import SyncSettings
from serialsync.store import OutboxState

from tests.engine.conftest import build_world
from tests.engine.test_crash_safety import check_invariants, report_calls, scenario
from tests.stores import StoreSpec

ROUNDS = 3


def _worker(w, spec: StoreSpec, pause: Callable[[str], None]) -> Host:
    """A second host on the same platforms and store, with a connection of its own."""
    return Host(
        plugins=w.host.plugins,
        store=spec.open(lock=False),
        sync=SyncSettings(workers=1),
        now=lambda: w.clock[0],
        checkpoint=pause,
        owns_store=True,  # its own connection: closed with the host
    )


def _in_parallel(*steps: Callable[[], object]) -> None:
    """Run each step in its own thread, all starting together; re-raise the first error."""
    start = threading.Barrier(len(steps))
    errors: list[BaseException] = []

    def run(step: Callable[[], object]) -> None:
        start.wait()
        try:
            step()
        except BaseException as exc:  # handed to the test thread below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(step,)) for step in steps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if errors:
        raise errors[0]


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_workers_on_one_store_claim_each_unit_once_and_report_each_sale_once(
    tmp_path: Path, store_spec: StoreSpec, round_: int
) -> None:
    w = build_world(tmp_path, spec=store_spec)
    expected = scenario(w)
    # Every step boundary yields the processor for a moment (a different moment each round),
    # so that the two workers interleave all through their order passes.
    delay = 0.001 * (round_ + 1)
    first = _worker(w, store_spec, lambda _step: time.sleep(delay))
    second = _worker(w, store_spec, lambda _step: time.sleep(delay / 2))
    _in_parallel(first.order_pass, second.order_pass)
    first.close()
    second.close()

    # Both workers read every order of both channels; each sale is in the outbox once, the
    # guitar sold twice is claimed by one order and the other is a conflict, and the POS heard
    # of each paid order exactly once.
    check_invariants(w, expected, repeats=0)
    assert sum(report_calls(w, expected).values()) == 3
    assert len(w.store.outbox(states=(OutboxState.CONFLICT,))) == 1
    w.store.close()
