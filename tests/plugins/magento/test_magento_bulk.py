"""The asynchronous bulk path: children by one bulk while the store's consumers run, the
synchronous path when they do not (learnt by a bulk, and again after a while) and per failed
operation, and the fake's bulk endpoints as Magento answers them."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from typing import Any

import httpx
import pytest
from serialsync import (
    ConnectorContext,
    ListingAction,
    ListingChange,
    Product,
    PublishResult,
    SerializedUnit,
)
from serialsync_magento import MagentoConnector, MagentoSettings
from serialsync_magento.mapping import url_key
from serialsync_magento.pace import Pace

from tests.clocks import FakeClock

POS_SKU = "0113942719"
PRODUCT = Product(sku=POS_SKU, title="Gibson Les Paul", price=Decimal("2499.00"))
SERIALS = [f"US21{i:07d}" for i in range(30)]


def _upserts(serials: list[str], sku: str = POS_SKU) -> list[ListingChange]:
    return [
        ListingChange(unit=SerializedUnit(sku=sku, serial=s), action=ListingAction.UPSERT)
        for s in serials
    ]


def _kinds(fake: Any) -> Counter[str]:
    counts: Counter[str] = Counter()
    for request in fake.received:
        path = request.path.split("/rest/all", 1)[1]
        if path.startswith("/V1/bulk/"):
            path = "/V1/bulk/{uuid}/" + path.rsplit("/", 1)[1]
        elif path.startswith("/V1/configurable-products/"):
            path = "/V1/configurable-products/{sku}/children"
        counts[f"{request.method} {path}"] += 1
    return counts


@pytest.fixture
def clock(fake: Any) -> FakeClock:
    """The fake's clock, moved only by the connector's sleeps (see :func:`timed`)."""
    shared = FakeClock(0.0)
    fake.clock = shared
    fake.consumers = fake.consumers  # restarted on the new clock
    return shared


def timed(fake: Any, clock: FakeClock, **overrides: Any) -> MagentoConnector:
    """A connector on the fake whose sleeps move the fake's clock."""
    raw = {**fake.connector_settings(f"http://{fake.host}"), **overrides}
    context = ConnectorContext(
        name="magento-test", transport=fake.transport(), sleep=clock.sleep, clock=clock
    )
    return MagentoConnector(MagentoSettings.model_validate(raw), context)


# -- the plugin -------------------------------------------------------------------------------


def test_a_new_product_with_30_serials_costs_a_constant_number_of_requests(
    fake, make_connector, sleeps
):
    outcomes = make_connector().publish_variants(PRODUCT, _upserts(SERIALS))

    assert [o.result for o in outcomes] == [PublishResult.CREATED] * 30
    assert _kinds(fake) == {
        "GET /V1/products/attributes/serial_number": 1,
        "GET /V1/products/attribute-sets/4/attributes": 1,
        "GET /V1/products/attributes/serial_number/options": 1,
        "GET /V1/products": 1,  # any configurable product in the store? (once)
        "PUT /V1/products/attributes/serial_number": 1,  # the 30 options in one save
        "POST /async/bulk/V1/products": 1,  # the 30 children
        "GET /V1/bulk/{uuid}/detailed-status": 1,  # done, with each child's id
        "GET /V1/configurable-products/{sku}/children": 1,
        "POST /V1/products": 1,  # the parent, linking all 30
        "POST /V1/inventory/source-items": 1,
    }
    assert sleeps == [0.5]  # the first wait (the fake's consumers here take no time)
    children = fake.children_of(POS_SKU)
    assert len(children) == 30
    assert {x.stock for x in fake.listings()} == {1}
    assert {o.remote.variant_id for o in outcomes} == {str(c["id"]) for c in children}


