"""The order pass: orders → units reserved or sold → withdrawn everywhere → the POS."""

from __future__ import annotations

from datetime import timedelta

import pytest
from serialsync import FinancialStatus, RetryableRemoteError, UnitStatus
from serialsync.settings import SyncSettings
from serialsync.store import OutboxState

from tests.engine.conftest import World, build_world
from tests.engine.memory import RefusedError

GUITAR = "0113942719|||US210033734"
OTHER = "0113942719|||US210033735"
BASS = "0113942720|||MX1001"


def status_of(world: World, serial: str) -> UnitStatus:
    record = world.store.get_unit(serial)
    assert record is not None
    return record.status


def test_paid_order_sells_the_unit_withdraws_it_everywhere_and_reports_it_once(
    world: World,
) -> None:
    world.host.inventory_pass()
    order_id = world.a.place_order([(GUITAR, 1)])

    summary = world.host.order_pass()

    assert status_of(world, "US210033734") == UnitStatus.SOLD
    assert GUITAR not in world.a.live() and GUITAR not in world.b.live()
    assert next(iter(world.pos.orders.values()))["lines"] == [["0113942719", "US210033734", 1]]
    assert summary.counts("shop_a").orders == 1
    assert summary.counts("shop_a").sales_reported == 1
    record = world.store.get_outbox("shop_a", order_id)
    assert record is not None and record.state == OutboxState.REPORTED
    assert record.receipt is not None and "AIM-1" in record.receipt

    calls = world.pos.state["calls"]
    world.advance(minutes=5)
    again = world.host.order_pass()
    assert world.pos.state["calls"] == calls  # nothing reported twice
    assert again.counts("shop_a").sales_reported == 0


def test_the_sold_unit_stays_withdrawn_when_the_pos_has_not_caught_up(world: World) -> None:
    world.host.inventory_pass()
    world.a.place_order([(GUITAR, 1)])
    world.host.order_pass()
    # The POS still says "in stock" for it (AIM keeps web orders open); a change elsewhere in
    # the POS brings the unit back through inventory: it must not be relisted.
    world.pos.set_unit("0113942719", "US210033734", price="1.00")

    world.host.inventory_pass()

    assert GUITAR not in world.a.live() | world.b.live()
    assert status_of(world, "US210033734") == UnitStatus.SOLD


def test_pending_order_reserves_then_payment_sells(world: World) -> None:
    world.host.inventory_pass()
    order_id = world.b.place_order([(BASS, 1)], status=FinancialStatus.PENDING)

    world.host.order_pass()
    assert status_of(world, "MX1001") == UnitStatus.RESERVED
    assert BASS not in world.a.live() | world.b.live()
    assert world.pos.orders == {}  # not paid: nothing reported yet
    record = world.store.get_outbox("shop_b", order_id)
    assert record is not None and record.state == OutboxState.WAITING

    world.b.set_order_status(order_id, FinancialStatus.PAID)
    world.host.order_pass()
    assert status_of(world, "MX1001") == UnitStatus.SOLD
    assert len(world.pos.orders) == 1
    moves = [(m.from_status.value, m.to_status.value) for m in world.store.history("MX1001")]
    assert moves[1:] == [("in_stock", "reserved"), ("reserved", "sold")]


def test_unpaid_order_cancelled_releases_the_reservation_and_relists(world: World) -> None:
    world.host.inventory_pass()
    order_id = world.b.place_order([(BASS, 1)], status=FinancialStatus.PENDING)
    world.host.order_pass()

    world.b.set_order_status(order_id, FinancialStatus.CANCELLED)
    world.host.order_pass()

    assert status_of(world, "MX1001") == UnitStatus.IN_STOCK
    assert BASS in world.a.live() and BASS in world.b.live()
    assert world.pos.orders == {}
    assert world.store.get_claim("MX1001") is None


@pytest.mark.parametrize("ended", [FinancialStatus.CANCELLED, FinancialStatus.REFUNDED])
def test_cancelled_before_reported_is_not_reported_and_the_unit_is_relisted(
    world: World, ended: FinancialStatus
) -> None:
    # A sale backing off (the POS unreachable) may end too: the POS never had it.
    world.host.inventory_pass()
    world.pos.report_failures.append(RetryableRemoteError("AIM is down"))
    order_id = world.a.place_order([(GUITAR, 1)])
    world.host.order_pass()
    record = world.store.get_outbox("shop_a", order_id)
    assert record is not None and record.state == OutboxState.PENDING and record.attempts == 1

    world.a.set_order_status(order_id, ended)
    world.advance(hours=2)
    world.host.order_pass()

    assert world.pos.orders == {}
    record = world.store.get_outbox("shop_a", order_id)
    assert record is not None and record.state == OutboxState.CANCELLED
    assert record.note == "cancelled before it was reported: unit relisted"
    assert status_of(world, "US210033734") == UnitStatus.IN_STOCK
    assert GUITAR in world.a.live() and GUITAR in world.b.live()


