"""Several requests in flight, within what the store serves, and options added many at once."""

from __future__ import annotations

from decimal import Decimal

import httpx
from serialsync import (
    ListingAction,
    ListingChange,
    Product,
    PublishResult,
    SerializedUnit,
)
from serialsync.testing import Faults

PRODUCT = Product(sku="0113942719", title="Gibson Les Paul Standard", price=Decimal("2499.00"))


def _upserts(serials: list[str]) -> list[ListingChange]:
    return [
        ListingChange(
            unit=SerializedUnit(sku=PRODUCT.sku, serial=serial), action=ListingAction.UPSERT
        )
        for serial in serials
    ]


def _labels(fake) -> list[str]:
    return [o["label"] for o in fake.attributes["serial_number"]["options"]]


def test_children_are_saved_side_by_side_within_the_stores_workers(fake, make_connector):
    # Real waits (0.05 s per request), so that requests overlap as on a store.
    fake.set_faults(Faults(latency=0.05, max_in_flight=3))
    # The synchronous path (a store whose message-queue consumers do not run: no bulk).
    connector = make_connector(concurrency=6, bulk=False)
    serials = [f"US{i:04d}" for i in range(12)]

    outcomes = connector.publish_variants(PRODUCT, _upserts(serials))

    assert [o.result for o in outcomes] == [PublishResult.CREATED] * 12
    assert 2 <= fake.peak_in_flight <= 3
    # Every 503 of the busy store was retried and seen by the limit (a wave of them halves it
    # once), which made the connector send fewer at once.
    cuts = connector.limit.cuts
    assert cuts["busy"] + cuts["busy_same_event"] == fake.injected.get("busy", 0)
    assert cuts["busy"] >= 1
    assert connector.limit.limit <= 6
    assert sorted(c["sku"] for c in fake.children_of(PRODUCT.sku)) == sorted(
        f"{PRODUCT.sku}|||{s}" for s in serials
    )
    connector.close()


def test_one_at_a_time_when_concurrency_is_1(fake, make_connector):
    fake.set_faults(Faults(latency=0.01))
    connector = make_connector(concurrency=1)
    connector.publish_variants(PRODUCT, _upserts(["A1", "A2", "A3"]))
    assert fake.peak_in_flight == 1
    assert connector.pool is None


def test_options_an_interrupted_run_added_are_adopted_not_added_twice(fake, make_connector):
    make_connector().publish_variants(PRODUCT, _upserts(["A1", "A2"]))
    # A new runner (the first's record was lost): A2's option exists, A3's does not.
    outcomes = make_connector().publish_variants(PRODUCT, _upserts(["A2", "A3"]))
    assert [o.result for o in outcomes] == [PublishResult.CREATED] * 2
    assert _labels(fake) == ["A1", "A2", "A3"]


def test_an_attribute_save_whose_answer_is_lost_is_read_back_not_sent_again(
    fake, make_connector, respx_mock
):
    lost: list[httpx.Response] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        answer: httpx.Response = fake(request)
        if request.method == "PUT" and "/attributes/" in request.url.path and not lost:
            lost.append(answer)
            return httpx.Response(502, content=b"<html>Bad Gateway</html>")  # applied, then lost
        return answer

    respx_mock.route(host=fake.host).mock(side_effect=flaky)
    outcomes = make_connector().publish_variants(PRODUCT, _upserts(["B1", "B2", "B3"]))

    assert lost, "the attribute save was not sent"
    assert [o.result for o in outcomes] == [PublishResult.CREATED] * 3
    assert _labels(fake) == ["B1", "B2", "B3"]
    assert sum(r.method == "PUT" for r in fake.received) == 1


def test_serials_equal_without_case_share_no_option(fake, make_connector):
    outcomes = make_connector().publish_variants(PRODUCT, _upserts(["ab1", "AB1", "C2"]))
    assert [o.result for o in outcomes] == [
        PublishResult.CREATED,
        PublishResult.FAILED,
        PublishResult.CREATED,
    ]
    assert outcomes[1].code == "option-label-conflict"
    assert _labels(fake) == ["ab1", "C2"]
