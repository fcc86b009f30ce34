"""``publish_variants`` for Shopify: look up, then withdraw, create and update in batches.

One call handles one POS product (one Shopify product, found by its handle):

0. **Create first**: units never listed here, of a handle this connector has not seen taken,
   go straight into the creating ``productSet`` (one request for a new product). Shopify
   refuses a handle in use (``code: null``, field ``["input", "handle"]``) without changing
   anything; only then is the product looked up, as below.
1. **Look up** (one query): the product, which serials already have a variant (its option
   values), and the variants whose ids the host remembered. Only when a unit without remembered
   ids has a serial that is already an option value (a crash between create and record) are the
   product's variants paged through to adopt it: Shopify has no idempotency key on product
   mutations, so a second create must never be sent.
2. **Withdraw**: delete the variants in batches; the last variant of a product is never deleted
   (``CANNOT_DELETE_LAST_VARIANT``) but kept at stock 0.
3. **Create**: a new product and its first batch of variants in one ``productSet``; further
   batches with ``productVariantsBulkCreate``. Stock 1 is set in the same request. More units
   than the shop's per-product variant limit are refused, never truncated.
4. **Update** the price and the unit's own fields (``productVariantsBulkUpdate``: its
   attributes as variant metafields, its photo as the variant's media; an attribute gone is
   removed by ``metafieldsDelete``; a photo changed or taken off has its old media read by id
   and deleted with ``fileDelete`` first, so no orphan stays in the product's gallery) and
   stock (``inventorySetQuantities``) of variants that differ. The unit's fields are sent only
   when the engine names the unit group as changed.

**Sold meanwhile.** Just before each request that would make units sellable (the creating
``productSet``, each ``productVariantsBulkCreate``, each ``inventorySetQuantities`` of stock 1),
the host's ``still_for_sale`` is asked about them: the call was planned before it was sent, and
a unit sold on another channel while it is on the wire goes in that same request at stock 0
and is answered ``WITHDRAWN`` with its ids (no request of its own). A price or field update
makes nothing sellable and asks nothing.

The product's own fields (title, description, vendor, photos) change by ``productUpdate`` when
the engine names the product group: new photos are added with it, and the photos the POS no
longer has are deleted (``fileDelete``) in the request that writes the product's record of its
photos (a ``serialsync.product_media`` metafield: the product's media gallery holds the units'
photos too, which nothing else tells apart).

A unit's attributes travel as variant metafields from its creation on (``productSet`` and
``productVariantsBulkCreate`` carry them); their definitions are made once per store first
(:mod:`serialsync_shopify.definitions`). Bulk mutations are priced by their input (per
variant, media and metafield), so each batch is cut to stay within one query's 1000 points.

A mutation refused for some units is resent without them, so one bad unit never holds back the
others. Every change gets exactly one outcome.

``withdraw_units`` (:meth:`Publisher.withdraw`) takes the sold units of many products off sale at
once: stock 0 through ``inventorySetQuantities``, which names inventory items of any product,
up to 250 a call. The variants stay (at stock 0, unsellable), so a unit that comes back is
listed again by a stock update; a unit whose inventory item the host does not know is left to
``publish_variants``.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any

from serialsync import (
    AuthenticationError,
    FieldGroup,
    ListingAction,
    ListingChange,
    Product,
    PublishOutcome,
    PublishResult,
    RemoteError,
    RemoteIds,
    StillForSale,
    every_unit_for_sale,
)

from serialsync_shopify import documents, mapping, unit_fields
from serialsync_shopify.client import MAX_QUERY_COST, MaxCostExceededError, ShopifyClient
from serialsync_shopify.definitions import Definitions
from serialsync_shopify.outcomes import (
    batches,
    failed,
    failed_remote,
    failed_user_errors,
    input_index,
    invalid_change,
    outcome,
    refused_indexes,
)

_LOOKUP_IDS = 250  # remembered variant ids re-read per query (cost 3 each)
_VARIANT_PAGE = 250  # variants per page while adopting (cost 2 each + 3)
_STOCK_REASON = "correction"
_INPUT_LIMIT = 250  # entries in any input list (MAX_INPUT_SIZE_EXCEEDED beyond)
_DETACH_LIMIT = 100  # variant-media pairs a detach takes (MAXIMUM_VARIANT_MEDIA_PAIRS_EXCEEDED)
#: ``RemoteIds.extra`` of a unit created with its product: the product's photos and their media
#: ids, as ``productSet`` answered (the product's record holds no ids until its first change).
_PRODUCT_MEDIA_EXTRA = "product_media"
#: The field groups a variant shows of its unit: a change to none of them needs no re-read.
_VARIANT_GROUPS = frozenset({FieldGroup.PRICE, FieldGroup.UNIT})


@dataclass(frozen=True)
class ShopContext:
    """What a publish needs to know about the shop, read once per connector."""

    location_id: str
    max_variants: int
    name: str
    domain: str
    plan: str


@dataclass
class Listed:
    """One variant as Shopify holds it."""

    variant_id: str
    sku: str
    price: Decimal
    quantity: int | None
    inventory_item_id: str
    product_id: str
    #: The variant's title: its option value, the serial (read where adoption pages variants).
    title: str = ""

    @classmethod
    def from_node(cls, node: dict[str, Any], product_id: str | None = None) -> Listed:
        """A variant node from any of the plugin's queries."""
        return cls(
            variant_id=str(node["id"]),
            sku=str(node.get("sku") or ""),
            price=mapping.parse_money(node.get("price")),
            quantity=node.get("inventoryQuantity"),
            inventory_item_id=str((node.get("inventoryItem") or {}).get("id") or ""),
            product_id=str(product_id or (node.get("product") or {}).get("id") or ""),
            title=str(node.get("title") or ""),
        )

    def remote(self) -> RemoteIds:
        """The ids the host should remember."""
        return RemoteIds(
            product_id=self.product_id,
            variant_id=self.variant_id,
            inventory_item_id=self.inventory_item_id,
        )


@dataclass
class _Update:
    """One live variant to bring in line: what differs of it."""

    change: ListingChange
    listed: Listed
    price: bool
    stock: bool
    unit: bool  # the unit's own fields (attributes, photo) changed in the POS
    sku: bool = False  # the variant holds the unit's serial under another SKU (retyped)


@dataclass
class _Photos:
    """A change of the product's own photos: ``record`` the photos kept (with their media ids
    when known), ``added`` the new ones, ``removed`` those the POS no longer has."""

    record: list[tuple[str, str | None]]
    added: list[str]
    removed: list[tuple[str, str | None]]
    #: Photos units of this call show: never deleted with the product's.
    units: set[str] = field(default_factory=set)

    @property
    def wanted(self) -> list[str]:
        """The product's photos once the change is made, in order."""
        return [src for src, _ in self.record] + self.added