def test_refunded_after_reported_is_recorded_and_the_pos_decides(world: World) -> None:
    world.host.inventory_pass()
    order_id = world.a.place_order([(GUITAR, 1)])
    world.host.order_pass()

    world.a.set_order_status(order_id, FinancialStatus.REFUNDED)
    world.host.order_pass()

    record = world.store.get_outbox("shop_a", order_id)
    assert record is not None and record.state == OutboxState.REPORTED
    assert record.financial_status == "refunded"
    assert "the POS decides" in (record.note or "")
    assert GUITAR not in world.a.live()  # still sold until the POS says otherwise
    world.pos.set_unit("0113942719", "US210033734", status="returned")
    world.host.inventory_pass()
    world.pos.set_unit("0113942719", "US210033734", status="in_stock")
    world.host.inventory_pass()
    assert GUITAR in world.a.live()


def test_same_unit_sold_on_two_channels_first_wins_second_is_a_conflict(world: World) -> None:
    world.host.inventory_pass()
    first = world.a.place_order([(GUITAR, 1)])
    second = world.b.place_order([(GUITAR, 1)])

    summary = world.host.order_pass()

    assert len(world.pos.orders) == 1
    assert next(iter(world.pos.orders)) == f"#{first}@shop_a"
    conflict = world.store.get_outbox("shop_b", second)
    assert conflict is not None and conflict.state == OutboxState.CONFLICT
    assert first in (conflict.note or "") and "shop_a" in (conflict.note or "")
    [quarantined] = world.store.quarantined(kind="conflict")
    assert quarantined.key == f"shop_b:{second}"
    assert summary.counts("shop_b").conflicts == 1
    assert not summary.ok

    # Cancelling the losing order settles the conflict; the unit stays sold to the winner.
    world.b.set_order_status(second, FinancialStatus.CANCELLED)
    world.host.order_pass()
    conflict = world.store.get_outbox("shop_b", second)
    assert conflict is not None and conflict.state == OutboxState.CANCELLED
    assert status_of(world, "US210033734") == UnitStatus.SOLD


def test_bad_orders_are_quarantined_and_the_others_go_on(world: World) -> None:
    world.host.inventory_pass()
    unknown = world.a.place_order([("0113942719|||NOPE", 1)])
    malformed = world.a.place_order([("0113942719|||BAD|X", 1)])
    padded_serial = world.a.place_order([("0113942719|||US210033735 ", 1)])
    good = world.a.place_order([(BASS, 1)])

    summary = world.host.order_pass()

    reasons = {q.key: q.reason for q in world.store.quarantined(kind="order")}
    assert "unknown serial 'NOPE'" in reasons[f"shop_a:{unknown}"]
    assert "'|'" in reasons[f"shop_a:{malformed}"]
    # Names no known unit exactly: nothing is claimed, a person looks.
    assert "whitespace" in reasons[f"shop_a:{padded_serial}"]
    assert status_of(world, "US210033735") == UnitStatus.IN_STOCK
    assert summary.counts("shop_a").quarantined == 3
    assert [o["lines"] for o in world.pos.orders.values()] == [[["0113942720", "MX1001", 1]]]
    assert world.store.get_outbox("shop_a", good) is not None
    assert world.store.get_cursor("shop_a", "orders") is not None