def test_a_unit_counts_as_created_only_once_its_operation_completed(fake, clock):
    fake.consumers = 2
    fake.operation_time = 1.0  # 10 operations, 2 consumers: done 5 s after the bulk
    seen: list[tuple[float, int, int]] = []

    def watch(request: Any) -> None:
        if request.url.path.endswith("/detailed-status"):
            seen.append((clock.now, len(fake.products), len(fake.children_of(POS_SKU))))

    fake.on_request = watch
    outcomes = timed(fake, clock, concurrency=4).publish_variants(PRODUCT, _upserts(SERIALS[:10]))

    assert [o.result for o in outcomes] == [PublishResult.CREATED] * 10
    assert clock.now == pytest.approx(5.0)
    assert seen[-1][0] == pytest.approx(5.0)  # polled again when the estimate said done
    assert len(seen) <= 4  # the waits follow the consumers' pace, not a fixed short interval
    assert all(children == 0 for _t, _products, children in seen)  # nothing linked meanwhile
    assert {x.stock for x in fake.listings()} == {1}


def test_without_consumers_the_first_bulk_gives_up_and_the_connector_goes_synchronously(
    fake, clock
):
    fake.consumers = 0  # nothing takes the bulk's operations: they stay open
    connector = timed(fake, clock, concurrency=2, bulk_detect_timeout=30)
    first = connector.publish_variants(PRODUCT, _upserts(SERIALS[:5]))

    assert [o.result for o in first] == [PublishResult.CREATED] * 5
    assert 30 <= clock.now < 31  # waited the detection time once
    assert len(fake.children_of(POS_SKU)) == 5
    (bulk,) = fake.bulks.values()
    assert {op["status"] for op in bulk["operations"]} == {4}  # still open
    assert connector.bulk.consumers is False

    fake.received.clear()
    other = Product(sku="P2", title="Other", price=Decimal("10"))
    second = connector.publish_variants(other, _upserts(SERIALS[5:10], sku="P2"))
    assert [o.result for o in second] == [PublishResult.CREATED] * 5
    assert "POST /async/bulk/V1/products" not in _kinds(fake)  # remembered for a while
    assert _kinds(fake)["POST /V1/products"] == 6  # five children and the parent


def test_consumers_started_after_they_were_seen_stopped_are_used_once_detected_again(fake, clock):
    fake.consumers = 0
    connector = timed(fake, clock, concurrency=2, bulk_detect_timeout=10, bulk_redetect_after=300)

    def publish(sku: str) -> None:
        product = Product(sku=sku, title=sku, price=Decimal("10"))
        outcomes = connector.publish_variants(product, _upserts(SERIALS[:3], sku=sku))
        assert {o.result for o in outcomes} == {PublishResult.CREATED}

    publish("P1")  # detected: not running
    assert connector.bulk.consumers is False and len(fake.bulks) == 1
    fake.consumers = 1  # the merchant starts them
    clock.advance(299)
    publish("P2")
    assert len(fake.bulks) == 1  # within the interval: still synchronous, no bulk tried

    clock.advance(1)
    fake.received.clear()
    publish("P3")  # the interval is over: this bulk detects again, and they run
    assert len(fake.bulks) == 2
    assert connector.bulk.consumers is True
    assert "POST /async/bulk/V1/products" in _kinds(fake)
    assert _kinds(fake)["POST /V1/products"] == 1  # the parent only: children went by bulk


def test_consumers_still_stopped_at_the_redetection_cost_one_wait_per_interval(fake, clock):
    fake.consumers = 0
    connector = timed(fake, clock, concurrency=2, bulk_detect_timeout=10, bulk_redetect_after=300)
    for n in range(4):  # one product a minute
        product = Product(sku=f"P{n}", title="x", price=Decimal("10"))
        outcomes = connector.publish_variants(product, _upserts(SERIALS[:3], sku=f"P{n}"))
        assert {o.result for o in outcomes} == {PublishResult.CREATED}
        clock.advance(60)
    assert len(fake.bulks) == 1
    clock.advance(300)
    started = clock.now
    connector.publish_variants(
        Product(sku="P9", title="x", price=Decimal("10")), _upserts(SERIALS[:3], sku="P9")
    )
    assert len(fake.bulks) == 2  # tried again, and given up after the detection time
    assert 10 <= clock.now - started < 11
    assert connector.bulk.consumers is False
    assert not connector.bulk.usable  # the next try is another interval away


