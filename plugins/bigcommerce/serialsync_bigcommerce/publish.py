"""``publish_variants`` for BigCommerce: one product per POS SKU, one variant per unit.

The cheapest path for each case, in requests:

* **A brand-new product** with all its units: one ``POST /v3/catalog/products`` carrying the
  variants and their images (BigCommerce creates the "Serial" option and its values from the
  labels).
* **Units of a known product** (``change.remote`` holds the ids): ``PUT /v3/catalog/variants``,
  50 items a request, updates and stock-0 withdrawals mixed. No lookup.
* **Units without remote ids** (first publish to an existing product, or a repeat after a crash
  lost the host's record): one ``GET`` of the product with its variants and options, then the
  existing variants are *adopted* by SKU and only the missing ones created: one ``PUT`` of the
  option adding every new serial as a value, then the batch endpoint. When nothing at all is
  known of the product (no remote ids, not seen by this connector) and every change is an
  upsert, the create is tried first: a new product then costs one request, and a 409 on the
  product's SKU leads to the lookup.
* **Images** cost no request of their own: BigCommerce holds one image per variant, and the
  unit's first photo travels as the variant's ``image_url`` inside the product create or the
  batch item. It is sent only when it differs from the one recorded in
  ``RemoteIds.extra["image"]`` (or, for a variant found by lookup, from its ``image_url``); an
  unchanged photo adds nothing, a changed one makes the unit an update of the batch. An image
  BigCommerce refuses (it could not fetch it, say) does not cost the unit its listing: the
  create or the item is sent again without it, the image is not recorded, and the next publish
  tries it again.
* **Sold meanwhile.** Just before each request that lists units (the product create, each
  batch), the host's ``still_for_sale`` is asked about them; a unit sold on another channel
  while the call was on the wire goes in that same request at stock 0 and is answered
  ``WITHDRAWN`` with its ids (no request of its own).

Idempotency and adoption: SKUs are unique store-wide and case-insensitive. A variant whose SKU
is exactly the unit's integration id is the unit's (adopted, never duplicated): found in the
product lookup, or, when it lives on another product, after the platform's 409 by
``GET /v3/catalog/variants?sku=``. A variant whose SKU matches only *ignoring case* is not
adopted: this plugin always writes the exact id, so such a variant was written by someone else
for what may be another unit; the unit fails with code ``sku-case-conflict``.

Capacity: one "Serial" option holds at most **250 values** (below the 600-variant cap), so a
product holds at most :data:`~serialsync_bigcommerce.client.OPTION_VALUE_LIMIT` units; the
connector says so through ``product_capacity`` and the host continues the POS product in
sibling products (``product.part`` > 1, product SKU ``product.listing_sku``). When a product
is full of withdrawn units' leftovers (variants at stock 0, each holding a value), those are
deleted with their values to make room; a unit that still finds no room fails, retryable.
A deleted variant's option value is deleted with it, so values never go stale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from serialsync import (
    CHANNEL_SKU_LIMITS,
    AuthenticationError,
    FieldGroup,
    IntegrationIdError,
    ListingAction,
    ListingChange,
    Product,
    PublishOutcome,
    PublishResult,
    RemoteError,
    RemoteIds,
    RetryableRemoteError,
    StillForSale,
    check_length,
    every_unit_for_sale,
)

from serialsync_bigcommerce import mapping, unit_metafields
from serialsync_bigcommerce.client import (
    BATCH_LIMIT,
    OPTION_VALUE_LIMIT,
    BatchResult,
    BigCommerceClient,
    chunks,
)
from serialsync_bigcommerce.mapping import RemoteOption, RemoteProduct, RemoteVariant

SKU_LIMIT = CHANNEL_SKU_LIMITS["bigcommerce"]
_PRICE_TOLERANCE = 0.005

Kind = Literal["create", "update", "withdraw"]
#: The field groups a variant shows of its unit: a change to none of them writes no variant.
_VARIANT_GROUPS = frozenset({FieldGroup.PRICE, FieldGroup.UNIT})


@dataclass
class _Work:
    """One change being worked on: its position in the call and its integration id."""

    index: int
    change: ListingChange
    iid: str
    #: The image URL the variant holds once this call's write lands: sent in the body, or
    #: already there. Recorded in ``RemoteIds.extra["image"]`` so it is not sent again.
    image: str | None = None

    @property
    def wanted_image(self) -> str | None:
        """The unit's first photo: the variant's one image."""
        return mapping.unit_image(self.change.unit)

    def image_to_send(self, current: str | None = None) -> str | None:
        """The ``image_url`` to send: the wanted photo unless the variant has it already.

        ``current`` is the variant's ``image_url`` as read back, when it was. Marks the work
        as holding the image once written.
        """
        url = self.wanted_image
        known = self.change.remote.extra.get("image") if self.change.remote else None
        if url is None:
            return None
        self.image = url
        return None if url in (known, current) else url

    @property
    def unit_serial(self) -> str:
        """The unit's serial: its option value label."""
        return self.change.unit.serial