def test_an_order_is_never_held_hostage_by_a_line_that_is_not_a_unit(world: World) -> None:
    # Issue 15 #1: a custom line with no SKU, a tip, a gift card, a plain product the POS does
    # not carry, a shipping-protection line, beside two guitars and strings the POS carries.
    world.pos.plain_skus = {"STRINGS-10"}
    world.host.inventory_pass()
    order_id = world.a.place_order(
        [
            (GUITAR, 1),
            (None, 1),  # "Setup service": a custom line
            ("PLAIN-STRAP", 1),
            ("", 1),  # a tip, as some shops send it: an empty SKU
            ("STRINGS-10", 2),
            ("ROUTEINS", 1),  # shipping protection
            (BASS, 1),
        ]
    )

    summary = world.host.order_pass()

    for serial in ("US210033734", "MX1001"):
        assert status_of(world, serial) == UnitStatus.SOLD
    assert not {GUITAR, BASS} & (world.a.live() | world.b.live())
    [sale] = world.pos.orders.values()
    assert sorted(sale["lines"], key=str) == sorted(
        [["0113942719", "US210033734", 1], ["0113942720", "MX1001", 1], ["STRINGS-10", None, 2]],
        key=str,
    )
    record = world.store.get_outbox("shop_a", order_id)
    assert record is not None and record.state == OutboxState.REPORTED
    note = record.note or ""
    assert f"line {order_id}-2 has no SKU" in note and f"line {order_id}-4 has no SKU" in note
    assert "PLAIN-STRAP" in note and "ROUTEINS" in note and "STRINGS-10" not in note
    assert {line.sku for line in record.sale.lines} == {"0113942719", "0113942720", "STRINGS-10"}
    assert world.store.quarantined() == []
    assert summary.counts("shop_a").sales_reported == 1
    # Refused once for its plain lines, then taken without them: two calls, never a third.
    assert world.pos.report_calls(f"#{order_id}", "shop_a") == 2
    world.advance(minutes=5)
    world.a.edit_order(order_id)
    world.host.order_pass()
    assert world.pos.report_calls(f"#{order_id}", "shop_a") == 2
    # Read again, the sale on record is still what the POS took.
    again = world.store.get_outbox("shop_a", order_id)
    assert again is not None and again.sale == record.sale
    assert again.order_updated_at > record.order_updated_at


def test_a_refusal_that_names_no_line_is_answered_by_reporting_the_units_alone(
    world: World,
) -> None:
    world.host.inventory_pass()
    world.pos.report_failures.append(RefusedError("AIM: item not found"))
    order_id = world.a.place_order([(GUITAR, 1), ("GIFT-CARD-50", 1)])

    world.host.order_pass()

    [sale] = world.pos.orders.values()
    assert sale["lines"] == [["0113942719", "US210033734", 1]]
    record = world.store.get_outbox("shop_a", order_id)
    assert record is not None and record.state == OutboxState.REPORTED
    assert "GIFT-CARD-50" in (record.note or "") and "item not found" in (record.note or "")


def test_an_order_of_plain_lines_the_pos_refuses_fails_for_a_person(tmp_path) -> None:
    w = build_world(tmp_path, sync=SyncSettings(workers=1, report_orders="all"))
    w.pos.plain_skus = set()
    order_id = w.a.place_order([("PLAIN-STRAP", 1), (None, 1)])
    w.host.order_pass()
    record = w.store.get_outbox("shop_a", order_id)
    assert record is not None and record.state == OutboxState.FAILED
    assert "PLAIN-STRAP" in (record.last_error or "")
    w.store.close()


def test_a_unit_sold_with_quantity_two_is_claimed_reported_once_and_the_excess_is_a_conflict(
    world: World,
) -> None:
    world.host.inventory_pass()
    order_id = world.a.place_order([(OTHER, 2)])

    summary = world.host.order_pass()

    assert status_of(world, "US210033735") == UnitStatus.SOLD
    assert OTHER not in world.a.live() | world.b.live()
    assert [o["lines"] for o in world.pos.orders.values()] == [[["0113942719", "US210033735", 1]]]
    [line] = world.store.quarantined(kind="order_line")
    assert line.key == f"shop_a:{order_id}" and "quantity 2" in line.reason
    assert "conflict" in line.reason
    assert summary.counts("shop_a").conflicts == 1


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (" 0113942719|||US210033734", "whitespace"),
        ("0113942719 |||US210033734", "whitespace"),
        ("0113942720|||US210033734", "belongs to SKU '0113942719'"),
    ],
)
def test_a_bad_line_naming_a_unit_exactly_claims_and_withdraws_it_first(
    world: World, raw: str, why: str
) -> None:
    world.host.inventory_pass()
    order_id = world.a.place_order([(raw, 1)])

    world.host.order_pass()

    # Sold once is bad enough: the unit is off every channel before anyone looks.
    assert status_of(world, "US210033734") == UnitStatus.SOLD
    assert GUITAR not in world.a.live() | world.b.live()
    assert world.pos.orders == {}  # what was sold is for a person to say
    record = world.store.get_outbox("shop_a", order_id)
    assert record is not None and record.state == OutboxState.CONFLICT
    [conflict] = world.store.quarantined(kind="conflict")
    assert why in conflict.reason and "US210033734" in conflict.reason

    # The shop cancels the order: the unit is for sale again.
    world.a.set_order_status(order_id, FinancialStatus.CANCELLED)
    world.host.order_pass()
    assert status_of(world, "US210033734") == UnitStatus.IN_STOCK
    assert GUITAR in world.a.live() and GUITAR in world.b.live()
    assert world.store.quarantined() == []