def test_bulk_forced_on_without_consumers_waits_the_detection_time_each_product(fake, clock):
    fake.consumers = 0
    connector = timed(fake, clock, bulk=True, concurrency=2, bulk_detect_timeout=10)
    for sku in ("P1", "P2"):
        product = Product(sku=sku, title=sku, price=Decimal("10"))
        outcomes = connector.publish_variants(product, _upserts(SERIALS[:3], sku=sku))
        assert {o.result for o in outcomes} == {PublishResult.CREATED}
    assert len(fake.bulks) == 2
    assert 20 <= clock.now < 22  # not bulk_timeout (600 s) for the second


def test_a_late_consumer_running_an_abandoned_operation_lists_nothing_again(fake, clock):
    fake.consumers = 0
    connector = timed(fake, clock, concurrency=2, bulk_detect_timeout=10)
    outcomes = connector.publish_variants(PRODUCT, _upserts(SERIALS[:3]))
    sold = outcomes[0]
    connector.publish_variants(
        PRODUCT,
        [
            ListingChange(
                unit=SerializedUnit(sku=POS_SKU, serial=sold.serial),
                action=ListingAction.WITHDRAW,
                remote=sold.remote,
            )
        ],
    )
    fake.consumers = 1  # the merchant starts them at last: the old operations run now
    clock.now += 60
    stock = {x.sku: x.stock for x in fake.listings()}
    (bulk,) = fake.bulks.values()
    assert {op["status"] for op in bulk["operations"]} == {1}
    assert stock[f"{POS_SKU}|||{sold.serial}"] == 0  # a product save sets no stock
    assert len(fake.children_of(POS_SKU)) == 3


def test_a_failed_operation_is_saved_synchronously_and_fails_as_it_would_there(
    fake, make_connector
):
    taken = SerializedUnit(sku=POS_SKU, serial="TAKEN")
    fake.url_keys[url_key(PRODUCT.title, taken.integration_id)] = "SOMEONE-ELSE"
    fake.products["SOMEONE-ELSE"] = {"sku": "SOMEONE-ELSE", "id": 1, "custom_attributes": []}
    outcomes = make_connector(concurrency=1).publish_variants(
        PRODUCT, _upserts(["TAKEN", "FREE", "FREE2"])
    )
    by_serial = {o.serial: o for o in outcomes}
    failed = by_serial["TAKEN"]
    assert failed.result is PublishResult.FAILED
    assert failed.retryable is False
    assert "URL key for specified store already exists" in (failed.reason or "")
    assert by_serial["FREE"].result is PublishResult.CREATED
    assert sorted(c["sku"] for c in fake.children_of(POS_SKU)) == [
        f"{POS_SKU}|||FREE",
        f"{POS_SKU}|||FREE2",
    ]
    (bulk,) = fake.bulks.values()
    first = bulk["operations"][0]
    assert (first["status"], first["error_code"]) == (3, 0)
    assert first["result_message"] == "URL key for specified store already exists."
    # The bulk's failure, then the synchronous save that decided the outcome.
    assert _kinds(fake)["POST /V1/products"] == 2


def test_a_few_new_children_go_side_by_side_without_a_bulk(fake, make_connector):
    outcomes = make_connector(concurrency=6).publish_variants(PRODUCT, _upserts(SERIALS[:6]))
    assert {o.result for o in outcomes} == {PublishResult.CREATED}
    assert not fake.bulks


def test_bulk_off_never_sends_one(fake, make_connector):
    make_connector(bulk=False, concurrency=1).publish_variants(PRODUCT, _upserts(SERIALS[:5]))
    assert not fake.bulks


def test_a_bulk_retry_after_a_crash_adopts_options_and_children(fake, make_connector):
    make_connector(concurrency=1).publish_variants(PRODUCT, _upserts(SERIALS[:3]))
    options = len(fake.attributes["serial_number"]["options"])
    again = make_connector(concurrency=1).publish_variants(PRODUCT, _upserts(SERIALS[:3]))
    assert {o.result for o in again} == {PublishResult.CREATED}
    assert len(fake.bulks) == 2
    assert len(fake.attributes["serial_number"]["options"]) == options
    assert len(fake.children_of(POS_SKU)) == 3
    assert len([p for p in fake.products.values() if p["type_id"] == "simple"]) == 3