@dataclass
class _Item:
    """One item of a batch ``PUT``, tied to the change it serves."""

    work: _Work
    kind: Kind
    body: dict[str, Any]
    product_id: int
    result: PublishResult


@dataclass
class _Round:
    """What a batch round left to do: variants gone, and SKUs taken elsewhere (409)."""

    missing: list[_Work] = field(default_factory=list)
    conflicts: list[_Work] = field(default_factory=list)


class Publisher:
    """Publishes one product's changes; :meth:`run` returns one outcome per change.

    :meth:`withdraw` serves ``withdraw_units``: stock 0 for known variants of any products, 50
    items a ``PUT /v3/catalog/variants`` (the batch endpoint names each variant by id, whatever
    its product), so a burst of orders costs one request per 50 sold units.
    """

    def __init__(
        self,
        client: BigCommerceClient,
        product: Product | None,
        *,
        withdraw_mode: str,
        log: Any,
        known_products: dict[str, int] | None = None,
        still_for_sale: StillForSale = every_unit_for_sale,
    ) -> None:
        self.client = client
        #: The host's answer to "which of these units are still for sale?", asked just before
        #: each request that lists units.
        self.still_for_sale = still_for_sale
        #: POS SKU -> product id, kept by the connector across calls: new units of a known
        #: product skip the create attempt.
        self.known_products = known_products if known_products is not None else {}
        self._product = product
        self.withdraw_mode = withdraw_mode
        self.log = log.bind(
            operation="publish_variants" if product else "withdraw_units",
            product_sku=product.sku if product else None,
        )
        self.outcomes: dict[int, PublishOutcome] = {}
        #: index of a change repeated in the call -> index of its first occurrence
        self._repeats: dict[int, int] = {}
        #: the integration ids this call is about (never reclaimed as leftovers)
        self._named: set[str] = set()
        #: True once the product holds the POS's content (created or put by this call)
        self._content_sent = False

    @property
    def product(self) -> Product:
        """The product of a ``publish_variants`` call (a withdrawal across products has none)."""
        if self._product is None:
            raise RuntimeError("this publisher withdraws across products: it has no product")
        return self._product

    # -- entry ---------------------------------------------------------------------------

    def run(self, changes: Sequence[ListingChange]) -> list[PublishOutcome]:
        """Apply ``changes``; exactly one outcome per change, in the same order."""
        works = self._validate(changes)
        self._named = {w.iid for w in works}
        works = self._update_content(works)
        direct = [w for w in works if _ids(w.change.remote) is not None]
        resolve = [w for w in works if _ids(w.change.remote) is None]
        if direct:
            left = self._write(self._direct_items(direct))
            resolve += left.missing
            self._adopt(left.conflicts)
        if resolve:
            self._resolve(resolve, hint=_product_hint(changes))
        self._write_metafields(works)
        for index, first in self._repeats.items():
            self.outcomes[index] = self.outcomes[first]
        return [self.outcomes[i] for i in range(len(changes))]

    def _update_content(self, works: list[_Work]) -> list[_Work]:
        """The product's own fields (name, description) after a change in the POS: one
        ``PUT /v3/catalog/products/{id}``, sent when a listed unit names the product group and
        the content it remembers (``RemoteIds.extra["content"]``) is not the POS's.

        Returns the works left to write: a listed unit whose own groups (price, photo) are
        unchanged needs no variant write, and is done here.
        """
        wanted = mapping.content_digest(self.product)
        named = [
            w
            for w in works
            if w.change.action is ListingAction.UPSERT
            and FieldGroup.PRODUCT in w.change.changed
            and _ids(w.change.remote) is not None
        ]
        if not named:
            return works
        error: RemoteError | None = None
        stale = [
            w for w in named if w.change.remote and w.change.remote.extra.get("content") != wanted
        ]
        if stale:
            ids = _ids(stale[0].change.remote)
            assert ids is not None
            remote = stale[0].change.remote
            try:
                self._put_content(ids[0], remote.extra.get("content") if remote else None)
                self._content_sent = True
            except AuthenticationError:
                raise
            except RemoteError as exc:
                error = exc
        left: list[_Work] = []
        for work in works:
            if work in named and error is not None:
                self._fail_remote(work, error)
            elif work in named and not (work.change.changed & _VARIANT_GROUPS):
                known = work.change.remote.extra.get("image") if work.change.remote else None
                work.image = known if isinstance(known, str) else None
                result = PublishResult.UPDATED if stale else PublishResult.UNCHANGED
                self._done(work, result, work.change.remote)
            else:
                left.append(work)
        return left

    def _put_content(self, product_id: int, remembered: str | None) -> None:
        """The fields the product does not hold: one ``PUT`` of its own fields, and its
        photos replaced when they changed."""
        body = mapping.content_changes(self.product, remembered)
        images = body.pop("images", None)
        if images is not None:
            self._replace_images(product_id, images)
        if not body:
            return
        response = self.client.update_product(product_id, body)
        if response.status_code == 409 and "name" in response.text.casefold():
            # Names are unique store-wide: the same fallback as at creation.
            body["name"] = f"{self.product.title} [{self.product.sku}]"
            response = self.client.update_product(product_id, body)
        self.client.http.raise_for_status(response)
        self.log.info("bigcommerce.product_updated", product_id=product_id, fields=sorted(body))

    def _replace_images(self, product_id: int, images: list[str]) -> None:
        """The product's photos become the POS's: the old ones deleted (BigCommerce answers its
        own copies, not the URLs they came from, so none can be matched and kept), the new
        ones added, the first as the thumbnail. Variant photos are the variants' own."""
        old = self.client.product_image_ids(product_id)
        for image_id in old:
            self.client.delete_product_image(product_id, image_id)
        for position, url in enumerate(images):
            self.client.add_product_image(product_id, url, thumbnail=position == 0)
        self.log.info(
            "bigcommerce.product_images", product_id=product_id, removed=len(old), added=len(images)
        )

    def withdraw(self, changes: Sequence[ListingChange]) -> list[PublishOutcome]:
        """Stock 0 for the known variants among ``changes``, of any products, 50 a request.

        A change without remembered ids (or in ``delete`` mode, which BigCommerce cannot batch)
        gets no outcome: the host withdraws it through ``publish_variants`` with its product.
        """
        items: list[_Item] = []
        for index, change in enumerate(changes):
            ids = _ids(change.remote)
            if change.action is not ListingAction.WITHDRAW or ids is None:
                continue
            if self.withdraw_mode != "zero_stock":
                continue
            work = _Work(index, change, change.unit.integration_id)
            items.append(self._withdraw_item(work, *ids))
        self._write(items)
        return [self.outcomes[i] for i in sorted(self.outcomes)]

    def _validate(self, changes: Sequence[ListingChange]) -> list[_Work]:
        works: list[_Work] = []
        seen: dict[str, _Work] = {}
        for index, change in enumerate(changes):
            unit = change.unit
            try:
                iid = unit.integration_id
                check_length(iid, limit=SKU_LIMIT, channel="bigcommerce")
            except IntegrationIdError as exc:
                self._fail(index, change, str(exc), code=exc.rule, retryable=False)
                continue
            if unit.sku != self.product.sku:
                self._fail(
                    index,
                    change,
                    f"unit {iid!r} belongs to SKU {unit.sku!r}, not to product "
                    f"{self.product.sku!r} published in this call",
                    code="wrong-product",
                    retryable=False,
                )
                continue
            other = seen.get(iid.casefold())
            if other is not None and other.iid == iid and other.change.action == change.action:
                # The same change twice: do it once, answer it twice.
                self._repeats[index] = other.index
                continue
            if other is not None and other.iid == iid:
                self._fail(
                    index,
                    change,
                    f"{iid!r} comes twice in one call with different actions",
                    code="conflicting-changes",
                    retryable=False,
                )
                continue
            if other is not None:
                self._fail(
                    index,
                    change,
                    f"{iid!r} and {other.iid!r} differ only in case; BigCommerce SKUs are "
                    "case-insensitive, so only one of them can be listed",
                    code="sku-case-conflict",
                    retryable=False,
                )
                continue
            problem = (
                unit_metafields.unit_problem(unit)
                if change.action is ListingAction.UPSERT
                else None
            )
            if problem is not None:
                self._fail(index, change, problem, code="invalid-attributes", retryable=False)
                continue
            work = _Work(index, change, iid)
            seen[iid.casefold()] = work
            works.append(work)
        return works

    # -- known variants -------------------------------------------------------------------

    def _direct_items(self, works: list[_Work]) -> list[_Item]:
        items: list[_Item] = []
        for work in works:
            ids = _ids(work.change.remote)
            assert ids is not None
            product_id, variant_id = ids
            if work.change.action is ListingAction.UPSERT:
                body = mapping.batch_upsert(
                    self.product, work.change.unit, variant_id, image=work.image_to_send()
                )
                items.append(_Item(work, "update", body, product_id, PublishResult.UPDATED))
            else:
                items.append(self._withdraw_item(work, product_id, variant_id))
        return items

    def _withdraw_item(self, work: _Work, product_id: int, variant_id: int) -> _Item:
        # Stock 0 leaves the variant's image in place: keep remembering it.
        extra = work.change.remote.extra if work.change.remote else {}
        known = extra.get("image")
        work.image = known if isinstance(known, str) else None
        body = mapping.batch_withdraw(variant_id)
        return _Item(work, "withdraw", body, product_id, PublishResult.WITHDRAWN)

    # -- lookup, adopt, create -------------------------------------------------------------

    def _resolve(self, works: list[_Work], *, hint: int | None) -> None:
        key = self.product.listing_sku
        hint = hint if hint is not None else self.known_products.get(key)
        record = self.client.product(hint) if hint is not None else None
        if record is not None and str(record.get("sku", "")).casefold() != key.casefold():
            # The ids led to another product: a unit adopted where a 409 found it.
            record = None
        optimistic = hint is None and all(w.change.action is ListingAction.UPSERT for w in works)
        if record is None and not optimistic:
            record = self.client.product_by_sku(key)
        if record is None:
            # Nothing known of this product: most likely new, so try to create it with all
            # its units in one request; a 409 on its SKU sends us to the existing one.
            found = self._create_product(works)
            if found is None:
                return
            record, works = found
        remote = RemoteProduct.from_json(record)
        self.known_products[key] = remote.id
        if remote.inventory_tracking != "variant":
            # Made by hand, perhaps: without per-variant tracking, stock 0 withdraws nothing
            # and a sold unit stays buyable. One write puts it right before anything else.
            self.log.warning("bigcommerce.tracking_fixed", product_id=remote.id)
            self.client.track_by_variant(remote.id)
        by_sku = remote.variant_by_sku()
        items: list[_Item] = []
        new: list[_Work] = []
        for work in works:
            variant = by_sku.get(work.iid.casefold())
            if variant is not None and variant.sku != work.iid:
                self._case_conflict(work, variant)
            elif work.change.action is ListingAction.WITHDRAW:
                if variant is None:
                    # Not in this product: maybe in a sibling (a store that lost its ids).
                    items += self._withdraw_elsewhere(work)
                elif variant.inventory_level <= 0 and self.withdraw_mode == "zero_stock":
                    self._done(work, PublishResult.WITHDRAWN, _remote(variant))
                else:
                    items.append(self._withdraw_item(work, variant.product_id, variant.id))
            elif variant is None:
                retyped = _holder_of_serial(remote, self.product.option_name, work.unit_serial)
                if retyped is None:
                    new.append(work)
                else:
                    items.append(self._restore_sku(work, retyped))
            else:
                items += self._update_or_keep(work, variant)
        items += self._create_items(remote, new)
        left = self._write(items)
        self._adopt(left.conflicts)
        for work in left.missing:
            # Gone between our read and our write: nothing more this pass can do safely.
            self._fail(
                work.index,
                work.change,
                f"variant of {work.iid!r} disappeared while it was being written",
                code="variant-missing",
                retryable=True,
            )

    def _withdraw_elsewhere(self, work: _Work) -> list[_Item]:
        """A withdrawal of a unit this product does not hold and whose ids are not known: its
        SKU is unique store-wide, so one lookup finds it in whichever product (a sibling)
        holds it; nothing found, or stock 0 already, is withdrawn as asked."""
        record = self.client.variant_by_sku(work.iid)
        variant = RemoteVariant.from_json(record) if record is not None else None
        if variant is None or variant.sku != work.iid:
            self._done(work, PublishResult.WITHDRAWN, None)
            return []
        if variant.inventory_level <= 0 and self.withdraw_mode == "zero_stock":
            self._done(work, PublishResult.WITHDRAWN, _remote(variant))
            return []
        return [self._withdraw_item(work, variant.product_id, variant.id)]

    def _restore_sku(self, work: _Work, variant: RemoteVariant) -> _Item:
        """An update giving back the unit's SKU to the variant that holds its serial's option
        value under another SKU (retyped by hand): creating a second variant would be refused
        (422, the value combination exists), and the option value *is* the unit's serial."""
        self.log.warning(
            "bigcommerce.sku_restored",
            variant_id=variant.id,
            found=variant.sku,
            sku=work.iid,
        )
        body = mapping.batch_upsert(
            self.product,
            work.change.unit,
            variant.id,
            sku=work.iid,
            image=work.image_to_send(variant.image_url or None),
        )
        return _Item(work, "update", body, variant.product_id, PublishResult.UPDATED)

    def _update_or_keep(self, work: _Work, variant: RemoteVariant) -> list[_Item]:
        """An update item for a found variant, or none (UNCHANGED) when it already fits."""
        image = work.image_to_send(variant.image_url or None)
        if image is None and self._matches(work, variant):
            self._done(work, PublishResult.UNCHANGED, _remote(variant))
            return []
        body = mapping.batch_upsert(self.product, work.change.unit, variant.id, image=image)
        return [_Item(work, "update", body, variant.product_id, PublishResult.UPDATED)]

    def _matches(self, work: _Work, variant: RemoteVariant) -> bool:
        price = mapping.unit_price(self.product, work.change.unit)
        same_price = variant.price is not None and abs(variant.price - price) < _PRICE_TOLERANCE
        return same_price and variant.inventory_level == 1

    def _create_items(self, remote: RemoteProduct, works: list[_Work]) -> list[_Item]:
        """Batch-create items for units new to an existing product (option values first)."""
        if not works:
            return []
        name = self.product.option_name
        option = remote.option(name)
        held = len(option.values) if option is not None else 0
        new_labels = {w.unit_serial.casefold() for w in works} - set(
            option.values if option is not None else ()
        )
        if held + len(new_labels) > OPTION_VALUE_LIMIT:
            freed = self._reclaim(remote, option, held + len(new_labels) - OPTION_VALUE_LIMIT)
            if freed:
                record = self.client.product(remote.id)
                if record is not None:
                    remote = RemoteProduct.from_json(record)
                    option = remote.option(name)
                    held = len(option.values) if option is not None else 0
        works = self._within_limit(
            works,
            already=held,
            product_id=remote.id,
            labels=option.values if option is not None else {},
        )
        if not works:
            return []
        wanted = [w.unit_serial for w in works]
        if option is None:
            created = self.client.create_option(remote.id, name, wanted)
            option = mapping.RemoteOption.from_json(created)
        else:
            labels = [s for s in dict.fromkeys(wanted) if s.casefold() not in option.values]
            if labels:
                updated = self.client.add_option_values(
                    remote.id, option.id, option.display_name, option.raw_values, labels
                )
                option = mapping.RemoteOption.from_json(updated)
        items: list[_Item] = []
        for work in works:
            value_id = option.values.get(work.unit_serial.casefold())
            if value_id is None:
                self._fail(
                    work.index,
                    work.change,
                    f"BigCommerce did not create option value {work.unit_serial!r}",
                    code="option-value-missing",
                    retryable=True,
                )
                continue
            body = mapping.batch_create(
                self.product,
                work.change.unit,
                remote.id,
                option.id,
                value_id,
                image=work.image_to_send(),
            )
            items.append(_Item(work, "create", body, remote.id, PublishResult.CREATED))
        return items

    def _within_limit(
        self,
        works: list[_Work],
        *,
        already: int,
        product_id: int | None,
        labels: Mapping[str, int] | None = None,
    ) -> list[_Work]:
        """The works that fit beside ``already`` values (a serial among ``labels`` has its
        value already); the rest fail, retryable (the host places at most the capacity in one
        product, so only a product filled behind its back gets here)."""
        room = max(OPTION_VALUE_LIMIT - already, 0)
        fits: list[_Work] = []
        over: list[_Work] = []
        for work in works:
            if labels is not None and work.unit_serial.casefold() in labels:
                fits.append(work)
            elif room > 0:
                room -= 1
                fits.append(work)
            else:
                over.append(work)
        for work in over:
            where = f"product {product_id}" if product_id is not None else "the new product"
            self._fail(
                work.index,
                work.change,
                f"{where} ({self.product.listing_sku!r}) already holds {already} of the "
                f"{OPTION_VALUE_LIMIT} values BigCommerce allows in one option",
                code="product-full",
                retryable=True,
            )
        return fits

    def _reclaim(self, remote: RemoteProduct, option: RemoteOption | None, needed: int) -> int:
        """Delete up to ``needed`` withdrawn leftovers (variants at stock 0, not named in this
        call) with their option values; returns how many values were freed."""
        if option is None or needed <= 0:
            return 0
        named = {w.casefold() for w in self._named}
        freed = 0
        for variant in remote.variants:
            if freed >= needed:
                break
            if variant.inventory_level > 0 or variant.sku.casefold() in named:
                continue
            try:
                self.client.delete_variant(remote.id, variant.id)
                for value_id in variant.option_value_ids:
                    self.client.delete_option_value(remote.id, option.id, value_id)
            except AuthenticationError:
                raise
            except RemoteError as exc:
                self.log.warning(
                    "bigcommerce.reclaim_failed", variant_id=variant.id, error=str(exc)
                )
                continue
            freed += 1
        if freed:
            self.log.info("bigcommerce.reclaimed", product_id=remote.id, variants=freed)
        return freed

    def _create_product(self, works: list[_Work]) -> tuple[dict[str, Any], list[_Work]] | None:
        """Create the product with its units; or, if it exists after all, return it.

        Returns ``(product record, units still to do)`` when the platform says the product's
        SKU is taken (the product exists: the caller goes on with it), else ``None``.
        """
        upserts: list[_Work] = []
        items: list[_Item] = []
        for work in works:
            if work.change.action is ListingAction.WITHDRAW:
                # No product here: the unit may still be listed in a sibling.
                items += self._withdraw_elsewhere(work)
            else:
                upserts.append(work)
        self._write(items)
        upserts = self._within_limit(upserts, already=0, product_id=None)
        name = self.product.title
        with_images = True
        # Each 409 adopts at least one unit, renames once, or ends; images are dropped once.
        for _attempt in range(len(upserts) + 3):
            if not upserts:
                return None
            images = [w.image_to_send() if with_images else None for w in upserts]
            if not with_images:
                for work in upserts:
                    work.image = None
            body = mapping.new_product(
                self.product, [w.change.unit for w in upserts], name=name, images=images
            )
            keep = self._still_for_sale(upserts)
            body["variants"] = [
                variant if work.index in keep else mapping.held_back(variant)
                for work, variant in zip(upserts, body["variants"], strict=True)
            ]
            response = self.client.create_product(body)
            if response.status_code < 300:
                # A truncated answer raises "retry": the product may exist, and the next
                # pass adopts it after the 409.
                data = (self.client.read_json(response) or {}).get("data") or {}
                self._created(upserts, data, keep)
                return None
            if (
                with_images
                and any(images)
                and response.status_code in (400, 422)
                and "image" in response.text.casefold()
            ):
                # A photo BigCommerce could not take must not keep the units off the shop:
                # create them without images; the next publish sends the images again.
                self.log.warning(
                    "bigcommerce.image_refused",
                    status=response.status_code,
                    reason=self.client.http.excerpt(response),
                )
                with_images = False
                continue
            if response.status_code != 409:
                self._fail_all(upserts, response)
                return None
            text = response.text.casefold()
            named = [w for w in upserts if w.iid.casefold() in text]
            if named:
                self._adopt(named)
                upserts = [w for w in upserts if w not in named]
                continue
            existing = self.client.product_by_sku(self.product.listing_sku)
            if existing is not None:
                return existing, upserts
            if name == self.product.title and "name" in text:
                # Product names are unique too; a POS SKU titled like another product gets
                # its SKU appended rather than failing.
                name = f"{self.product.title} [{self.product.sku}]"
                continue
            taken = self._taken_skus(upserts, text)
            if not taken:
                self._fail_all(upserts, response)
                return None
            self._adopt(taken)
            upserts = [w for w in upserts if w not in taken]
        return None

    def _fail_all(self, works: list[_Work], response: Any) -> None:
        error = self.client.http.error_for(response)
        if isinstance(error, AuthenticationError):
            raise error
        for work in works:
            self._fail_remote(work, error)

    def _taken_skus(self, works: list[_Work], folded: str) -> list[_Work]:
        """Which units a product 409 not naming them is about: look each up (rare)."""
        if "sku" not in folded:
            return []
        # The error does not say which SKU: ask for each (rare: a unit listed elsewhere).
        return [w for w in works if self.client.variant_by_sku(w.iid) is not None]

    def _created(self, works: list[_Work], data: Mapping[str, Any], listed: set[int]) -> None:
        """Record the product just created; a work not in ``listed`` was created at stock 0
        (sold meanwhile): withdrawn, with its ids."""
        product_id = int(data["id"])
        self.known_products[self.product.listing_sku] = product_id
        self._content_sent = True  # created with the POS's content
        variants = data.get("variants")
        if not variants:
            record = self.client.product(product_id) or {}
            variants = record.get("variants") or []
        by_sku = {str(v.get("sku", "")).casefold(): v for v in variants}
        for work in works:
            found = by_sku.get(work.iid.casefold())
            if found is None:
                self._fail(
                    work.index,
                    work.change,
                    f"product {product_id} was created without a variant for {work.iid!r}",
                    code="variant-missing",
                    retryable=True,
                )
                continue
            result = PublishResult.CREATED if work.index in listed else PublishResult.WITHDRAWN
            self._done(work, result, _remote(RemoteVariant.from_json(found)))

    def _adopt(self, works: list[_Work]) -> None:
        """Adopt variants whose SKU the platform says is taken (409), wherever they live."""
        items: list[_Item] = []
        for work in works:
            record = self.client.variant_by_sku(work.iid)
            if record is None:
                self._fail(
                    work.index,
                    work.change,
                    f"BigCommerce says the SKU {work.iid!r} is taken, but no variant has it",
                    code="sku-conflict",
                    retryable=True,
                )
                continue
            variant = RemoteVariant.from_json(record)
            if variant.sku != work.iid:
                self._case_conflict(work, variant)
            elif work.change.action is ListingAction.WITHDRAW:
                items.append(self._withdraw_item(work, variant.product_id, variant.id))
            else:
                items += self._update_or_keep(work, variant)
        left = self._write(items)
        for work in left.missing + left.conflicts:
            self._fail(
                work.index,
                work.change,
                f"the variant {work.iid!r} could not be adopted",
                code="sku-conflict",
                retryable=True,
            )

    def _case_conflict(self, work: _Work, variant: RemoteVariant) -> None:
        self._fail(
            work.index,
            work.change,
            f"BigCommerce already has the SKU {variant.sku!r} (variant {variant.id} of product "
            f"{variant.product_id}), which equals {work.iid!r} ignoring case; SKUs are "
            "case-insensitive there, and a variant not written with the exact id is not "
            "adopted, as it may stand for another unit",
            code="sku-case-conflict",
            retryable=False,
        )

    # -- writing -------------------------------------------------------------------------

    def _write(self, items: list[_Item]) -> _Round:
        """Send the items: deletes one by one, the rest in batches of 50."""
        left = _Round()
        if self.withdraw_mode == "delete":
            deletes = [i for i in items if i.kind == "withdraw"]
            for item in deletes:
                self._delete(item)
            self._sweep_values({i.product_id for i in deletes})
            items = [i for i in items if i.kind != "withdraw"]
        while items:
            # Items whose image alone was refused go round once more, without it.
            again: list[_Item] = []
            for batch in chunks(items, BATCH_LIMIT):
                self._hold_back_sold(batch)
                try:
                    result = self.client.batch_variants([item.body for item in batch])
                except AuthenticationError:
                    raise
                except RemoteError as exc:
                    for item in batch:
                        self._fail_remote(item.work, exc)
                    continue
                again += self._read_batch(batch, result, left)
            items = again
        return left

    def _still_for_sale(self, works: Sequence[_Work]) -> set[int]:
        """The indexes of those ``works`` the host still wants for sale, asked now (it reads
        the host's store: once per request, and not at all when there is nothing to ask)."""
        if not works:
            return set()
        keep = self.still_for_sale([w.unit_serial for w in works])
        return {w.index for w in works if w.unit_serial in keep}

    def _hold_back_sold(self, batch: list[_Item]) -> None:
        """Send at stock 0 the items of one batch that would list a unit the host no longer
        wants for sale: the call was planned before it was sent, and a unit sold on another
        channel meanwhile is never listed by it; it is answered withdrawn, with its ids."""
        listing = [i for i in batch if i.kind != "withdraw" and i.body.get("inventory_level")]
        keep = self._still_for_sale([i.work for i in listing])
        for item in listing:
            if item.work.index not in keep:
                item.body = mapping.held_back(item.body)
                item.result = PublishResult.WITHDRAWN

    def _sweep_values(self, product_ids: set[int]) -> None:
        """Delete the serial option's values no variant uses any more (BigCommerce keeps a
        value when its variant is deleted, and a product holds only 250 of them): one read
        per product, one request per stale value."""
        for product_id in sorted(product_ids):
            try:
                record = self.client.product(product_id)
                if record is None:
                    continue
                remote = RemoteProduct.from_json(record)
                option = remote.option(self._product.option_name if self._product else "Serial")
                if option is None:
                    continue
                used = {v for variant in remote.variants for v in variant.option_value_ids}
                for value_id in sorted(set(option.values.values()) - used):
                    self.client.delete_option_value(product_id, option.id, value_id)
            except AuthenticationError:
                raise
            except RemoteError as exc:
                # The units are withdrawn; a stale value is swept by the next delete.
                self.log.warning(
                    "bigcommerce.value_sweep_failed", product_id=product_id, error=str(exc)
                )

    def _delete(self, item: _Item) -> None:
        variant_id = int(item.body["id"])
        try:
            self.client.delete_variant(item.product_id, variant_id)
        except AuthenticationError:
            raise
        except RemoteError as exc:
            self._fail_remote(item.work, exc)
            return
        # Deleted (or already gone): no remote ids remain to remember.
        self._done(item.work, PublishResult.WITHDRAWN, None)

    def _read_batch(self, batch: list[_Item], result: BatchResult, left: _Round) -> list[_Item]:
        """Record what the batch wrote; returns the items to send again without their image."""
        again: list[_Item] = []
        unwritten: list[_Item] = []
        for item in batch:
            written = result.written(variant_id=_variant_id(item), sku=item.work.iid)
            if written is None:
                unwritten.append(item)
                continue
            variant = RemoteVariant.from_json({"product_id": item.product_id, **written})
            self._done(item.work, item.result, _remote(variant))
        for item in unwritten:
            error = result.error_about(
                variant_id=_variant_id(item), sku=item.work.iid, alone=len(unwritten) == 1
            )
            text = error.text.casefold()
            if "image_url" in item.body and error.status in (400, 422) and "image" in text:
                # The photo, not the unit, was refused: list the unit without it; the image
                # stays unrecorded, so the next publish offers it again.
                self.log.warning(
                    "bigcommerce.image_refused", integration_id=item.work.iid, reason=error.text
                )
                item.work.image = None
                body = {k: v for k, v in item.body.items() if k != "image_url"}
                again.append(_Item(item.work, item.kind, body, item.product_id, item.result))
            elif item.kind == "create" and (error.status == 409 or "duplicate" in text):
                left.conflicts.append(item.work)
            elif item.kind != "create" and (error.status == 404 or "not found" in text):
                if item.kind == "withdraw":
                    self._done(item.work, PublishResult.WITHDRAWN, None)  # already gone
                else:
                    left.missing.append(_forget(item.work))
            else:
                self._fail(
                    item.work.index,
                    item.work.change,
                    f"BigCommerce refused the variant {item.work.iid!r}: {error.text}",
                    code=str(error.status or "batch-error"),
                    # 5xx inside a batch is transient; validation (4xx) will not change.
                    retryable=error.status >= 500 or error.status in (0, 429),
                )
        return again

    # -- the unit's attributes -------------------------------------------------------------

    def _write_metafields(self, works: list[_Work]) -> None:
        """Each listed unit whose own fields changed gets its attributes as metafields of its
        variant (batched across units); a unit they could not be written for fails, retryable,
        keeping the ids its variant was given."""
        jobs: dict[int, unit_metafields.Job] = {}
        for work in works:
            outcome = self.outcomes.get(work.index)
            change = work.change
            if (
                outcome is None
                or change.action is not ListingAction.UPSERT
                or FieldGroup.UNIT not in change.changed
                or outcome.result
                not in (PublishResult.CREATED, PublishResult.UPDATED, PublishResult.UNCHANGED)
            ):
                continue
            ids = _ids(outcome.remote)
            if ids is None:
                continue
            extra = change.remote.extra if change.remote else {}
            known = unit_metafields.remembered(extra)
            if known is None and outcome.result is PublishResult.CREATED:
                known = {}  # a variant made by this call has none
            job = unit_metafields.Job(ids[0], ids[1], change.unit, known)
            if not known and not job.want:
                continue  # nothing to write, and nothing known to remove
            if known is not None and extra.get(unit_metafields.DIGEST_EXTRA) == job.digest:
                continue  # the attributes are as written (the photo changed, say)
            jobs[work.index] = job
        self._keep_metafield_ids([w for w in works if w.index not in jobs])
        if not jobs:
            return
        unit_metafields.UnitMetafields(self.client, self.log).sync(list(jobs.values()))
        for index, job in jobs.items():
            outcome = self.outcomes[index]
            assert outcome.remote is not None
            if job.error is not None:
                self.log.warning("bigcommerce.metafields_failed", serial=job.unit.serial)
                self.outcomes[index] = PublishOutcome(
                    sku=outcome.sku,
                    serial=outcome.serial,
                    result=PublishResult.FAILED,
                    remote=outcome.remote,
                    reason=job.error,
                    code="metafields",
                    retryable=True,
                )
                continue
            extra = {
                **outcome.remote.extra,
                unit_metafields.IDS_EXTRA: job.extra(),
                unit_metafields.DIGEST_EXTRA: job.digest,
            }
            result = outcome.result
            if result is PublishResult.UNCHANGED:
                result = PublishResult.UPDATED
            self.outcomes[index] = outcome.model_copy(
                update={
                    "result": result,
                    "remote": outcome.remote.model_copy(update={"extra": extra}),
                }
            )

    def _keep_metafield_ids(self, works: list[_Work]) -> None:
        """A listed unit whose attributes were not written keeps the ids it had."""
        for work in works:
            outcome = self.outcomes.get(work.index)
            before = work.change.remote.extra if work.change.remote else {}
            ids = before.get(unit_metafields.IDS_EXTRA)
            kept = {
                k: before[k]
                for k in (unit_metafields.IDS_EXTRA, unit_metafields.DIGEST_EXTRA)
                if k in before
            }
            if (
                ids is None
                or outcome is None
                or outcome.remote is None
                or outcome.result in (PublishResult.FAILED, PublishResult.WITHDRAWN)
                or unit_metafields.IDS_EXTRA in outcome.remote.extra
            ):
                continue
            extra = {**outcome.remote.extra, **kept}
            remote = outcome.remote.model_copy(update={"extra": extra})
            self.outcomes[work.index] = outcome.model_copy(update={"remote": remote})

    # -- outcomes ------------------------------------------------------------------------

    def _done(self, work: _Work, result: PublishResult, remote: RemoteIds | None) -> None:
        unit = work.change.unit
        if remote is not None and work.image is not None:
            remote = _with_image(remote, work.image)
        if (
            remote is not None
            and self._product is not None
            and work.change.action is ListingAction.UPSERT
        ):
            # Listed or updated (or written unsellable, sold meanwhile): the product holds the
            # POS's content (created with it, or put before any variant write of this call).
            content = mapping.content_digest(self._product)
            remote = remote.model_copy(update={"extra": {**remote.extra, "content": content}})
        self.outcomes[work.index] = PublishOutcome(
            sku=unit.sku, serial=unit.serial, result=result, remote=remote
        )

    def _fail(
        self,
        index: int,
        change: ListingChange,
        reason: str,
        *,
        code: str,
        retryable: bool,
    ) -> None:
        self.log.warning(
            "bigcommerce.unit_failed", sku=change.unit.sku, serial=change.unit.serial, code=code
        )
        self.outcomes[index] = change.failed(reason, code=code, retryable=retryable)

    def _fail_remote(self, work: _Work, error: RemoteError) -> None:
        self._fail(
            work.index,
            work.change,
            str(error),
            code=str(error.status or "remote-error"),
            retryable=isinstance(error, RetryableRemoteError),
        )


