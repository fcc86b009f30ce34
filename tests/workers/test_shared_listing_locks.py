"""Listing locks across processes (issue 16 §1 in worker mode): two :class:`ProcessLocks`, each
a connection of its own, stand for two worker processes; the guarantees are those of the
engine's in-process ``ListingLocks`` (tests/engine/test_listing_locks.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from serialsync.settings import load_settings
from serialsync.workers.locks import ProcessLocks

STORE = "r_test__acme"


@pytest.fixture
def two(deployment: Path) -> Iterator[tuple[ProcessLocks, ProcessLocks]]:
    settings = load_settings(deployment)
    first, second = ProcessLocks.open(settings), ProcessLocks.open(settings)
    try:
        yield first, second
    finally:
        first.close()
        second.close()


def test_a_product_held_in_one_process_is_asked_for_from_another_without_waiting(
    two: tuple[ProcessLocks, ProcessLocks],
) -> None:
    publisher, orders = (p.for_store(STORE) for p in two)
    with publisher.hold("shop", "A") as publish:
        with orders.hold_or_ask("shop", ["A", "B"]) as withdrawal:
            assert withdrawal.held == ["B"]  # A is the other process's: asked for, not waited on
            assert withdrawal.finish() == []
        assert publish.finish() == ["A"]  # asked: still held, to be planned again
        with orders.hold_or_ask("shop", ["A"]) as again:
            assert again.held == []  # still held while it is planned again
        assert publish.finish() == ["A"]  # asked once more meanwhile
        assert publish.finish() == []  # nobody asked since: given back
    with orders.hold_or_ask("shop", ["A"]) as later:
        assert later.held == ["A"]
        assert later.finish() == []


def test_merchants_and_channels_are_apart(two: tuple[ProcessLocks, ProcessLocks]) -> None:
    first, second = two
    with first.for_store(STORE).hold("shop", "A"):
        with second.for_store(STORE).hold_or_ask("other", ["A"]) as channel:
            assert channel.held == ["A"]
        with second.for_store("r_test__bolt").hold_or_ask("shop", ["A"]) as merchant:
            assert merchant.held == ["A"]


def test_a_holder_waits_for_another_process_and_takes_the_product_after_it(
    two: tuple[ProcessLocks, ProcessLocks],
) -> None:
    first, second = (p.for_store(STORE) for p in two)
    order: list[str] = []
    started = threading.Event()

    def later() -> None:
        started.set()
        with second.hold("shop", "A") as turn:
            order.append("second")
            assert turn.finish() == []

    with first.hold("shop", "A") as turn:
        thread = threading.Thread(target=later)
        thread.start()
        assert started.wait(5)
        thread.join(0.3)  # it waits: the product is held by the other process
        assert thread.is_alive()
        order.append("first")
        assert turn.finish() == []
    thread.join(10)
    assert order == ["first", "second"]


def test_threads_of_one_process_are_kept_apart_before_the_server_is_asked(
    two: tuple[ProcessLocks, ProcessLocks],
) -> None:
    # Two jobs of one merchant in one worker (two threads) share one connection, whose advisory
    # locks are re-entrant: the in-process layer must keep them apart.
    locks = two[0].for_store(STORE)
    assert locks is two[0].for_store(STORE)  # every job of the merchant gets the same
    with locks.hold("shop", "A") as publish:
        with locks.hold_or_ask("shop", ["A"]) as withdrawal:
            assert withdrawal.held == []
        # Asked here only: kept held on the server too while it is planned again.
        assert publish.finish() == ["A"]
        with two[1].for_store(STORE).hold_or_ask("shop", ["A"]) as other_process:
            assert other_process.held == []
        assert publish.finish() == ["A"]
        assert publish.finish() == []


def test_a_dead_process_holds_nothing(deployment: Path) -> None:
    settings = load_settings(deployment)
    dying, living = ProcessLocks.open(settings), ProcessLocks.open(settings)
    try:
        with dying.for_store(STORE).hold_or_ask("shop", ["A"]) as turn:
            assert turn.held == ["A"]
            dying.close()  # its session ends, as a SIGKILLed worker's does
            with living.for_store(STORE).hold_or_ask("shop", ["A"]) as other:
                assert other.held == ["A"]
                assert other.finish() == []
            with pytest.raises(RuntimeError, match="connection was lost"):
                turn.finish()
    except RuntimeError:
        pass  # leaving the block releases on a closed connection: the same error
    finally:
        living.close()


def test_an_ask_is_never_lost_to_a_holder_letting_go_at_the_same_moment(
    two: tuple[ProcessLocks, ProcessLocks],
) -> None:
    """Each round, a holder finishes while another process asks: either the asker takes the
    product (and withdraws itself) or the holder's finish returns it (and plans it again).
    Never neither: that would leave a sold unit listed by a call already under way."""
    holder, asker = (p.for_store(STORE) for p in two)
    for number in range(60):
        sku = f"P{number}"
        gate = threading.Barrier(2)
        taken: list[bool] = []

        def ask(sku: str = sku, gate: threading.Barrier = gate, taken: list[bool] = taken) -> None:
            gate.wait(5)
            with asker.hold_or_ask("shop", [sku]) as turn:
                taken.append(bool(turn.held))

        thread = threading.Thread(target=ask)
        with holder.hold("shop", sku) as turn:
            thread.start()
            gate.wait(5)
            asked = turn.finish()
            while turn.finish():
                pass
        thread.join(10)
        assert taken, "the asker never answered"
        assert taken[0] or asked == [sku], f"round {number}: the ask was lost"


def test_a_failed_holder_gives_everything_back_and_its_asks_go_with_it(
    two: tuple[ProcessLocks, ProcessLocks],
) -> None:
    first, second = (p.for_store(STORE) for p in two)
    broke = pytest.raises(RuntimeError, match="the plugin broke")
    with broke, first.hold_or_ask("shop", ["A", "B"]):
        with second.hold_or_ask("shop", ["A"]) as other:
            assert other.held == []
        raise RuntimeError("the plugin broke")
    with second.hold_or_ask("shop", ["A", "B"]) as again:
        assert again.held == ["A", "B"]
        assert again.finish() == []  # the ask died with the failed holder


def test_a_worker_process_borrows_its_connections_from_one_pool(deployment: Path) -> None:
    """The register opened for each job and each webhook delivery is a connection of the
    process's pool, given back and taken again: not a connection opened every time."""
    from serialsync.workers.flows import WorkerResources

    resources = WorkerResources(load_settings(deployment), max_size=1)
    try:
        backends = set()
        for _ in range(3):
            with resources.registry() as registry:
                rows = registry.execute("SELECT pg_backend_pid() AS pid")
                backends.add(rows[0]["pid"])
                assert registry.list() == []
        assert len(backends) == 1
    finally:
        resources.close()