# -- the fake ---------------------------------------------------------------------------------


def _bulk(fake: Any, make_connector: Any, items: list[Any], route: str = "products") -> str:
    connector: MagentoConnector = make_connector()
    return connector.client.bulk(route, items, "test")


def test_the_fakes_operation_is_the_synchronous_endpoints_work(fake, make_connector, contract):
    good = {"product": {"sku": "A", "name": "A", "attribute_set_id": 4, "price": 1.0}}
    nameless = {"product": {"sku": "B"}}
    uuid = _bulk(fake, make_connector, [good, nameless])
    connector = make_connector()
    sync_refusal = None
    try:
        connector.client.save_product(nameless["product"])
    except Exception as exc:  # the synchronous answer to the same body
        sync_refusal = str(exc)
    answer = connector.client._call("GET", f"bulk/{uuid}/detailed-status", "status")
    ok, refused = answer["operations_list"]
    assert ok["status"] == 1
    assert ok["result_message"].startswith("Service execution success ")
    assert json.loads(ok["result_serialized_data"])["id"] == fake.product("A")["id"]
    assert json.loads(json.loads(ok["serialized_data"])["meta_information"]) == good
    assert refused["status"] == 3
    assert refused["error_code"] == 0
    assert refused["result_message"] in (sync_refusal or "")
    assert answer["operation_count"] == 2
    assert answer["description"].startswith("Topic async.magento.catalog.api.")
    schema = contract.paths["/V1/bulk/{bulkUuid}/detailed-status"]["get"]["responses"]["200"]
    # Magento answers null for what an operation has not got (a success's error code); the
    # Swagger 2.0 schema cannot say so: nulls are left out of the check.
    shown = {
        **answer,
        "operations_list": [
            {k: v for k, v in op.items() if v is not None} for op in answer["operations_list"]
        ],
    }
    problems = contract.check_value(shown, schema["schema"], "detailed-status")
    assert [p for p in problems if "missing" not in p] == []
    short = connector.client._call("GET", f"bulk/{uuid}/status", "status")
    assert set(short["operations_list"][0]) == {"id", "status", "result_message", "error_code"}
    count = connector.client._call("GET", f"bulk/{uuid}/operation-status/3", "count")
    assert count == 1


def test_the_fakes_operations_stay_open_while_no_consumer_runs(fake, make_connector, clock):
    fake.consumers = 0
    uuid = _bulk(fake, make_connector, [{"product": {"sku": "A", "name": "A"}}])
    clock.now += 3600
    client = make_connector().client
    assert [op["status"] for op in client.bulk_detailed_status(uuid)] == [4]
    assert fake.product("A") is None
    fake.consumers = 1
    clock.now += 0.0  # an operation of no latency is done the moment a consumer runs
    assert [op["status"] for op in client.bulk_detailed_status(uuid)] == [1]


def test_the_fakes_consumers_each_work_one_operation_at_a_time(fake, make_connector, clock):
    fake.consumers = 2
    fake.operation_time = 1.0
    items = [{"product": {"sku": f"S{i}", "name": f"S{i}"}} for i in range(5)]
    uuid = _bulk(fake, make_connector, items)
    client = make_connector().client
    done = []
    for _second in range(4):
        clock.now += 1.0
        done.append(sum(op["status"] == 1 for op in client.bulk_detailed_status(uuid)))
    assert done == [2, 4, 5, 5]


def test_the_fake_refuses_a_bulk_that_is_not_an_array_or_of_an_unknown_route(fake, make_connector):
    client = make_connector().client
    with pytest.raises(Exception, match="expected to be an array"):
        client.bulk("products", [], "empty")
    with pytest.raises(Exception, match="does not match any route"):
        client.bulk("nowhere", [{"a": 1}], "nowhere")
    # Magento's Phrase names its argument: the answer's parameters are an object, which the
    # client fills into the message as it fills %1.
    with pytest.raises(Exception, match="Bulk uuid no-such-bulk not exist"):
        client.bulk_detailed_status("no-such-bulk")
    answer = fake.handle(
        httpx.Request(
            "GET",
            "https://magento.example/rest/default/V1/bulk/no-such-bulk/detailed-status",
            headers={"Authorization": f"Bearer {fake.token}"},
        )
    )
    assert answer.status_code == 404
    assert answer.json() == {
        "message": "Bulk uuid %bulkUuid not exist",
        "parameters": {"bulkUuid": "no-such-bulk"},
    }
    fake.received.clear()  # sent wrong on purpose: not for the contract check