# -- small helpers ------------------------------------------------------------------------


def _ids(remote: RemoteIds | None) -> tuple[int, int] | None:
    """``(product_id, variant_id)`` when the last publish recorded both."""
    if remote is None or not remote.product_id or not remote.variant_id:
        return None
    try:
        return int(remote.product_id), int(remote.variant_id)
    except ValueError:
        return None


def _product_hint(changes: Sequence[ListingChange]) -> int | None:
    for change in changes:
        if change.remote is not None and change.remote.product_id:
            try:
                return int(change.remote.product_id)
            except ValueError:
                continue
    return None


def _forget(work: _Work) -> _Work:
    """The same work with its stale remote ids dropped (the variant is gone)."""
    return _Work(work.index, work.change.model_copy(update={"remote": None}), work.iid)


def _remote(variant: RemoteVariant) -> RemoteIds:
    return RemoteIds(product_id=str(variant.product_id), variant_id=str(variant.id))


def _variant_id(item: _Item) -> int | None:
    """The variant an update or withdrawal item addresses (``None`` for a create)."""
    return int(item.body["id"]) if "id" in item.body else None


def _with_image(remote: RemoteIds, url: str) -> RemoteIds:
    return remote.model_copy(update={"extra": {**remote.extra, "image": url}})


def _holder_of_serial(remote: RemoteProduct, option_name: str, serial: str) -> RemoteVariant | None:
    """The variant holding ``serial``'s value of the serial option, if any."""
    option = remote.option(option_name)
    value_id = option.values.get(serial.casefold()) if option is not None else None
    if value_id is None:
        return None
    return next((v for v in remote.variants if value_id in v.option_value_ids), None)