def test_a_bad_line_beside_a_good_one_holds_its_unit_and_the_good_one_is_reported(
    world: World,
) -> None:
    world.host.inventory_pass()
    order_id = world.a.place_order([(BASS, 1), ("0113942720|||US210033734", 1)])

    world.host.order_pass()

    assert status_of(world, "US210033734") == UnitStatus.SOLD
    assert GUITAR not in world.a.live() | world.b.live()
    assert [o["lines"] for o in world.pos.orders.values()] == [[["0113942720", "MX1001", 1]]]
    [line] = world.store.quarantined(kind="order_line")
    assert line.key == f"shop_a:{order_id}" and "belongs to SKU" in line.reason
    record = world.store.get_outbox("shop_a", order_id)
    assert record is not None and record.state == OutboxState.REPORTED

    # Cancelled after it was reported: the POS decides the bass, but it never heard of the
    # guitar, which the order only held: that one is for sale again.
    world.a.set_order_status(order_id, FinancialStatus.CANCELLED)
    world.host.run_once()
    assert status_of(world, "US210033734") == UnitStatus.IN_STOCK
    assert GUITAR in world.a.live() and GUITAR in world.b.live()
    assert status_of(world, "MX1001") == UnitStatus.SOLD
    assert BASS not in world.a.live() | world.b.live()


def test_a_reserved_unit_sold_at_the_counter_makes_the_web_payment_a_conflict(
    world: World,
) -> None:
    # Issue 15 #8: reserved by an unpaid web order, then sold in the POS; the web order is paid.
    world.host.inventory_pass()
    order_id = world.b.place_order([(BASS, 1)], status=FinancialStatus.PENDING)
    world.host.order_pass()
    assert status_of(world, "MX1001") == UnitStatus.RESERVED
    world.pos.set_unit("0113942720", "MX1001", status="sold")
    world.host.inventory_pass()

    world.b.set_order_status(order_id, FinancialStatus.PAID)
    summary = world.host.order_pass()

    assert world.pos.orders == {}
    assert world.pos.report_calls(f"#{order_id}", "shop_b") == 0
    record = world.store.get_outbox("shop_b", order_id)
    assert record is not None and record.state == OutboxState.CONFLICT
    [conflict] = world.store.quarantined(kind="conflict")
    assert "sold in the POS" in conflict.reason and "MX1001" in conflict.reason
    assert summary.counts("shop_b").conflicts == 1
    assert status_of(world, "MX1001") == UnitStatus.SOLD
    assert BASS not in world.a.live() | world.b.live()

    # Refunding the web order settles the conflict; the counter sale stands: not relisted.
    world.b.set_order_status(order_id, FinancialStatus.REFUNDED)
    world.host.order_pass()
    world.host.run_once()
    assert status_of(world, "MX1001") == UnitStatus.SOLD
    assert BASS not in world.a.live() | world.b.live()
    assert world.pos.orders == {}


def test_a_reported_order_changed_afterwards_is_never_reported_again(world: World) -> None:
    # Issue 15 #16: fulfilled, a note or the address edited: a new updated_at, same sale.
    world.host.inventory_pass()
    order_id = world.a.place_order([(GUITAR, 1)])
    world.host.order_pass()
    record = world.store.get_outbox("shop_a", order_id)
    assert record is not None and record.state == OutboxState.REPORTED
    assert world.pos.report_calls(f"#{order_id}", "shop_a") == 1

    for _ in range(3):
        world.advance(minutes=5)
        world.a.edit_order(order_id)
        world.host.order_pass()

    assert world.pos.report_calls(f"#{order_id}", "shop_a") == 1
    again = world.store.get_outbox("shop_a", order_id)
    assert again is not None and again.state == OutboxState.REPORTED
    assert again.order_updated_at > record.order_updated_at  # it was read again
    assert again.receipt == record.receipt


