"""What reconcile asks the next publish to send again keeps the store's ids when the channel's
variant is the remembered one (a listing read holds only the bare ids)."""

from __future__ import annotations

from serialsync import RemoteIds
from serialsync.engine.reconcile import _forget
from serialsync.store import ListingRecord, ListingState

STORED = RemoteIds(
    product_id="parent-1",
    variant_id="7",
    inventory_item_id="A|||S1",
    extra={"option_id": "12", "image": "https://img.example/a.jpg"},
)


def _listing() -> ListingRecord:
    return ListingRecord(
        connector="shop",
        serial="S1",
        sku="A",
        state=ListingState.LIVE,
        content_hash="abc",
        remote=STORED,
    )


def test_the_remembered_variant_keeps_the_stored_ids() -> None:
    read = RemoteIds(variant_id="7", inventory_item_id="A|||S1")
    forgotten = _forget(_listing(), read, "at 0 by hand")
    assert forgotten.remote == STORED  # the photo is not sent twice, the parent is known
    assert forgotten.content_hash is None and forgotten.state is ListingState.LIVE


def test_another_variant_is_taken_with_the_ids_read() -> None:
    read = RemoteIds(product_id="parent-2", variant_id="8")
    assert _forget(_listing(), read, "sellable by hand").remote == read
