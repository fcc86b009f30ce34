"""Sibling products: a POS product continued past a channel's per-product capacity.

A channel may hold only so many units in one product (BigCommerce: 250 values of one option;
Shopify: the shop's ``maxProductVariants``). Past that, the POS product continues in *sibling*
products, part 2, 3, … (``"Fender Stratocaster (2)"``, titled by ``[sync] sibling_title``),
each an ordinary product on the channel whose variants keep the SKUs ``SKU|||SERIAL``, so
orders from any of them map back to the unit as usual.

Which part holds a unit is remembered with its listing (``remote.extra["serialsync.part"]``),
so a unit stays where it was listed: a sale in part 1 never moves units between products. A
new unit goes to the lowest part with room. A unit holds room while its listing is not
withdrawn; a withdrawn unit's leftover (a variant kept at stock 0) is the plugin's to reclaim
when it needs the room. A sibling with no unit left is retired (``retire_product``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from serialsync.model import ListingAction, ListingChange, Product, RemoteIds
from serialsync.store import ListingRecord, ListingState

#: Where a listing's part is remembered, beside the plugin's own ids.
PART_KEY = "serialsync.part"

Planned = tuple[ListingChange, str | None]


def part_of(remote: RemoteIds | None) -> int | None:
    """The part a unit was listed in (``None`` when the channel has no ids for it)."""
    if remote is None:
        return None
    try:
        return max(1, int(remote.extra.get(PART_KEY, "1")))
    except ValueError:
        return 1


def with_part(remote: RemoteIds | None, part: int) -> RemoteIds | None:
    """``remote`` remembering ``part`` (part 1 is left implicit, as before siblings existed)."""
    if remote is None:
        return None
    if part == 1 and PART_KEY not in remote.extra:
        return remote  # already so (RemoteIds is frozen): no copy, which every outcome made
    extra = {k: v for k, v in remote.extra.items() if k != PART_KEY}
    if part != 1:
        extra[PART_KEY] = str(part)
    return remote.model_copy(update={"extra": extra})


def holds_room(listing: ListingRecord) -> bool:
    """Whether a listing takes a place in its product (listed, or failed after a create)."""
    return listing.state != ListingState.WITHDRAWN and listing.remote is not None


def assign_parts(
    planned: Iterable[Planned],
    listings: dict[str, ListingRecord],
    capacity: int | None,
) -> dict[str, int]:
    """The part each planned change is sent to: its own part when listed, else the lowest
    part with room (every new unit to part 1 when the channel names no capacity)."""
    held: Counter[int] = Counter()
    for listing in listings.values():
        if holds_room(listing):
            held[part_of(listing.remote) or 1] += 1
    parts: dict[str, int] = {}
    for change, _ in planned:
        serial = change.unit.serial
        known = part_of(change.remote)
        if known is not None:
            parts[serial] = known
        elif capacity is None or change.action == ListingAction.WITHDRAW:
            parts[serial] = 1
        else:
            part = 1
            while held[part] >= capacity:
                part += 1
            held[part] += 1
            parts[serial] = part
    return parts


def group_by_part(planned: list[Planned], parts: dict[str, int]) -> dict[int, list[Planned]]:
    """``planned`` split by part, in the order given."""
    groups: dict[int, list[Planned]] = {}
    for item in planned:
        groups.setdefault(parts.get(item[0].unit.serial, 1), []).append(item)
    return dict(sorted(groups.items()))


def sibling(product: Product, part: int, title_format: str) -> Product:
    """``product`` as the channel sees part ``part``: itself for 1, else a titled sibling."""
    if part == 1:
        return product
    title = title_format.format(title=product.title, sku=product.sku, n=part)
    return product.model_copy(update={"part": part, "title": title})


def emptied_parts(listings: dict[str, ListingRecord]) -> dict[int, RemoteIds]:
    """Siblings (part > 1) no unit holds any more but that were listed: part -> ids of one of
    their units (naming the product to retire)."""
    held = {part_of(x.remote) or 1 for x in listings.values() if holds_room(x)}
    left: dict[int, RemoteIds] = {}
    for listing in listings.values():
        part = part_of(listing.remote)
        if part is None or part == 1 or part in held or listing.remote is None:
            continue
        if listing.remote.product_id:
            left.setdefault(part, listing.remote)
    return left