def test_plain_sku_lines_travel_in_the_sale(world: World) -> None:
    world.host.inventory_pass()
    world.a.place_order([(GUITAR, 1), ("STRINGS-10", 3)])
    world.a.place_order([("PICKS", 1)])  # no serialized line: not ours by default

    world.host.order_pass()

    [order] = world.pos.orders.values()
    assert sorted(order["lines"]) == [["0113942719", "US210033734", 1], ["STRINGS-10", None, 3]]


def test_report_all_orders_when_asked(tmp_path) -> None:
    w = build_world(tmp_path, sync=SyncSettings(workers=1, report_orders="all"))
    w.a.place_order([("PICKS", 2)])
    w.host.order_pass()
    assert [o["lines"] for o in w.pos.orders.values()] == [[["PICKS", None, 2]]]
    w.store.close()


def test_transient_report_failures_back_off_and_never_duplicate(world: World) -> None:
    world.host.inventory_pass()
    world.pos.report_failures += [RetryableRemoteError("timeout"), RetryableRemoteError("503")]
    order_id = world.a.place_order([(GUITAR, 1)])

    world.host.order_pass()  # attempt 1 fails
    world.host.order_pass()  # not due yet: the backoff holds it
    record = world.store.get_outbox("shop_a", order_id)
    assert record is not None and record.attempts == 1 and record.next_attempt_at is not None
    assert "timeout" in (record.last_error or "")

    world.advance(minutes=1, seconds=1)
    world.host.order_pass()  # attempt 2 fails; next wait is 2 minutes
    world.advance(minutes=1)
    world.host.order_pass()
    assert world.pos.orders == {}
    world.advance(minutes=2)
    world.host.order_pass()
    assert len(world.pos.orders) == 1
    record = world.store.get_outbox("shop_a", order_id)
    assert record is not None and record.state == OutboxState.REPORTED
    # Two failed calls and the one that took: the POS's rows would hide a repeat, calls do not.
    assert world.pos.report_calls(f"#{order_id}", "shop_a") == 3
    world.advance(hours=2)
    world.host.order_pass()
    assert world.pos.report_calls(f"#{order_id}", "shop_a") == 3


def test_refused_sale_is_failed_for_a_person_and_can_be_retried(world: World) -> None:
    world.host.inventory_pass()
    world.pos.report_failures.append(RefusedError("AIM: SKU is not licensed for Active-e"))
    order_id = world.a.place_order([(GUITAR, 1)])

    summary = world.host.order_pass()
    record = world.store.get_outbox("shop_a", order_id)
    assert record is not None and record.state == OutboxState.FAILED
    assert "not licensed" in (record.last_error or "")
    assert summary.counts("shop_a").sales_failed == 1

    world.host.order_pass()
    assert world.pos.orders == {}  # a failed sale waits for a person
    assert world.host.retry_sale("shop_a", order_id)
    world.host.order_pass()
    assert len(world.pos.orders) == 1


def test_overlap_window_rereads_and_dedupes(world: World) -> None:
    world.host.inventory_pass()
    world.a.place_order([(GUITAR, 1)])
    world.host.order_pass()
    calls = world.pos.state["calls"]

    # An order whose update time lands just before the saved cursor (a late-indexed order).
    late = world.a.place_order([(BASS, 1)])
    world.a.state["orders"][late]["updated_at"] = (
        world.a.clock - timedelta(seconds=30)
    ).isoformat()
    world.a.save()
    world.host.order_pass()

    assert world.pos.state["calls"] == calls + 1
    assert status_of(world, "MX1001") == UnitStatus.SOLD


def test_quarantined_order_can_be_retried_after_the_cause_is_fixed(world: World) -> None:
    world.host.inventory_pass()
    world.a.place_order([("NEWSKU|||N1", 1)])
    world.host.order_pass()
    [record] = world.store.quarantined(kind="order")

    world.pos.add_product("NEWSKU", ["N1"])
    world.host.inventory_pass()
    assert world.host.retry_quarantined(record.id) == "processed"
    world.host.order_pass()

    assert world.store.quarantined(kind="order") == []
    assert status_of(world, "N1") == UnitStatus.SOLD
    assert len(world.pos.orders) == 1