class _RefusedError(Exception):
    """Shopify's ``userErrors`` for a write; ``retryable`` as the caller judges it."""

    def __init__(self, errors: list[dict[str, Any]], *, retryable: bool | None) -> None:
        super().__init__(errors)
        self.errors = errors
        self.retryable = retryable


def _raise_refused(errors: list[dict[str, Any]], *, retryable: bool | None) -> None:
    if errors:
        raise _RefusedError(errors, retryable=retryable)


def _unit_photos(changes: Sequence[ListingChange]) -> set[str]:
    return {image for c in changes if (image := unit_fields.unit_image(c.unit))}


@dataclass
class _Plan:
    deletes: list[tuple[ListingChange, Listed]] = field(default_factory=list)
    zero_stock: list[tuple[ListingChange, Listed]] = field(default_factory=list)
    creates: list[ListingChange] = field(default_factory=list)
    updates: list[_Update] = field(default_factory=list)


class Publisher:
    """Runs one ``publish_variants`` call against one store."""

    def __init__(
        self,
        client: ShopifyClient,
        *,
        batch_size: int,
        product_status: str,
        context: Callable[[], ShopContext],
        log: Any,
    ) -> None:
        self.client = client
        self.batch_size = batch_size
        self.product_status = product_status
        self._context = context
        self.log = log
        #: Handles this connector has seen taken (created or read back): a new unit of such a
        #: product needs the lookup, not a create first.
        self._taken: set[str] = set()
        self.definitions = Definitions(client, log)

    # -- entry point --------------------------------------------------------------------------

    def publish(
        self,
        product: Product,
        changes: Sequence[ListingChange],
        still_for_sale: StillForSale = every_unit_for_sale,
    ) -> list[PublishOutcome]:
        """One outcome per change, in the order of ``changes``; ``still_for_sale`` is asked
        before each request that would make units sellable."""
        outcomes: dict[int, PublishOutcome] = {}
        valid: list[tuple[int, ListingChange]] = []
        seen: set[str] = set()
        for index, change in enumerate(changes):
            problem = invalid_change(product, change, seen)
            if problem is not None:
                outcomes[index] = failed(change, problem[1], problem[0], retryable=False)
            else:
                valid.append((index, change))
        if valid:
            shop = self._context()
            by_change = self._publish_valid(product, [c for _, c in valid], shop, still_for_sale)
            for (index, change), outcome in zip(valid, by_change, strict=True):
                outcomes[index] = outcome
                if outcome.result is PublishResult.FAILED:
                    self.log.warning(
                        "shopify.unit_failed",
                        operation="publish_variants",
                        sku=change.unit.sku,
                        serial=change.unit.serial,
                        code=outcome.code,
                        reason=outcome.reason,
                    )
        return [outcomes[i] for i in range(len(changes))]

    def withdraw(self, changes: Sequence[ListingChange]) -> list[PublishOutcome]:
        """Stock 0 for units of any products, up to ``batch_size`` (250) inventory items a call.

        A unit without a remembered inventory item gets no outcome: the host withdraws it
        through ``publish_variants`` with its product.
        """
        items: list[tuple[ListingChange, Listed]] = []
        for change in changes:
            remote = change.remote
            if change.action is not ListingAction.WITHDRAW or remote is None:
                continue
            if not remote.inventory_item_id:
                continue
            listed = Listed(
                variant_id=remote.variant_id or "",
                sku=change.unit.integration_id,
                price=Decimal("0"),
                quantity=None,
                inventory_item_id=remote.inventory_item_id,
                product_id=remote.product_id or "",
            )
            items.append((change, listed))
        if not items:
            return []
        results: dict[int, PublishOutcome] = {}

        def done(change: ListingChange, outcome: PublishOutcome) -> None:
            results[id(change)] = outcome

        self._set_stock(items, 0, self._context(), done, PublishResult.WITHDRAWN)
        return list(results.values())

    def _publish_valid(
        self,
        product: Product,
        changes: list[ListingChange],
        shop: ShopContext,
        ask: StillForSale,
    ) -> list[PublishOutcome]:
        results: dict[int, PublishOutcome] = {}
        handle = mapping.handle_for(product.listing_sku)
        if handle not in self._taken and all(_never_listed(c) for c in changes):
            created = self._create_first(product, changes, handle, shop, ask)
            if created is not None:
                return created
        found, product_node = self._look_up(product, changes, handle)
        if product_node is not None:
            self._taken.add(handle)
        if product_node is not None:
            owner = ((product_node.get("metafield") or {}) or {}).get("value")
            if owner != product.listing_sku:
                reason = (
                    f"the Shopify product with handle {handle!r} does not belong to POS SKU "
                    f"{product.listing_sku!r} (its serialsync.pos_sku metafield is {owner!r}); "
                    "rename "
                    "that product's handle or remove it"
                )
                return [failed(c, reason, "HANDLE_TAKEN", retryable=False) for c in changes]
        product_id = str(product_node["id"]) if product_node else None
        count = int(((product_node or {}).get("variantsCount") or {}).get("count") or 0)
        plan = self._plan(product, changes, found, results)
        # Never delete a product's last variant: keep one back at stock 0.
        if product_id is not None and plan.deletes and count - len(plan.deletes) < 1:
            plan.zero_stock.append(plan.deletes.pop())
        ids = {id(c): i for i, c in enumerate(changes)}

        def done(change: ListingChange, outcome: PublishOutcome) -> None:
            results[ids[id(change)]] = outcome

        content_sent, content_error = self._update_content(product, changes, product_node)
        self._define_attributes(plan)
        if product_id is not None:
            count -= self._delete(product, product_id, plan, done)
        self._create(product, product_id, handle, plan.creates, count, shop, done, ask)
        self._update(product, plan.updates, shop, done, ask)
        self._zero(plan.zero_stock, shop, done)
        self._remember_shown(changes, results)
        for index, change in enumerate(changes):
            if FieldGroup.PRODUCT not in change.changed or product_node is None:
                continue
            if results[index].result is PublishResult.FAILED:
                continue
            if content_error is not None:
                results[index] = content_error(change)
            elif content_sent and results[index].result is PublishResult.UNCHANGED:
                results[index] = outcome(change, PublishResult.UPDATED, change.remote)
        return [results[i] for i in range(len(changes))]

    def _create_first(
        self,
        product: Product,
        changes: list[ListingChange],
        handle: str,
        shop: ShopContext,
        ask: StillForSale,
    ) -> list[PublishOutcome] | None:
        """Create the product with its units without looking it up first: one request.

        Only for units never listed on this channel whose handle this connector has not seen
        taken. ``productSet`` without an identifier refuses a handle in use (a product made by
        an earlier run that crashed before recording it, or new units of a product this process
        has not read yet) and changes nothing: ``None`` is returned then, and the caller looks
        the product up and adopts what it holds, as before.
        """
        results: dict[int, PublishOutcome] = {}
        ids = {id(c): i for i, c in enumerate(changes)}
        taken = False

        def done(change: ListingChange, result: PublishOutcome) -> None:
            nonlocal taken
            taken = taken or result.code == "HANDLE_NOT_UNIQUE"
            results[ids[id(change)]] = result

        self._define_attributes(_Plan(creates=list(changes)))
        self._create(product, None, handle, list(changes), 0, shop, done, ask)
        if taken:
            self.log.info("shopify.handle_taken", sku=product.listing_sku, handle=handle)
            self._taken.add(handle)
            return None
        if any(r.result is PublishResult.CREATED for r in results.values()):
            self._taken.add(handle)
        self._remember_shown(changes, results)
        return [results[i] for i in range(len(changes))]

    # -- the unit's own fields -------------------------------------------------------------

    def _define_attributes(self, plan: _Plan) -> None:
        """Definitions for every attribute the units about to be written carry."""
        units = [c.unit for c in plan.creates] + [u.change.unit for u in plan.updates if u.unit]
        fields = {
            key: name
            for unit in units
            for key, (name, _) in unit_fields.attribute_fields(unit).items()
        }
        self.definitions.ensure(fields)

    def _remember_shown(
        self, changes: list[ListingChange], results: dict[int, PublishOutcome]
    ) -> None:
        """Each listed unit's outcome remembers the metafield keys and photo its variant holds,
        so a later change removes a gone attribute and sends a photo only when it differs."""
        for index, change in enumerate(changes):
            result = results[index]
            if change.action is not ListingAction.UPSERT or result.remote is None:
                continue
            # An upsert answered WITHDRAWN was written all the same, at stock 0 (sold
            # meanwhile): its fields and photo are remembered too, not sent again on relisting.
            if result.result not in (
                PublishResult.CREATED,
                PublishResult.UPDATED,
                PublishResult.UNCHANGED,
                PublishResult.WITHDRAWN,
            ):
                continue
            before = change.remote.extra if change.remote else {}
            shown = unit_fields.shown_extra(change.unit)
            extra = {**before, **result.remote.extra, **shown}
            if unit_fields.KEYS_EXTRA not in shown:
                extra.pop(unit_fields.KEYS_EXTRA, None)
            if unit_fields.IMAGE_EXTRA not in shown and FieldGroup.UNIT in change.changed:
                # The photo was detached with the unit group's writes (a failed detach gives
                # no success outcome, so the photo is remembered until it goes).
                extra.pop(unit_fields.IMAGE_EXTRA, None)
            remote = result.remote.model_copy(update={"extra": extra})
            results[index] = result.model_copy(update={"remote": remote})

    # -- product content ------------------------------------------------------------------

    def _update_content(
        self,
        product: Product,
        changes: list[ListingChange],
        product_node: dict[str, Any] | None,
    ) -> tuple[bool, Callable[[ListingChange], PublishOutcome] | None]:
        """Bring the product's own fields (title, description, vendor, photos) in line with the
        POS, sending only those that differ from what the lookup read.

        Fields alone: one ``productUpdate``. New photos: one ``productUpdate`` carrying them
        (and the fields), then the product's photo record written, in the same request as the
        ``fileDelete`` of the photos the POS no longer has, if any. Done only when some upsert
        names the product group (a new product gets them at creation). Returns whether an
        update was sent, and how to fail each change that named the group when Shopify
        refused it.
        """
        if product_node is None or not any(
            c.action is ListingAction.UPSERT and FieldGroup.PRODUCT in c.changed for c in changes
        ):
            return False, None
        wanted = mapping.product_content(product)
        differs = {k: v for k, v in wanted.items() if (product_node.get(k) or "") != v}
        photos = self._photo_plan(product, changes, product_node)
        if not differs and photos is None:
            return False, None
        product_id = str(product_node["id"])
        try:
            if photos is None:
                payload = self.client.product_update({"id": product_id, **differs})
                _raise_refused(payload.get("userErrors") or [], retryable=False)
            else:
                self._replace_photos(product_id, differs, photos)
        except AuthenticationError:
            raise
        except RemoteError as exc:
            return True, partial(failed_remote, exc=exc)
        except _RefusedError as refused:
            # A title Shopify refuses (blank, too long) needs a change in the POS; a photo
            # still being processed can be deleted next pass.
            return True, partial(
                failed_user_errors, errors=refused.errors, retryable=refused.retryable
            )
        self.log.info(
            "shopify.product_updated",
            sku=product.listing_sku,
            fields=sorted(differs),
            photos_added=len(photos.added) if photos else 0,
            photos_removed=len(photos.removed) if photos else 0,
        )
        return True, None

    def _photo_plan(
        self, product: Product, changes: list[ListingChange], product_node: dict[str, Any]
    ) -> _Photos | None:
        """What to add to and remove from the product's own photos, or ``None`` when they are
        as the POS has them.

        The product records its photos and their media ids in a metafield (unit photos share
        its media gallery and cannot be told apart otherwise). Ids the record lacks (a product
        created with its photos) are learnt from the units created with it. A product listed
        before the record was kept has its photos recorded as the POS has them now: which of
        its media are its own photos cannot be told, so nothing is added or deleted then.
        """
        wanted = mapping.product_images(product)
        record = mapping.read_media_record(product_node.get("productMedia"))
        if record is None:
            if not wanted:
                return None
            self.log.warning(
                "shopify.product_photos_unrecorded",
                sku=product.listing_sku,
                detail="listed before photos were recorded: recorded as they are, none changed",
            )
            return _Photos(record=[(src, None) for src in wanted], added=[], removed=[])
        learnt: dict[str, str] = {}
        for change in changes:
            extra = change.remote.extra if change.remote else {}
            for src, media_id in (
                mapping.read_media_record({"value": extra.get(_PRODUCT_MEDIA_EXTRA)}) or []
            ):
                if media_id:
                    learnt.setdefault(src, media_id)
        known = {src: media_id or learnt.get(src) for src, media_id in record}
        added = [src for src in wanted if src not in known]
        removed = [(src, media_id) for src, media_id in known.items() if src not in wanted]
        if not added and not removed:
            return None
        kept = [(src, known[src]) for src in wanted if src in known]
        return _Photos(record=kept, added=added, removed=removed, units=_unit_photos(changes))

    def _replace_photos(self, product_id: str, differs: dict[str, str], photos: _Photos) -> None:
        """Add the new photos (with the fields that differ), then delete the gone ones and
        write the record in one request; raises :class:`_RefusedError` when Shopify refuses."""
        ids: dict[str, str] = {}
        fields: dict[str, Any] = dict(differs)
        for chunk in batches(photos.added, _INPUT_LIMIT):
            media = [{"originalSource": src, "mediaContentType": "IMAGE"} for src in chunk]
            payload = self.client.product_update_media({"id": product_id, **fields}, media)
            _raise_refused(payload.get("userErrors") or [], retryable=False)
            fields = {}
            nodes = (((payload.get("product") or {}).get("media") or {}).get("nodes")) or []
            # Shopify appends new media in the order given: the last ones are these.
            for src, node in zip(chunk, nodes, strict=False):
                if node and node.get("id"):
                    ids[src] = str(node["id"])
        wanted = {src: media_id for src, media_id in photos.record}
        record = [(src, wanted.get(src) or ids.get(src)) for src in photos.wanted]
        # A photo that is also a unit's photo stays (deleting the file would take it off the
        # unit's variant too); it is only dropped from the record. An id never learnt cannot
        # be deleted.
        doomed = [
            media_id for src, media_id in photos.removed if media_id and src not in photos.units
        ]
        unknown = [src for src, media_id in photos.removed if not media_id]
        if unknown:
            self.log.warning("shopify.product_photos_kept", product_id=product_id, photos=unknown)
        chunks = batches(doomed, _INPUT_LIMIT) or [[]]
        refused: list[dict[str, Any]] = []
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            update = {"id": product_id, **fields, "metafields": [mapping.media_record(record)]}
            if not chunk:
                payload = self.client.product_update(update)
                _raise_refused(payload.get("userErrors") or [], retryable=False)
                continue
            if not last:
                deleted = self.client.media_delete(chunk)
            else:
                deleted, payload = self.client.product_media_replace(chunk, update)
                _raise_refused(payload.get("userErrors") or [], retryable=False)
            refused += [
                e for e in deleted.get("userErrors") or [] if e.get("code") != "FILE_DOES_NOT_EXIST"
            ]
        if refused:
            # Kept in the record as photos to remove: the next pass deletes them again.
            stay: list[tuple[str, str | None]] = [
                (src, media_id) for src, media_id in photos.removed if media_id in doomed
            ]
            self.client.product_update(
                {"id": product_id, "metafields": [mapping.media_record(record + stay)]}
            )
            raise _RefusedError(refused, retryable=True)

    # -- 1. look up -----------------------------------------------------------------------

    def _look_up(
        self, product: Product, changes: list[ListingChange], handle: str
    ) -> tuple[dict[str, Listed], dict[str, Any] | None]:
        """Variants of this product by SKU, and the product node (``None`` when not listed).

        A withdrawal whose ids were remembered is trusted without a re-read (a variant gone
        meanwhile is caught by the delete); an upsert's variant is re-read to compare.
        """
        trusted: list[Listed] = []
        remembered: list[str] = []
        for change in changes:
            remote = change.remote
            if remote is None or not remote.variant_id:
                continue
            # A live unit whose own fields are unchanged (only its product's changed) is
            # trusted as listed too: it costs no re-read, and no variant update.
            as_listed = change.action is ListingAction.UPSERT and not (
                change.changed & _VARIANT_GROUPS
            )
            if (
                (change.action is ListingAction.WITHDRAW or as_listed)
                and remote.inventory_item_id
                and remote.product_id
            ):
                trusted.append(
                    Listed(
                        variant_id=remote.variant_id,
                        sku=change.unit.integration_id,
                        price=mapping.unit_price(product, change.unit) if as_listed else Decimal(0),
                        quantity=1 if as_listed else None,
                        inventory_item_id=remote.inventory_item_id,
                        product_id=remote.product_id,
                    )
                )
            else:
                remembered.append(remote.variant_id)
        remembered = list(dict.fromkeys(remembered))
        data = self.client.product_lookup(handle, remembered[:_LOOKUP_IDS])
        product_node = data.get("productByIdentifier")
        nodes: list[Any] = list(data.get("nodes") or [])
        for start in range(_LOOKUP_IDS, len(remembered), _LOOKUP_IDS):
            nodes.extend(self.client.variants_by_id(remembered[start : start + _LOOKUP_IDS]))
        product_id = str(product_node["id"]) if product_node else None
        found: dict[str, Listed] = {}
        for node in nodes:
            if not node or not node.get("id"):
                continue  # deleted on Shopify since the last publish
            listed = Listed.from_node(node)
            if product_id is None or listed.product_id == product_id:
                found.setdefault(listed.sku, listed)
        for listed in trusted:
            if listed.product_id == product_id:
                found.setdefault(listed.sku, listed)
        if product_node is None:
            return found, None
        # Serials that already have a variant but no remembered id: adopt them by SKU.
        with_variants = {
            value["name"]
            for option in product_node.get("options") or []
            if option.get("name") == product.option_name
            for value in option.get("optionValues") or []
            if value.get("hasVariants")
        }
        wanted = {
            c.unit.integration_id
            for c in changes
            if c.unit.integration_id not in found and c.unit.serial in with_variants
        }
        if wanted:
            serials = {c.unit.integration_id: c.unit.serial for c in changes}
            self._adopt(str(product_node["id"]), wanted, found, serials)
        return found, product_node

    def _adopt(
        self,
        product_id: str,
        wanted: set[str],
        found: dict[str, Listed],
        serials: dict[str, str],
    ) -> None:
        """Find the wanted units' variants by SKU, paging the product's variants.

        A unit whose serial has a variant that no SKU names was retyped by hand: the variant
        holding the serial (its title, the option value) is the unit's, and is taken with the
        SKU it holds, for the update to write the unit's SKU back (a new variant for the
        serial would be refused: ``VARIANT_ALREADY_EXISTS``).
        """
        by_title: dict[str, Listed] = {}
        after: str | None = None
        first = _VARIANT_PAGE
        while wanted:
            try:
                data = self.client.variants_page(product_id, first, after)
            except MaxCostExceededError:
                if first == 1:
                    raise
                first = max(1, first // 2)
                continue
            connection = (data.get("product") or {}).get("variants") or {}
            for node in connection.get("nodes") or []:
                listed = Listed.from_node(node, product_id)
                by_title.setdefault(listed.title, listed)
                if listed.sku in wanted:
                    if listed.sku in found:
                        self.log.warning("shopify.duplicate_sku", sku=listed.sku)
                        continue
                    found[listed.sku] = listed
                    wanted.discard(listed.sku)
            page = connection.get("pageInfo") or {}
            if not page.get("hasNextPage"):
                break
            after = page.get("endCursor")
        for sku in sorted(wanted):
            retyped = by_title.get(serials.get(sku, ""))
            if retyped is not None and retyped.sku != sku and retyped.sku not in serials:
                self.log.warning("shopify.sku_retyped", sku=sku, found=retyped.sku)
                found[sku] = retyped

    # -- plan -----------------------------------------------------------------------------

    def _plan(
        self,
        product: Product,
        changes: list[ListingChange],
        found: dict[str, Listed],
        results: dict[int, PublishOutcome],
    ) -> _Plan:
        plan = _Plan()
        for index, change in enumerate(changes):
            listed = found.get(change.unit.integration_id)
            if change.action is ListingAction.WITHDRAW:
                if listed is None:
                    # Not in this product: maybe in a sibling, on a store that lost its ids.
                    elsewhere = self._listed_elsewhere(change)
                    if elsewhere is None:
                        results[index] = outcome(change, PublishResult.WITHDRAWN, None)
                    else:
                        plan.zero_stock.append((change, elsewhere))
                else:
                    plan.deletes.append((change, listed))
            elif listed is None:
                plan.creates.append(change)
            else:
                price_differs = mapping.unit_price(product, change.unit) != listed.price
                stock_differs = listed.quantity != 1
                unit_differs = FieldGroup.UNIT in change.changed and _unit_writes(change)
                sku_differs = listed.sku != change.unit.integration_id
                if price_differs or stock_differs or unit_differs or sku_differs:
                    plan.updates.append(
                        _Update(
                            change, listed, price_differs, stock_differs, unit_differs, sku_differs
                        )
                    )
                else:
                    results[index] = outcome(change, PublishResult.UNCHANGED, listed.remote())
        return plan

    def _listed_elsewhere(self, change: ListingChange) -> Listed | None:
        """The sellable variant of a unit outside this product, found by its exact SKU."""
        if change.remote is not None and change.remote.variant_id:
            return None  # its remembered variant is gone: nothing to look for
        sku = change.unit.integration_id
        for node in self.client.variants_by_sku(sku):
            listed = Listed.from_node(node)
            if listed.sku == sku and (listed.quantity is None or listed.quantity > 0):
                return listed
        return None

    # -- 2. withdraw ------------------------------------------------------------------------

    def _delete(
        self,
        product: Product,
        product_id: str,
        plan: _Plan,
        done: Callable[[ListingChange, PublishOutcome], None],
        *,
        retry: bool = False,
    ) -> int:
        """Delete in batches; returns how many variants were deleted. The photos of the units
        deleted go too (read before, deleted after): Shopify keeps a deleted variant's media in
        the product's gallery."""
        deleted = 0
        for batch in batches(plan.deletes, self.batch_size):
            photos = self._photos_of(product, batch) if not retry else []
            try:
                payload = self.client.variants_delete(
                    product_id, [listed.variant_id for _, listed in batch]
                )
            except AuthenticationError:
                raise
            except RemoteError as exc:
                for change, _ in batch:
                    done(change, failed_remote(change, exc))
                continue
            errors = payload.get("userErrors") or []
            if not errors:
                deleted += len(batch)
                for change, listed in batch:
                    done(change, outcome(change, PublishResult.WITHDRAWN, listed.remote()))
                self._delete_media(product_id, photos)
                continue
            codes = {e.get("code") for e in errors}
            if "CANNOT_DELETE_LAST_VARIANT" in codes:
                # Our count was stale: take them off sale instead of deleting.
                plan.zero_stock.extend(batch)
                continue
            if "AT_LEAST_ONE_VARIANT_DOES_NOT_BELONG_TO_THE_PRODUCT" in codes and not retry:
                # Some remembered variants are gone already: they are withdrawn; delete the rest.
                current = self._still_listed(product_id, [listed for _, listed in batch])
                rest = [(c, listed) for c, listed in batch if listed.variant_id in current]
                for change, listed in batch:
                    if listed.variant_id not in current:
                        done(change, outcome(change, PublishResult.WITHDRAWN, None))
                sub = _Plan(deletes=rest)
                deleted += self._delete(product, product_id, sub, done, retry=True)
                plan.zero_stock.extend(sub.zero_stock)
                continue
            for change, _ in batch:
                done(change, failed_user_errors(change, errors, retryable=True))
        return deleted

    def _photos_of(self, product: Product, batch: list[tuple[ListingChange, Listed]]) -> list[str]:
        """The media ids of the photos the variants of ``batch`` show (those remembered as
        given, not the product's own), read 100 a query; none when the read fails."""
        own = set(product.images)
        pictured = [
            listed.variant_id
            for change, listed in batch
            if (
                image := (change.remote.extra if change.remote else {}).get(unit_fields.IMAGE_EXTRA)
            )
            and image not in own
        ]
        ids: list[str] = []
        for chunk in batches(pictured, _DETACH_LIMIT):
            try:
                media = self.client.variant_media(chunk)
            except AuthenticationError:
                raise
            except RemoteError as exc:
                self.log.warning("shopify.media_not_read", error=str(exc))
                continue
            ids += [held[0] for held in media.values() if held]
        return ids

    def _delete_media(self, product_id: str, ids: list[str]) -> None:
        """Delete the files of deleted units' photos; one that cannot go is logged (the unit
        is withdrawn all the same)."""
        for chunk in batches(ids, _INPUT_LIMIT):
            try:
                payload = self.client.media_delete(chunk)
                errors = [
                    e
                    for e in payload.get("userErrors") or []
                    if e.get("code") != "FILE_DOES_NOT_EXIST"
                ]
            except AuthenticationError:
                raise
            except RemoteError as exc:
                errors = [_remote_error(exc)]
            if errors:
                self.log.warning("shopify.media_not_deleted", product_id=product_id, errors=errors)

    def _still_listed(self, product_id: str, listed: list[Listed]) -> set[str]:
        """The ids among ``listed`` that are still variants of the product."""
        alive: set[str] = set()
        ids = [item.variant_id for item in listed]
        for start in range(0, len(ids), _LOOKUP_IDS):
            for node in self.client.variants_by_id(ids[start : start + _LOOKUP_IDS]):
                if node and node.get("id") and (node.get("product") or {}).get("id") == product_id:
                    alive.add(str(node["id"]))
        return alive

    # -- 3. create --------------------------------------------------------------------------

    def _create(
        self,
        product: Product,
        product_id: str | None,
        handle: str,
        creates: list[ListingChange],
        count: int,
        shop: ShopContext,
        done: Callable[[ListingChange, PublishOutcome], None],
        ask: StillForSale,
    ) -> None:
        room = max(0, shop.max_variants - count)
        if len(creates) > room and product_id is not None and count > 0:
            # Full of withdrawn units' leftovers (variants kept at stock 0): make room.
            keep = {c.unit.integration_id for c in creates}
            room += self._reclaim(product_id, len(creates) - room, keep, count)
        if len(creates) > room:
            reason = (
                f"the Shopify product of {product.listing_sku!r} would need "
                f"{count + len(creates)} variants; this shop allows {shop.max_variants} per "
                "product. The host places the rest in a sibling product next pass"
            )
            for change in creates[room:]:
                done(change, failed(change, reason, "VARIANT_LIMIT", retryable=True))
            creates = creates[:room]
        if product_id is None and creates:
            first = self._first_batch(product, handle, creates, shop)
            product_id = self._create_product(product, handle, creates[:first], shop, done, ask)
            creates = creates[first:]
            if product_id is None:
                reason = "the product could not be created with its first units"
                for change in creates:
                    done(change, failed(change, reason, "PRODUCT_NOT_CREATED", retryable=True))
                return
        if product_id is None:
            return

        def variant_of(change: ListingChange) -> dict[str, Any]:
            return mapping.bulk_create_input(product, change.unit, location_id=shop.location_id)

        for batch in self._fitted(creates, variant_of, "VariantsCreate"):
            self._create_variants(product, product_id, batch, shop, done, ask)

    def _reclaim(self, product_id: str, needed: int, keep: set[str], count: int) -> int:
        """Delete up to ``needed`` variants at stock 0 (withdrawn units' leftovers, not among
        ``keep``) of a full product; never its last variant. Returns how many went."""
        leftovers: list[str] = []
        after: str | None = None
        limit = min(needed, count - 1)
        while len(leftovers) < limit:
            data = self.client.variants_page(product_id, _VARIANT_PAGE, after)
            connection = (data.get("product") or {}).get("variants") or {}
            for node in connection.get("nodes") or []:
                listed = Listed.from_node(node, product_id)
                if (listed.quantity or 0) <= 0 and listed.sku not in keep:
                    leftovers.append(listed.variant_id)
            page = connection.get("pageInfo") or {}
            if not page.get("hasNextPage"):
                break
            after = page.get("endCursor")
        freed = 0
        for batch in batches(leftovers[:limit], self.batch_size):
            payload = self.client.variants_delete(product_id, batch)
            if payload.get("userErrors"):
                self.log.warning(
                    "shopify.reclaim_refused", product_id=product_id, errors=payload["userErrors"]
                )
                break
            freed += len(batch)
        if freed:
            self.log.info("shopify.reclaimed", product_id=product_id, variants=freed)
        return freed

    def _first_batch(
        self, product: Product, handle: str, creates: list[ListingChange], shop: ShopContext
    ) -> int:
        """How many units the creating ``productSet`` carries; the rest follow by
        ``productVariantsBulkCreate``.

        Within every input list's 250 entries (``files`` holds the product's images and each
        unit's first image) and within one query's 1000 points, which productSet's input costs
        count towards (1.9 a file, 0.6 a variant file, 0.2 a variant): 250 pictured units
        would pass both.
        """
        high = max(1, min(self.batch_size, _INPUT_LIMIT - len(product.images), len(creates)))

        def fits(count: int) -> bool:
            body = mapping.product_set_input(
                product,
                [c.unit for c in creates[:count]],
                handle=handle,
                status=self.product_status,
                location_id=shop.location_id,
            )
            files = len(body.get("files") or [])
            photos = len(mapping.product_images(product))
            cost = documents.estimated_cost(
                "ProductCreateWithVariants",
                {"input": body, "productMedia": photos, "withMedia": photos > 0},
            )
            return files <= _INPUT_LIMIT and cost <= MAX_QUERY_COST

        if fits(high):
            return high
        low = 1  # one unit always goes: a lone product is the smallest request there is
        while low < high - 1:
            middle = (low + high) // 2
            if fits(middle):
                low = middle
            else:
                high = middle
        return low

    def _create_product(
        self,
        product: Product,
        handle: str,
        batch: list[ListingChange],
        shop: ShopContext,
        done: Callable[[ListingChange, PublishOutcome], None],
        ask: StillForSale,
    ) -> str | None:
        photos = mapping.product_images(product)
        held: set[str] = set()

        def send(todo: list[ListingChange]) -> dict[str, Any]:
            held.clear()
            held.update(_sold_meanwhile(todo, ask))
            return self.client.product_set(
                mapping.product_set_input(
                    product,
                    [c.unit for c in todo],
                    handle=handle,
                    status=self.product_status,
                    location_id=shop.location_id,
                    unsellable=held,
                ),
                product_media=len(photos),
            )

        payload, todo = self._send_without_refused(batch, send, done)
        node = payload.get("product") if payload else None
        if not node:
            return None
        product_id = str(node["id"])
        variants = ((node.get("variants") or {}).get("nodes")) or []
        media = ((node.get("media") or {}).get("nodes")) or []
        # The product's own photos are the first media (they come first in ``files``); their
        # ids go with the units created here until the product's record learns them.
        learnt = [
            (src, str(m["id"]) if m and m.get("id") else None)
            for src, m in zip(photos, media, strict=False)
        ]

        def done_with_photos(change: ListingChange, result: PublishOutcome) -> None:
            made = result.result in (PublishResult.CREATED, PublishResult.WITHDRAWN)
            if learnt and made and result.remote is not None:
                value = mapping.media_record(learnt)["value"]
                extra = {**result.remote.extra, _PRODUCT_MEDIA_EXTRA: value}
                result = result.model_copy(
                    update={"remote": result.remote.model_copy(update={"extra": extra})}
                )
            done(change, result)

        self._record_created(todo, variants, product_id, done_with_photos, held)
        return product_id

    def _create_variants(
        self,
        product: Product,
        product_id: str,
        batch: list[ListingChange],
        shop: ShopContext,
        done: Callable[[ListingChange, PublishOutcome], None],
        ask: StillForSale,
    ) -> None:
        held: set[str] = set()

        def send(todo: list[ListingChange]) -> dict[str, Any]:
            held.clear()
            held.update(_sold_meanwhile(todo, ask))
            return self.client.variants_create(
                product_id,
                [
                    mapping.bulk_create_input(
                        product,
                        c.unit,
                        location_id=shop.location_id,
                        quantity=0 if c.unit.serial in held else 1,
                    )
                    for c in todo
                ],
                mapping.bulk_create_media([c.unit for c in todo]),
            )

        payload, todo = self._send_without_refused(batch, send, done)
        if payload:
            variants = payload.get("productVariants") or []
            self._record_created(todo, variants, product_id, done, held)

    def _send_without_refused(
        self,
        batch: list[ListingChange],
        send: Callable[[list[ListingChange]], dict[str, Any]],
        done: Callable[[ListingChange, PublishOutcome], None],
    ) -> tuple[dict[str, Any] | None, list[ListingChange]]:
        """Send a batch; if some units are refused, fail them and resend the rest once.

        Shopify applies a bulk create all or nothing, so the refused units must leave the
        batch for the others to go through.
        """
        todo = list(batch)
        for attempt in range(2):
            try:
                payload = send(todo)
            except AuthenticationError:
                raise
            except RemoteError as exc:
                for change in todo:
                    done(change, failed_remote(change, exc))
                return None, []
            errors = payload.get("userErrors") or []
            if not errors:
                return payload, todo
            refused = refused_indexes(errors, len(todo))
            if not refused or attempt == 1:
                # About the whole request (a handle taken, say): retryable only if the errors
                # say so; units refused again after a resend would be refused once more.
                again = None if not refused else False
                for change in todo:
                    done(change, failed_user_errors(change, errors, retryable=again))
                return None, []
            for index in sorted(refused):
                mine = [e for e in errors if input_index(e) == index]
                done(todo[index], failed_user_errors(todo[index], mine, retryable=None))
            todo = [c for i, c in enumerate(todo) if i not in refused]
            if not todo:
                return None, []
        return None, []  # pragma: no cover - the loop always returns

    def _record_created(
        self,
        todo: list[ListingChange],
        variants: list[dict[str, Any]],
        product_id: str,
        done: Callable[[ListingChange, PublishOutcome], None],
        held: Container[str] = frozenset(),
    ) -> None:
        """One outcome per created unit: ``CREATED``, or ``WITHDRAWN`` for those created at
        stock 0 because they sold meanwhile (serials in ``held``), with their ids all the same."""
        by_sku = {str(v.get("sku")): v for v in variants if v}
        for change in todo:
            node = by_sku.get(change.unit.integration_id)
            if node is None:
                done(
                    change,
                    failed(
                        change,
                        "Shopify accepted the batch but did not return this variant",
                        "MISSING_IN_RESPONSE",
                        retryable=True,
                    ),
                )
                continue
            listed = Listed.from_node(node, product_id)
            made = PublishResult.WITHDRAWN if change.unit.serial in held else PublishResult.CREATED
            done(change, outcome(change, made, listed.remote()))

    # -- 4. update --------------------------------------------------------------------------

    def _update(
        self,
        product: Product,
        updates: list[_Update],
        shop: ShopContext,
        done: Callable[[ListingChange, PublishOutcome], None],
        ask: StillForSale,
    ) -> None:
        failed: set[int] = set()
        by_product: dict[str, list[tuple[_Update, dict[str, Any]]]] = {}
        for update in updates:
            variant = self._variant_update(product, update)
            if variant is not None:
                by_product.setdefault(update.listed.product_id, []).append((update, variant))
        for product_id, items in by_product.items():
            for batch in self._fitted(items, lambda item: item[1], "VariantsUpdate"):
                self._send_updates(product, product_id, batch, done, failed)
        stock = [(u.change, u.listed) for u in updates if u.stock and id(u.change) not in failed]
        self._set_stock(stock, 1, shop, done, PublishResult.UPDATED, ask=ask)
        for update in updates:
            if not update.stock and id(update.change) not in failed:
                done(
                    update.change,
                    outcome(update.change, PublishResult.UPDATED, update.listed.remote()),
                )

    def _variant_update(self, product: Product, update: _Update) -> dict[str, Any] | None:
        """The ``ProductVariantsBulkInput`` of one update, ``None`` when only stock differs."""
        variant: dict[str, Any] = {"id": update.listed.variant_id}
        if update.price:
            variant["price"] = mapping.money(mapping.unit_price(product, update.change.unit))
        if update.sku:
            variant["inventoryItem"] = {"sku": update.change.unit.integration_id}
        if update.unit:
            unit = update.change.unit
            variant["metafields"] = unit_fields.metafields_input(unit)
            image = unit_fields.unit_image(unit)
            known = (update.change.remote.extra if update.change.remote else {}).get(
                unit_fields.IMAGE_EXTRA
            )
            # A photo is added to the product's media each time it is sent: only a new one.
            if image and image != known:
                variant["mediaSrc"] = [image]
        return variant if len(variant) > 1 else None

    def _send_updates(
        self,
        product: Product,
        product_id: str,
        batch: list[tuple[_Update, dict[str, Any]]],
        done: Callable[[ListingChange, PublishOutcome], None],
        failed: set[int],
    ) -> None:
        batch = self._retire_old_photos(product, product_id, batch, done, failed)
        if not batch:
            return
        media = list(dict.fromkeys(src for _, v in batch for src in v.get("mediaSrc") or []))
        try:
            payload = self.client.variants_update(
                product_id,
                [variant for _, variant in batch],
                [{"originalSource": url, "mediaContentType": "IMAGE"} for url in media],
            )
        except AuthenticationError:
            raise
        except RemoteError as exc:
            for update, _ in batch:
                done(update.change, failed_remote(update.change, exc))
                failed.add(id(update.change))
            return
        errors = payload.get("userErrors") or []
        refused = refused_indexes(errors, len(batch))
        sent: list[_Update] = []
        for index, (update, _) in enumerate(batch):
            if index in refused or (errors and not refused):
                mine = [e for e in errors if input_index(e) == index] or errors
                done(update.change, failed_user_errors(update.change, mine, retryable=None))
                failed.add(id(update.change))
            elif update.unit:
                sent.append(update)
        self._delete_gone_attributes(sent, done, failed)

    def _retire_old_photos(
        self,
        product: Product,
        product_id: str,
        batch: list[tuple[_Update, dict[str, Any]]],
        done: Callable[[ListingChange, PublishOutcome], None],
        failed: set[int],
    ) -> list[tuple[_Update, dict[str, Any]]]:
        """Delete the old photo of each unit whose photo changed or was taken off, before its
        variant is updated; returns the batch without the units whose photo could not go.

        Shopify keeps a media it was given until it is deleted: a replaced photo would stay in
        the product's gallery (and the Files page) for good. The variants' media ids are read
        in one query per 100, then deleted with ``fileDelete`` (which takes them off the
        variant and the gallery), up to 250 a call. A photo that is also one of the product's
        own is only detached from the variant. A unit whose old photo is refused (a file still
        being processed) fails retryable and is not updated this pass, so no new photo is
        added beside the old one.
        """
        old: dict[str, tuple[_Update, str]] = {}
        for update, _ in batch:
            extra = update.change.remote.extra if update.change.remote else {}
            before = extra.get(unit_fields.IMAGE_EXTRA)
            if update.unit and before and before != unit_fields.unit_image(update.change.unit):
                old[update.listed.variant_id] = (update, before)
        if not old:
            return batch
        own = set(product.images)
        deletes: list[tuple[_Update, str]] = []
        pairs: list[tuple[_Update, dict[str, Any]]] = []
        troubled: dict[int, list[dict[str, Any]]] = {}
        for chunk in batches(list(old), _DETACH_LIMIT):
            try:
                media = self.client.variant_media(chunk)
            except AuthenticationError:
                raise
            except RemoteError as exc:
                for variant_id in chunk:
                    troubled[id(old[variant_id][0])] = [_remote_error(exc)]
                continue
            for variant_id in chunk:
                update, before = old[variant_id]
                held = media.get(variant_id) or []
                if not held:
                    continue  # nothing shown any more: nothing to take off
                if before in own:
                    pair = {"variantId": variant_id, "mediaIds": held[:1]}
                    pairs.append((update, pair))
                else:
                    deletes.append((update, held[0]))
        for detach in batches(pairs, _DETACH_LIMIT):
            try:
                payload = self.client.detach_media(product_id, [pair for _, pair in detach])
                errors = payload.get("userErrors") or []
            except AuthenticationError:
                raise
            except RemoteError as exc:
                errors = [_remote_error(exc)]
            for update, _ in detach if errors else []:
                troubled[id(update)] = errors
        for chunk in batches(deletes, _INPUT_LIMIT):
            try:
                payload = self.client.media_delete([media_id for _, media_id in chunk])
                errors = [
                    e
                    for e in payload.get("userErrors") or []
                    if e.get("code") != "FILE_DOES_NOT_EXIST"  # gone already: what was asked
                ]
                gone = set(payload.get("deletedFileIds") or [])
            except AuthenticationError:
                raise
            except RemoteError as exc:
                errors, gone = [_remote_error(exc)], set()
            for update, media_id in chunk if errors else []:
                if media_id not in gone:
                    troubled[id(update)] = errors
        kept: list[tuple[_Update, dict[str, Any]]] = []
        for update, variant in batch:
            errors = troubled.get(id(update))
            if errors is None:
                kept.append((update, variant))
                continue
            # Left for the next pass: the unit's change is not recorded as done.
            done(update.change, failed_user_errors(update.change, errors, retryable=True))
            failed.add(id(update.change))
        return kept

    def _delete_gone_attributes(
        self,
        updates: list[_Update],
        done: Callable[[ListingChange, PublishOutcome], None],
        failed: set[int],
    ) -> None:
        """Remove the metafields of attributes a unit no longer has (``metafieldsDelete``)."""
        gone: list[tuple[_Update, dict[str, str]]] = []
        for update in updates:
            extra = update.change.remote.extra if update.change.remote else {}
            now = set(unit_fields.attribute_fields(update.change.unit))
            for key in unit_fields.remembered_keys(extra):
                if key not in now:
                    identifier = {
                        "ownerId": update.listed.variant_id,
                        "namespace": unit_fields.NAMESPACE,
                        "key": key,
                    }
                    gone.append((update, identifier))
        for batch in batches(gone, _INPUT_LIMIT):
            try:
                payload = self.client.metafields_delete([identifier for _, identifier in batch])
            except AuthenticationError:
                raise
            except RemoteError as exc:
                errors: list[Any] = [{"field": None, "message": str(exc), "code": exc.code}]
            else:
                errors = payload.get("userErrors") or []
            if not errors:
                continue
            # Left for the next pass: the unit's change is not recorded as done.
            for update in {id(u.change): u for u, _ in batch}.values():
                if id(update.change) not in failed:
                    done(update.change, failed_user_errors(update.change, errors, retryable=True))
                    failed.add(id(update.change))

    def _fitted(
        self,
        items: Sequence[Any],
        variant_of: Callable[[Any], dict[str, Any]],
        operation: str,
    ) -> list[list[Any]]:
        """``items`` cut into batches of at most ``batch_size`` whose bulk mutation, priced by
        its input (per variant, media, metafield), stays within one query's 1000 points."""
        out: list[list[Any]] = []
        current: list[Any] = []
        for item in items:
            trial = [*current, item]
            variants = [variant_of(i) for i in trial]
            media = {src for v in variants for src in v.get("mediaSrc") or []}
            cost = documents.estimated_cost(operation, {"variants": variants, "media": list(media)})
            if current and (len(trial) > self.batch_size or cost > MAX_QUERY_COST):
                out.append(current)
                current = [item]
            else:
                current = trial
        if current:
            out.append(current)
        return out

    def _zero(
        self,
        items: list[tuple[ListingChange, Listed]],
        shop: ShopContext,
        done: Callable[[ListingChange, PublishOutcome], None],
    ) -> None:
        self._set_stock(items, 0, shop, done, PublishResult.WITHDRAWN)

    def _set_stock(
        self,
        items: list[tuple[ListingChange, Listed]],
        quantity: int,
        shop: ShopContext,
        done: Callable[[ListingChange, PublishOutcome], None],
        result: PublishResult,
        *,
        ask: StillForSale | None = None,
    ) -> None:
        """Set ``quantity`` for ``items``, up to ``batch_size`` a call; each is then ``result``.

        With ``ask`` (listing units: quantity 1), the host is asked before each request which
        of them are still for sale; the others are set to 0 in that same request and answered
        ``WITHDRAWN``.
        """
        for batch in batches(items, self.batch_size):
            todo = list(batch)
            for attempt in range(2):
                held = _sold_meanwhile([c for c, _ in todo], ask) if ask else set()
                quantities = [
                    {
                        "inventoryItemId": listed.inventory_item_id,
                        "locationId": shop.location_id,
                        "quantity": 0 if change.unit.serial in held else quantity,
                        # The POS is the source of truth for these one-of-a-kind units, and a
                        # withdrawal must not fail on a stale compare: opt out explicitly.
                        "changeFromQuantity": None,
                    }
                    for change, listed in todo
                ]
                try:
                    payload = self.client.set_available(quantities, reason=_STOCK_REASON)
                except AuthenticationError:
                    raise
                except RemoteError as exc:
                    for change, _ in todo:
                        done(change, failed_remote(change, exc))
                    break
                errors = payload.get("userErrors") or []
                if not errors:
                    for change, listed in todo:
                        made = PublishResult.WITHDRAWN if change.unit.serial in held else result
                        done(change, outcome(change, made, listed.remote()))
                    break
                refused = refused_indexes(errors, len(todo), key="quantities")
                if not refused or attempt == 1:
                    for change, _ in todo:
                        done(change, failed_user_errors(change, errors, retryable=not refused))
                    break
                for index in sorted(refused):
                    mine = [e for e in errors if input_index(e, "quantities") == index]
                    change = todo[index][0]
                    gone = {e.get("code") for e in mine} == {"INVALID_INVENTORY_ITEM"}
                    if gone and result is PublishResult.WITHDRAWN:
                        # The variant was deleted meanwhile: it cannot be sold, as asked.
                        done(change, outcome(change, PublishResult.WITHDRAWN, None))
                    else:
                        done(change, failed_user_errors(change, mine, None))
                todo = [item for i, item in enumerate(todo) if i not in refused]
                if not todo:
                    break


def _sold_meanwhile(todo: Sequence[ListingChange], ask: StillForSale) -> set[str]:
    """The serials of ``todo`` the host no longer wants for sale, asked now: once per request,
    just before it (the answer reads the host's store), and not at all for an empty one."""
    serials = [c.unit.serial for c in todo]
    if not serials:
        return set()
    keep = ask(serials)
    return {serial for serial in serials if serial not in keep}


def _remote_error(exc: RemoteError) -> dict[str, Any]:
    """A failed request as a ``userErrors`` entry, to fail units with."""
    return {"field": None, "message": str(exc), "code": exc.code}


def _never_listed(change: ListingChange) -> bool:
    """An upsert of a unit this channel holds no ids for (as far as the host knows)."""
    remote = change.remote
    return change.action is ListingAction.UPSERT and (
        remote is None or not (remote.variant_id or remote.product_id)
    )


def _unit_writes(change: ListingChange) -> bool:
    """Whether the unit's own fields need a write: attributes to set, a photo the variant was
    not given (or one to take off it), or attributes it had to remove. A unit with none of
    them has nothing to send."""
    extra = change.remote.extra if change.remote else {}
    image = unit_fields.unit_image(change.unit)
    return bool(
        unit_fields.attribute_fields(change.unit)
        or (image or "") != extra.get(unit_fields.IMAGE_EXTRA, "")
        or unit_fields.remembered_keys(extra)
    )