# -- 'auto' by measured pace ------------------------------------------------------------------

CHILDREN = 20


def paced(fake: Any, clock: FakeClock, consumers: int) -> MagentoConnector:
    """A connector sending one request at a time (threads would interleave the fake clock's
    sleeps and blur each save's time) to a store whose requests take 0.25 s and whose
    consumers take 1 s an operation: 20 synchronous saves take 5 s, a bulk of 20 about 20 s
    with one consumer and 3 s with eight."""
    fake.consumers = consumers
    fake.operation_time = 1.0
    fake.on_request = lambda _request: clock.sleep(0.25)
    return timed(fake, clock, concurrency=1, bulk_detect_timeout=30)


def publish_new(fake: Any, connector: MagentoConnector, sku: str) -> str:
    """Publish a new product of 20 units; which path its children took."""
    fake.received.clear()
    product = Product(sku=sku, title=f"Guitar {sku}", price=Decimal("100"))
    outcomes = connector.publish_variants(product, _upserts(SERIALS[:CHILDREN], sku=sku))
    assert [o.result for o in outcomes] == [PublishResult.CREATED] * CHILDREN
    kinds = _kinds(fake)
    bulks, saves = kinds["POST /async/bulk/V1/products"], kinds["POST /V1/products"]
    # Each child saved once: by the bulk, or synchronously (with the parent's one save).
    assert (bulks, saves) in {(1, 1), (0, CHILDREN + 1)}, kinds
    return "bulk" if bulks else "sync"


def assert_each_unit_once(fake: Any, skus: list[str]) -> None:
    """Every unit of every product is one child, linked once, and nothing else was made."""
    for sku in skus:
        children = sorted(c["sku"] for c in fake.children_of(sku))
        assert children == sorted(f"{sku}|||{s}" for s in SERIALS[:CHILDREN])
    simple = [p for p in fake.products.values() if p["type_id"] == "simple"]
    assert len(simple) == CHILDREN * len(skus)


@pytest.mark.parametrize(
    ("consumers", "first", "later"),
    [
        # The first bulk shows the consumers run; the paths take turns until each was
        # measured twice; from then on the faster one. Once the other path's measurement is
        # bulk_redetect_after old, one product measures it again.
        (1, ["bulk", "sync", "bulk", "sync", "sync", "sync"], ["bulk", "sync"]),
        (8, ["bulk", "sync", "bulk", "sync", "bulk", "bulk"], ["sync", "bulk"]),
    ],
)
def test_auto_chooses_the_faster_path_by_the_consumers_measured_pace(
    fake, clock, consumers: int, first: list[str], later: list[str]
):
    connector = paced(fake, clock, consumers=consumers)
    assert [publish_new(fake, connector, f"P{n}") for n in range(6)] == first
    pace = connector.bulk.pace
    # One consumer: an operation a second, 20 s for 20; eight: 3 s; and the request, polls.
    low, high = (20, 25) if consumers == 1 else (3, 5)
    assert low < (pace.bulk_time(CHILDREN) or 0) < high
    assert pace.sync_time(CHILDREN) == pytest.approx(5.0)
    assert connector.bulk.chooses(CHILDREN) is (consumers == 8)

    clock.advance(600)
    assert [publish_new(fake, connector, f"Q{n}") for n in range(2)] == later
    assert_each_unit_once(fake, [f"P{n}" for n in range(6)] + ["Q0", "Q1"])