@pytest.mark.parametrize("workers", [1, 4])
def test_many_orders_over_both_channels(tmp_path, workers: int) -> None:
    w = build_world(tmp_path, sync=SyncSettings(workers=workers))
    serials = [f"S{i:03}" for i in range(40)]
    w.pos.add_product("P", serials)
    w.host.inventory_pass()
    for i, serial in enumerate(serials[:30]):
        (w.a if i % 2 else w.b).place_order([(f"P|||{serial}", 1)])

    w.host.order_pass()

    assert len(w.pos.orders) == 30
    assert w.a.live() == w.b.live() == {f"P|||{s}" for s in serials[30:]}
    w.store.close()


def test_an_order_cancelled_before_any_pass_saw_it_relists_the_unit_on_its_channel(
    world: World,
) -> None:
    # Found by the reliability suite: a shopper's order took the channel's stock and was
    # cancelled (or refunded) before a pass read it; channels that do not restock on
    # cancellation (BigCommerce, Magento without "return to stock") kept the unit at 0 while
    # the store believed it live, so it was never offered there again.
    world.host.inventory_pass()
    order_id = world.a.place_order([(GUITAR, 1)])
    world.a.set_order_status(order_id, FinancialStatus.CANCELLED)
    assert GUITAR not in world.a.live()  # the memory channel does not restock

    world.host.order_pass()

    record = world.store.get_outbox("shop_a", order_id)
    assert record is not None and record.state == OutboxState.CANCELLED
    assert status_of(world, "US210033734") == UnitStatus.IN_STOCK
    assert GUITAR in world.a.live() and GUITAR in world.b.live()
    writes = world.a.state["writes"]
    world.host.order_pass()
    assert world.a.state["writes"] == writes  # put right once, not on every pass


def test_a_conflict_settled_by_cancelling_the_losing_order_leaves_the_quarantine(
    world: World,
) -> None:
    # Found by the reliability suite: the outbox said "conflict settled" but the conflict
    # stayed in the quarantine, so `quarantine list` showed a person work already done.
    world.host.inventory_pass()
    world.a.place_order([(GUITAR, 1)])
    second = world.b.place_order([(GUITAR, 1)])
    world.host.order_pass()
    assert [q.key for q in world.store.quarantined(kind="conflict")] == [f"shop_b:{second}"]

    world.b.set_order_status(second, FinancialStatus.CANCELLED)
    world.host.order_pass()

    assert world.store.quarantined(kind="conflict") == []
    assert status_of(world, "US210033734") == UnitStatus.SOLD


def test_a_clean_sale_takes_a_unit_over_from_a_bad_line_that_only_held_it(world: World) -> None:
    # A bad line held the guitar (to protect it) before the clean sale of the same guitar was
    # read: the clean sale wins and is reported; the bad one stays a conflict for a person.
    world.host.inventory_pass()
    bad = world.a.place_order([("0113942720|||US210033734", 1)])
    world.host.order_pass()
    clean = world.b.place_order([(GUITAR, 1)])
    world.host.order_pass()

    winner = world.store.get_outbox("shop_b", clean)
    assert winner is not None and winner.state == OutboxState.REPORTED
    assert [o["lines"] for o in world.pos.orders.values()] == [[["0113942719", "US210033734", 1]]]
    claim = world.store.get_claim("US210033734")
    assert claim is not None and (claim.channel, claim.order_id) == ("shop_b", clean)
    [conflict] = world.store.quarantined(kind="conflict")
    assert conflict.key == f"shop_a:{bad}"

    # The bad order is cancelled: the guitar stays sold to the clean one.
    world.a.set_order_status(bad, FinancialStatus.CANCELLED)
    world.host.run_once()
    assert status_of(world, "US210033734") == UnitStatus.SOLD
    assert GUITAR not in world.a.live() | world.b.live()


def test_a_line_removed_by_an_order_edit_claims_nothing(world: World) -> None:
    # An order edit leaves a removed line at quantity 0: it sells nothing, even a unit.
    world.host.inventory_pass()
    order_id = world.a.place_order(
        [(GUITAR, 1), (OTHER, 0), ("0113942720|||US210033736", 0), ("STRINGS-10", 0)]
    )

    world.host.order_pass()

    assert status_of(world, "US210033734") == UnitStatus.SOLD
    for serial in ("US210033735", "US210033736"):
        assert status_of(world, serial) == UnitStatus.IN_STOCK
    assert OTHER in world.a.live() and OTHER in world.b.live()
    assert [o["lines"] for o in world.pos.orders.values()] == [[["0113942719", "US210033734", 1]]]
    record = world.store.get_outbox("shop_a", order_id)
    assert record is not None and (record.note or "").count("has quantity 0") == 3
    assert world.store.quarantined() == []