def test_a_few_children_saved_side_by_side_are_no_measure_of_the_synchronous_pace(fake, clock):
    # Two saves over one thread say nothing of a full round: only a product the bulk could
    # have taken is timed, so a store of small products does not skew the choice.
    connector = paced(fake, clock, consumers=1)
    publish_new(fake, connector, "P0")  # by bulk
    for n in range(3):
        product = Product(sku=f"small{n}", title="x", price=Decimal("10"))
        outcomes = connector.publish_variants(product, _upserts(SERIALS[:2], sku=f"small{n}"))
        assert {o.result for o in outcomes} == {PublishResult.CREATED}
    assert connector.bulk.pace.sync_rate is None
    assert publish_new(fake, connector, "P1") == "sync"  # still its turn
    assert connector.bulk.pace.sync_rate == pytest.approx(CHILDREN / 5.0)


def test_auto_follows_consumers_that_slow_down_and_come_back(fake, clock):
    connector = paced(fake, clock, consumers=8)
    before = [publish_new(fake, connector, f"P{n}") for n in range(4)]
    assert before == ["bulk", "sync", "bulk", "sync"]

    fake.consumers = 1  # seven of the store's eight consumers stopped
    slowed = [publish_new(fake, connector, f"S{n}") for n in range(4)]
    # One slow bulk could be a hiccup; the second makes the median, and the choice, turn.
    assert slowed == ["bulk", "bulk", "sync", "sync"]

    fake.consumers = 8  # back: each bulk_redetect_after, one product measures the bulk
    clock.advance(600)
    again = [publish_new(fake, connector, f"A{n}") for n in range(2)]
    assert again == ["bulk", "sync"]  # one fast bulk against two slow: not yet
    clock.advance(600)
    back = [publish_new(fake, connector, f"B{n}") for n in range(3)]
    # Two fast bulks of three turn it back; the synchronous measurement is as old by now,
    # and is taken afresh once.
    assert back == ["bulk", "sync", "bulk"]
    assert_each_unit_once(
        fake,
        [f"P{n}" for n in range(4)]
        + [f"S{n}" for n in range(4)]
        + [f"A{n}" for n in range(2)]
        + [f"B{n}" for n in range(3)],
    )


def test_the_pace_compares_expected_times_with_the_margin_in_the_bulks_favour():
    pace = Pace(margin=0.25)
    assert pace.prefers_bulk(20) is None  # nothing measured
    pace.observe_bulk(20, 10.0)  # 2 operations a second
    assert pace.prefers_bulk(20) is None  # the synchronous path not measured
    pace.observe_sync(20, 6.0)
    assert pace.sync_time(20) == pytest.approx(6.0)
    assert pace.bulk_time(20) == pytest.approx(10.0)
    assert pace.prefers_bulk(20) is False  # 10 > 6 x 1.25
    pace.observe_sync(20, 8.0)
    pace.observe_sync(20, 8.0)  # the median of the last three: 8 s
    assert pace.prefers_bulk(20) is True  # 10 <= 8 x 1.25
    pace.observe_bulk(0, 5.0)  # nothing done says nothing about the pace
    pace.observe_sync(20, 0.0)
    assert pace.bulk_rate == 2.0
    assert pace.sync_time(20) == pytest.approx(8.0)


def test_one_path_held_up_once_does_not_turn_the_choice_twice_does():
    # Seen in the scratch bench at load 17: one synchronous batch held up (the host's threads
    # waiting for a core) moved a moving average enough to choose one consumer's bulk, and
    # the synchronous path was then not measured again for bulk_redetect_after.
    pace = Pace(margin=0.25)
    pace.observe_bulk(20, 5.7)  # one consumer
    for _ in range(3):
        pace.observe_sync(20, 1.3)
    pace.observe_sync(20, 9.0)
    assert pace.sync_time(20) == pytest.approx(1.3)
    assert pace.prefers_bulk(20) is False
    pace.observe_sync(20, 9.0)  # the store as a whole slowed down: that does move it
    assert pace.sync_time(20) == pytest.approx(9.0)
    assert pace.prefers_bulk(20) is True


def test_the_paths_take_turns_until_each_was_measured_twice():
    pace = Pace(margin=0.25)
    turns = []
    while pace.learning is not None:
        turns.append("bulk" if pace.learning else "sync")
        if pace.learning:
            pace.observe_bulk(20, 20.0)
        else:
            pace.observe_sync(20, 2.0)
    assert turns == ["bulk", "sync", "bulk", "sync"]
    assert pace.prefers_bulk(20) is False
