"""``publish_variants`` for WooCommerce: one variable product per POS SKU, one variation per unit.

The steps, in the order WooCommerce needs them:

1. **Parent.** Use the product id the last publish returned; else create the product with every
   new serial already in its options (one POST); if its SKU is taken, adopt the product that
   holds it.
2. **Options first.** A variation whose serial is not among the parent's options loses its
   attribute *silently*, so the parent's options are extended (one PUT) before any variation is
   created.
3. **Batches.** Creates, updates and deletes go through ``variations/batch``, at most
   ``batch_size`` (≤ 100) items per call across the three lists. The batch answers 200 even when
   items fail, so every answer item is read and becomes that unit's outcome. Just before each
   batch, the host's ``still_for_sale`` is asked about the units it would put in stock; a unit
   sold meanwhile goes in that same batch at stock 0 and is answered ``WITHDRAWN``.
4. **Second round.** A create refused with ``product_invalid_sku`` means the variation exists
   (a crash after an earlier create): it is found by SKU and adopted, updated if it differs. An
   update of a variation that is gone becomes a create.
5. **Delete mode only.** Serials whose variation was deleted leave the parent's options.

:func:`withdraw_across_products` serves ``withdraw_units``: the sold units of many products at
stock 0. WooCommerce has no batch across products (``products/batch`` refuses variations), so
it sends one ``variations/batch`` per product, several products side by side.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
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
    in_this_context,
)

from serialsync_woocommerce.client import (
    INVALID_PRODUCT_ID,
    INVALID_VARIATION_ID,
    Json,
    WooClient,
)
from serialsync_woocommerce.mapping import (
    attributes_with_serials,
    content_changes,
    content_digest,
    error_is_retryable,
    item_error,
    new_product_payload,
    same_name,
    serial_options,
    variation_fields,
    variation_matches,
    with_brand,
)

SKU_LIMIT = CHANNEL_SKU_LIMITS["woocommerce"]
DUPLICATE_SKU = "product_invalid_sku"
IMAGE_KEY = "image_src"
META_KEYS = "meta_keys"  # RemoteIds.extra: the attribute meta keys the variation was sent
CONTENT_KEY = "content"  # RemoteIds.extra: the product content the product is known to hold
#: The field groups a variation shows of its unit: a change to none of them writes none.
_VARIANT_GROUPS = frozenset({FieldGroup.PRICE, FieldGroup.UNIT})

Kind = Literal["create", "update", "delete"]


@dataclass
class _Op:
    """One batch item for one change."""

    index: int
    kind: Kind
    payload: Json
    withdraw: bool = False
    resource_id: Any = None  # what product_invalid_sku said holds the SKU


@dataclass
class _Parent:
    """What is known of the parent product during one call."""

    product_id: str | None = None
    body: Json | None = None  # the product as last read, when it was read
    created_now: bool = False
    sent_creates: int = 0  # variation creates sent in this call (for lookup costs)
    #: Its variations as listed at the start of this call, when they were (see _held_serials).
    variations: list[Json] | None = None


class _ParentGoneError(Exception):
    """The remembered product id names no product any more: start again without remote ids."""


@dataclass
class Publisher:
    """Publishes one product's changes; build one per call."""

    client: WooClient
    product: Product
    changes: Sequence[ListingChange]
    batch_size: int
    withdraw_mode: str = "zero_stock"
    log: Any = None
    #: The host's answer to "which of these units are still for sale?", asked before each batch.
    still_for_sale: StillForSale = every_unit_for_sale
    outcomes: dict[int, PublishOutcome] = field(default_factory=dict)
    #: True once the product holds the POS's content (created or put by this call).
    content_sent: bool = False

    # -- entry point ------------------------------------------------------------------------

    def run(self) -> list[PublishOutcome]:
        """Publish every change; exactly one outcome per change, in the order of the changes."""
        try:
            self._run(trust_remote=True)
        except _ParentGoneError:
            self.outcomes.clear()
            self._run(trust_remote=False)
        for i in range(len(self.changes)):
            if i not in self.outcomes:  # a safety net: the contract is one outcome per change
                self._fail(i, "no_outcome", "the plugin reached no verdict for this unit")
        return [self.outcomes[i] for i in range(len(self.changes))]

    def _run(self, *, trust_remote: bool) -> None:
        valid = self._validated()
        if not valid:
            return
        remote = {i: (self.changes[i].remote if trust_remote else None) for i in valid}
        upserts = [i for i in valid if self.changes[i].action is ListingAction.UPSERT]
        new_serials = [i for i in upserts if not _variant_id(remote[i])]
        parent = _Parent(
            product_id=next((r.product_id for r in remote.values() if r and r.product_id), None)
        )
        # Read the parent only when its options matter or ids must be looked up.
        must_read = bool(new_serials) or self.withdraw_mode == "delete"
        must_read = must_read or any(not _variant_id(remote[i]) for i in valid)
        if parent.product_id and must_read:
            parent.body = self.client.get_product(parent.product_id)
            if parent.body is None:
                if trust_remote:
                    raise _ParentGoneError
                parent.product_id = None
        if parent.product_id is None:
            serials = [self.changes[i].unit.serial for i in upserts]
            if not self._find_or_create_parent(parent, serials):
                for i in valid:
                    self._fail(
                        i,
                        DUPLICATE_SKU,
                        f"the SKU {self.product.sku!r} is taken on WooCommerce, but not by a "
                        "product (a variation of another product holds it)",
                        retryable=False,
                    )
                return
            if parent.product_id is None:
                # Only withdrawals, and the product does not exist: nothing is listed.
                for i in valid:
                    self._done(i, PublishResult.WITHDRAWN, None)
                return
        if parent.body is not None and not self._parent_usable(parent, valid):
            return
        self._update_content(parent, valid, remote)
        held = self._held_serials(parent, [i for i in new_serials if i not in self.outcomes])
        blocked = self._ensure_options(parent, [i for i in new_serials if i not in self.outcomes])
        left = [i for i in valid if i not in blocked and i not in self.outcomes]
        ops = self._first_round(parent, left, remote, held)
        retry = self._send(parent, ops, first_call=trust_remote)
        if retry:
            self._second_round(parent, retry)
        if self.withdraw_mode == "delete":
            self._drop_deleted_options(parent)

    # -- step 0: ids the channel can store ----------------------------------------------------

    def _validated(self) -> list[int]:
        valid = []
        for i, change in enumerate(self.changes):
            try:
                check_length(change.unit.integration_id, limit=SKU_LIMIT, channel="woocommerce")
            except IntegrationIdError as exc:
                self._fail(i, exc.rule, str(exc), retryable=False)
                continue
            if change.unit.sku != self.product.sku:
                # Its order lines would be rebuilt from this parent's SKU: refuse, don't guess.
                self._fail(
                    i,
                    "unit-of-another-product",
                    f"unit {change.unit.integration_id!r} was sent with product "
                    f"{self.product.sku!r}",
                    retryable=False,
                )
                continue
            valid.append(i)
        return valid

    # -- step 1: the parent -------------------------------------------------------------------

    def _find_or_create_parent(self, parent: _Parent, serials: list[str]) -> bool:
        """Find or create the parent; ``False`` when its SKU is held by something else."""
        if not serials:
            # Only withdrawals, and nothing remembered: withdraw what exists, if anything.
            parent.body = self.client.find_product_by_sku(self.product.sku)
            parent.product_id = _id(parent.body)
            return True
        try:
            payload = new_product_payload(self.product, serials)
            if self.product.brand:
                payload = with_brand(
                    {**payload, "brands": self.product.brand}, self._new_brand_id()
                )
            parent.body = self.client.create_product(payload)
            parent.created_now = True
        except RemoteError as exc:
            if exc.code != DUPLICATE_SKU:
                raise
            # The SKU is taken: most likely our own product from an earlier, interrupted pass.
            parent.body = self.client.find_product_by_sku(self.product.sku)
        parent.product_id = _id(parent.body)
        return parent.product_id is not None

    def _parent_usable(self, parent: _Parent, valid: list[int]) -> bool:
        body = parent.body or {}
        if body.get("type") == "variable":
            return True
        for i in valid:
            self._fail(
                i,
                "not_variable_product",
                f"product {parent.product_id} with SKU {self.product.sku!r} is of type "
                f"{body.get('type')!r}, not 'variable': it cannot hold one variation per serial",
                retryable=False,
            )
        return False

    def _update_content(
        self, parent: _Parent, valid: list[int], remote: dict[int, RemoteIds | None]
    ) -> None:
        """The product's own fields (name, description, photos, brand) after a change in the
        POS: one ``PUT /products/{id}`` of those the product does not hold, sent when a listed
        unit names the product group and the content its ids remember (``extra["content"]``)
        is not the POS's. A listed unit whose own groups (price, photo) are unchanged needs no
        variation write: it is done here."""
        if parent.created_now:
            self.content_sent = True
        if parent.product_id is None or parent.created_now:
            return
        wanted = content_digest(self.product)
        named = [
            i
            for i in valid
            if self.changes[i].action is ListingAction.UPSERT
            and FieldGroup.PRODUCT in self.changes[i].changed
            and _variant_id(remote[i])
        ]
        stale = [i for i in named if (remote[i] or RemoteIds()).extra.get(CONTENT_KEY) != wanted]
        changes = (
            content_changes(self.product, (remote[stale[0]] or RemoteIds()).extra.get(CONTENT_KEY))
            if stale
            else {}
        )
        if stale and not changes:
            self.content_sent = True  # held already: only its digest is new
        if changes:
            try:
                brand = changes.get("brands")
                changes = with_brand(changes, self.client.brand_id(brand) if brand else None)
                if changes:  # else only a brand, and the store carries none
                    parent.body = self.client.update_product(parent.product_id, changes)
            except AuthenticationError:
                raise
            except RemoteError as exc:
                for i in named:
                    self._fail(
                        i,
                        exc.code or "product_not_updated",
                        f"the product's title or description could not be updated: {exc}",
                        retryable=isinstance(exc, RetryableRemoteError),
                    )
                return
            self.content_sent = True
        for i in named:
            if not (self.changes[i].changed & _VARIANT_GROUPS):
                kept = remote[i] or RemoteIds()
                result = PublishResult.UPDATED if stale else PublishResult.UNCHANGED
                self._done(i, result, kept.model_copy(update={"product_id": parent.product_id}))

    def _new_brand_id(self) -> int | None:
        """The brand of a product about to be created; a brand that cannot be read or made
        now must not keep the units off the shop (it is sent with the next product change)."""
        try:
            return self.client.brand_id(str(self.product.brand))
        except AuthenticationError:
            raise
        except RemoteError as exc:
            self.log.warning(
                "woocommerce.brand_unavailable", brand=self.product.brand, error=str(exc)
            )
            return None

    # -- step 2: options before variations ----------------------------------------------------

    def _ensure_options(self, parent: _Parent, indexes: list[int]) -> set[int]:
        """Put every serial of ``indexes`` on the parent; return the changes that could not be."""
        if not indexes or parent.product_id is None:
            return set()
        if parent.body is None:
            parent.body = self.client.get_product(parent.product_id) or {}
        options = serial_options(parent.body, self.product.option_name)
        missing = [
            s
            for s in dict.fromkeys(self.changes[i].unit.serial for i in indexes)
            if s not in options
        ]
        if not missing:
            return set()
        update: Json = {
            "attributes": attributes_with_serials(
                parent.body, self.product.option_name, [*options, *missing]
            )
        }
        if parent.body.get("name") != self.product.title:
            update["name"] = self.product.title  # renamed in the POS: same PUT, no extra call
        try:
            parent.body = self.client.update_product(parent.product_id, update)
        except AuthenticationError:
            raise
        except RemoteError as exc:
            blocked = {i for i in indexes if self.changes[i].unit.serial in missing}
            for i in blocked:
                self._fail(
                    i,
                    exc.code or "options_not_updated",
                    f"the serial could not be added to the product's options: {exc}",
                    retryable=isinstance(exc, RetryableRemoteError),
                )
            return blocked
        return set()

    # -- step 3: batches ----------------------------------------------------------------------

    def _held_serials(self, parent: _Parent, indexes: list[int]) -> dict[int, int]:
        """The variation holding each unit's serial under another SKU (retyped by hand), for
        units without ids whose serial the parent still lists (one listing of its variations;
        none for new serials).

        Such a variation is the unit's. It is updated, the SKU written back, where a create
        would add a second variation for the same serial (WooCommerce does not refuse one)
        and leave the retyped one for sale. One holding the unit's own SKU is left to the
        create, whose refusal (``product_invalid_sku``) adopts it.
        """
        if not indexes or parent.product_id is None or parent.created_now:
            return {}
        options = set(serial_options(parent.body or {}, self.product.option_name))
        wanted = {self.changes[i].unit.serial: i for i in indexes}
        if not options & set(wanted):
            return {}
        held: dict[int, int] = {}
        parent.variations = self.client.list_variations(parent.product_id)
        for variation in parent.variations:
            for attribute in variation.get("attributes") or []:
                if not same_name(attribute.get("name"), self.product.option_name):
                    continue
                index = wanted.get(str(attribute.get("option")))
                if index is None or index in held or not _id(variation):
                    continue
                sku = self.changes[index].unit.integration_id
                found = variation.get("sku")
                if found != sku:  # one with the same SKU is adopted by the create's refusal
                    self.log.warning("woocommerce.sku_restored", sku=sku, found=found)
                    held[index] = int(str(_id(variation)))
        return held

    def _first_round(
        self,
        parent: _Parent,
        indexes: list[int],
        remote: dict[int, RemoteIds | None],
        held: dict[int, int],
    ) -> list[_Op]:
        ops: list[_Op] = []
        lookups: list[int] = []
        for i in indexes:
            variant = _variant_id(remote[i])
            change = self.changes[i]
            if change.action is ListingAction.UPSERT:
                if variant:
                    ops.append(_Op(i, "update", {"id": int(variant), **self._wanted(i, remote[i])}))
                elif i in held:
                    ops.append(_Op(i, "update", {"id": held[i], **self._wanted(i, None)}))
                else:
                    ops.append(_Op(i, "create", self._wanted(i, None)))
            elif variant:
                ops.append(self._withdraw_op(i, int(variant)))
            elif parent.created_now:
                self._done(i, PublishResult.WITHDRAWN, self._ids(parent, None))
            else:
                lookups.append(i)
        ops.extend(self._withdraw_lookups(parent, lookups))
        return ops

    def _withdraw_lookups(self, parent: _Parent, indexes: list[int]) -> list[_Op]:
        """Find the variations to withdraw by SKU; a unit with none is already withdrawn."""
        ops = []
        for i, found in self._find_variations(parent, indexes).items():
            if found is None:
                # Nothing to withdraw: the unit is not listed.
                self._done(i, PublishResult.WITHDRAWN, self._ids(parent, None))
            else:
                ops.append(self._withdraw_op(i, int(str(_id(found)))))
        return ops

    def _find_variations(self, parent: _Parent, indexes: list[int]) -> dict[int, Json | None]:
        """The variation of each unit, by SKU: one search each, or one listing when cheaper.

        A unit whose lookup failed gets a retryable ``FAILED`` outcome and is left out.
        """
        if not indexes:
            return {}
        assert parent.product_id is not None
        skus = {i: self.changes[i].unit.integration_id for i in indexes}
        if parent.variations is not None:
            # Listed at the start of this call: the SKUs looked up here were there already.
            listed = {str(v.get("sku")): v for v in parent.variations}
            return {i: _usable(listed.get(sku)) for i, sku in skus.items()}
        known = (parent.body or {}).get("variations")
        count = (len(known) if isinstance(known, list) else 0) + parent.sent_creates
        pages = max(1, math.ceil(count / 100))
        # WooCommerce reads a comma in ?sku= as a list of SKUs (GS1 serials may hold one).
        comma = any("," in sku for sku in skus.values())
        try:
            if pages < len(indexes) or comma:
                listed = {
                    str(v.get("sku")): v for v in self.client.list_variations(parent.product_id)
                }
                return {i: _usable(listed.get(sku)) for i, sku in skus.items()}
        except AuthenticationError:
            raise
        except RemoteError as exc:
            for i in indexes:
                self._fail(i, exc.code or "lookup_failed", f"could not look the SKU up: {exc}")
            return {}
        out: dict[int, Json | None] = {}
        for i, sku in skus.items():
            try:
                out[i] = _usable(self.client.find_variation_by_sku(parent.product_id, sku))
            except AuthenticationError:
                raise
            except RemoteError as exc:
                self._fail(i, exc.code or "lookup_failed", f"could not look the SKU up: {exc}")
        return out

    def _withdraw_op(self, index: int, variant_id: int) -> _Op:
        if self.withdraw_mode == "delete":
            return _Op(index, "delete", {"id": variant_id}, withdraw=True)
        # Stock 0 keeps the variation (and its SKU on past orders) but makes it unsellable.
        return _Op(
            index,
            "update",
            {"id": variant_id, "manage_stock": True, "stock_quantity": 0},
            withdraw=True,
        )

    def _wanted(self, index: int, remote: RemoteIds | None) -> Json:
        unit = self.changes[index].unit
        wanted = variation_fields(unit, self.product, stock=1, previous_meta=_meta_keys(remote))
        image = unit.images[0] if unit.images else None
        # An image URL is downloaded into the media library each time it is sent: send it only
        # when it differs from the one last published.
        if image and (remote is None or remote.extra.get(IMAGE_KEY) != image):
            wanted["image"] = {"src": image}
        elif not image and remote is not None and remote.extra.get(IMAGE_KEY):
            # The photo was taken off the unit: {"id": 0} removes the variation's image
            # (leaving the field out keeps it).
            wanted["image"] = {"id": 0}
        return wanted

    def _send(self, parent: _Parent, ops: list[_Op], *, first_call: bool) -> list[_Op]:
        """Send ``ops`` in batches; record outcomes; return the ops that need a second round."""
        assert parent.product_id is not None
        retry: list[_Op] = []
        for start in range(0, len(ops), self.batch_size):
            chunk = ops[start : start + self.batch_size]
            groups: dict[Kind, list[_Op]] = {
                kind: [op for op in chunk if op.kind == kind]
                for kind in ("create", "update", "delete")
            }
            parent.sent_creates += len(groups["create"])
            self._hold_back_sold(chunk)
            try:
                answer = self.client.batch_variations(
                    parent.product_id,
                    create=[op.payload for op in groups["create"]],
                    update=[op.payload for op in groups["update"]],
                    delete=[op.payload["id"] for op in groups["delete"]],
                )
            except AuthenticationError:
                raise
            except RemoteError as exc:
                gone = exc.status == 404 or exc.code == INVALID_PRODUCT_ID
                if gone and first_call and start == 0 and not parent.created_now:
                    raise _ParentGoneError from None
                for op in chunk:
                    self._fail(
                        op.index,
                        exc.code or f"http_{exc.status}",
                        str(exc),
                        retryable=isinstance(exc, RetryableRemoteError) or gone,
                    )
                continue
            for kind, group in groups.items():
                items = answer.get(kind)
                items = items if isinstance(items, list) else []
                for position, op in enumerate(group):
                    item = items[position] if position < len(items) else None
                    if self._read_item(parent, op, item):
                        retry.append(op)
        return retry

    def _hold_back_sold(self, ops: list[_Op]) -> None:
        """Send at stock 0 the units of one batch that the host no longer wants for sale.

        The host planned the call before it was sent; a unit sold on another channel while
        earlier requests of the call were on the wire is asked about here, as late as can be,
        once per batch (the answer reads the host's store). It goes out in the same batch,
        created or updated at stock 0, and is answered withdrawn with its ids: never for sale
        after its sale, and no request of its own.
        """
        listing = [op for op in ops if not op.withdraw and op.payload.get("stock_quantity") == 1]
        if not listing:
            return
        keep = self.still_for_sale([self.changes[op.index].unit.serial for op in listing])
        for op in listing:
            if self.changes[op.index].unit.serial not in keep:
                op.payload["stock_quantity"] = 0
                op.withdraw = True

    def _read_item(self, parent: _Parent, op: _Op, item: Any) -> bool:
        """Record one batch answer item as an outcome; ``True`` if it needs a second round."""
        if item is None:
            self._fail(op.index, "missing_batch_item", "the batch answer left this item out")
            return False
        error = item_error(item)
        if error is None:
            if op.kind == "delete" or op.withdraw:
                # With the payload: a unit held back by still_for_sale was sent in full.
                ids = self._ids(
                    parent, None if op.kind == "delete" else item, op.payload, index=op.index
                )
                self._done(op.index, PublishResult.WITHDRAWN, ids)
            else:
                result = PublishResult.CREATED if op.kind == "create" else PublishResult.UPDATED
                self._done(op.index, result, self._ids(parent, item, op.payload, index=op.index))
            return False
        code, message, data = error
        if op.kind == "create" and code == DUPLICATE_SKU:
            op.resource_id = data.get("resource_id")
            return True
        if code == INVALID_VARIATION_ID or data.get("status") == 404:
            if op.withdraw:
                # Already gone: nothing left to sell.
                self._done(op.index, PublishResult.WITHDRAWN, self._ids(parent, None))
                return False
            return True  # an upsert of a variation that is gone: create it again
        self._fail(op.index, code, message, retryable=error_is_retryable(code, data))
        return False

    # -- step 4: adopt existing SKUs, recreate vanished variations ------------------------------

    def _second_round(self, parent: _Parent, ops: list[_Op]) -> None:
        assert parent.product_id is not None
        again: list[_Op] = []
        recreate = [op for op in ops if op.kind == "update"]
        blocked = self._ensure_options(parent, [op.index for op in recreate])
        for op in recreate:
            if op.index not in blocked:
                again.append(_Op(op.index, "create", self._wanted(op.index, None)))
        adopt = {op.index: op for op in ops if op.kind == "create"}
        for index, found in self._find_variations(parent, list(adopt)).items():
            sku = self.changes[index].unit.integration_id
            if found is None:
                self._fail(
                    index,
                    DUPLICATE_SKU,
                    f"the SKU {sku!r} is already used by another WooCommerce product or "
                    f"variation (id {adopt[index].resource_id}), not by a variation of "
                    f"product {parent.product_id}",
                    retryable=False,
                )
                continue
            wanted = self._wanted(index, None)
            wanted.pop("image", None)
            if variation_matches(found, wanted):
                self._done(index, PublishResult.UNCHANGED, self._ids(parent, found, wanted))
            else:
                again.append(_Op(index, "update", {"id": found["id"], **wanted}))
        for op in self._send(parent, again, first_call=False):
            # A second refusal is final for this pass.
            self._fail(
                op.index,
                DUPLICATE_SKU if op.kind == "create" else INVALID_VARIATION_ID,
                "the variation could not be created or found",
                retryable=True,
            )

    # -- step 5 (delete mode): serials of deleted variations leave the options ----------------

    def _drop_deleted_options(self, parent: _Parent) -> None:
        gone = {
            self.changes[i].unit.serial
            for i, outcome in self.outcomes.items()
            if outcome.result is PublishResult.WITHDRAWN
        }
        gone -= {
            c.unit.serial
            for i, c in enumerate(self.changes)
            if c.action is ListingAction.UPSERT
            and self.outcomes[i].result is not PublishResult.FAILED
        }
        if not gone or parent.product_id is None or parent.body is None:
            return
        options = serial_options(parent.body, self.product.option_name)
        kept = [o for o in options if o not in gone]
        if kept == options:
            return
        try:
            self.client.update_product(
                parent.product_id,
                {
                    "attributes": attributes_with_serials(
                        parent.body, self.product.option_name, kept
                    )
                },
            )
        except AuthenticationError:
            raise
        except RemoteError as exc:
            # The variations are gone, which is what matters; stale options are cosmetic and
            # are pruned by the next delete on this product.
            if self.log is not None:
                self.log.warning("woocommerce.options_not_pruned", error=str(exc))

    # -- outcomes -----------------------------------------------------------------------------

    def _ids(
        self,
        parent: _Parent,
        item: Json | None,
        payload: Json | None = None,
        *,
        index: int | None = None,
    ) -> RemoteIds:
        """The ids to remember; ``extra`` keeps the image URL the variation is known to hold,
        and the meta keys its unit's attributes were sent under (to empty one later removed)."""
        extra = {}
        meta = (payload or {}).get("meta_data")
        if isinstance(meta, list):
            keys = [str(m["key"]) for m in meta if m.get("value") != ""]
            if keys:
                extra[META_KEYS] = ",".join(keys)
        elif index is not None:
            known_keys = _meta_keys(self.changes[index].remote)
            if known_keys:
                extra[META_KEYS] = ",".join(known_keys)
        image = (payload or {}).get("image")
        if isinstance(image, dict) and image.get("src"):
            extra[IMAGE_KEY] = str(image["src"])
        elif index is not None and item is not None:
            # Not sent this time: still true if the last publish recorded this very image.
            change = self.changes[index]
            known = change.remote.extra.get(IMAGE_KEY) if change.remote else None
            if known and change.unit.images and change.unit.images[0] == known:
                extra[IMAGE_KEY] = known
        return RemoteIds(
            product_id=parent.product_id,
            variant_id=_id(item) if item is not None else None,
            extra=extra,
        )

    def _done(self, index: int, result: PublishResult, remote: RemoteIds | None) -> None:
        unit = self.changes[index].unit
        if remote is not None and self.changes[index].action is ListingAction.UPSERT:
            # The content the product is known to hold: the POS's when this call created the
            # product or put its content, else what was remembered (none for a product adopted).
            # An upsert answered WITHDRAWN (sold meanwhile) too: its product is as written.
            previous = self.changes[index].remote
            content = (
                content_digest(self.product)
                if self.content_sent
                else (previous.extra.get(CONTENT_KEY) if previous else None)
            )
            if content:
                extra = {**remote.extra, CONTENT_KEY: content}
                remote = remote.model_copy(update={"extra": extra})
        self.outcomes[index] = PublishOutcome(
            sku=unit.sku, serial=unit.serial, result=result, remote=remote
        )

    def _fail(self, index: int, code: str, reason: str, *, retryable: bool = True) -> None:
        self.outcomes[index] = self.changes[index].failed(reason, code=code, retryable=retryable)


def _meta_keys(remote: RemoteIds | None) -> list[str]:
    """The attribute meta keys the last publish sent to the unit's variation."""
    known = remote.extra.get(META_KEYS, "") if remote is not None else ""
    return [key for key in known.split(",") if key]


def _variant_id(remote: RemoteIds | None) -> str | None:
    if remote is None or not remote.variant_id or not remote.variant_id.isdigit():
        return None
    return remote.variant_id


def _usable(variation: Json | None) -> Json | None:
    return variation if variation is not None and _id(variation) is not None else None


def _id(body: Json | None) -> str | None:
    if not body:
        return None
    value = body.get("id")
    return str(value) if isinstance(value, int) and value > 0 else None


def withdraw_across_products(
    client: WooClient,
    changes: Sequence[ListingChange],
    *,
    batch_size: int,
    concurrency: int,
) -> list[PublishOutcome]:
    """Stock 0 for the known variations among ``changes``: one batch per product, side by side.

    A change without remembered product and variation ids, or whose product is gone, gets no
    outcome: the host withdraws it through ``publish_variants``, which looks it up by SKU.
    """
    by_product: dict[str, list[ListingChange]] = {}
    for change in changes:
        remote = change.remote
        if change.action is not ListingAction.WITHDRAW or remote is None:
            continue
        if not remote.product_id or not _variant_id(remote):
            continue
        by_product.setdefault(remote.product_id, []).append(change)
    if not by_product:
        return []
    groups = list(by_product.items())
    if len(groups) == 1 or concurrency == 1:
        answers = [_withdraw_product(client, pid, group, batch_size) for pid, group in groups]
    else:
        with ThreadPoolExecutor(
            max_workers=min(concurrency, len(groups)), thread_name_prefix="woo-withdraw"
        ) as pool:
            # In the caller's context: the requests count in the pass that asked for them.
            gated = in_this_context(lambda g: _gated(client, g[0], g[1], batch_size))
            answers = list(pool.map(gated, groups))
    return [outcome for answer in answers for outcome in answer]


def _gated(
    client: WooClient, product_id: str, changes: list[ListingChange], batch_size: int
) -> list[PublishOutcome]:
    """One product's withdrawal within the client's adaptive limit of requests in flight: a
    host past its PHP workers answers 503, and a retry must not go while it still would."""
    with client.limit.slot():
        return _withdraw_product(client, product_id, changes, batch_size)


def _withdraw_product(
    client: WooClient, product_id: str, changes: list[ListingChange], batch_size: int
) -> list[PublishOutcome]:
    outcomes: list[PublishOutcome] = []
    for start in range(0, len(changes), batch_size):
        chunk = changes[start : start + batch_size]
        update = [
            {"id": int(str(_variant_id(c.remote))), "manage_stock": True, "stock_quantity": 0}
            for c in chunk
        ]
        try:
            answer = client.batch_variations(product_id, update=update)
        except AuthenticationError:
            raise
        except RemoteError as exc:
            if exc.status == 404 or exc.code == INVALID_PRODUCT_ID:
                continue  # the product is gone: left to publish_variants, which looks up SKUs
            retryable = isinstance(exc, RetryableRemoteError)
            code = exc.code or f"http_{exc.status}"
            outcomes += [c.failed(str(exc), code=code, retryable=retryable) for c in chunk]
            continue
        items = answer.get("update")
        items = items if isinstance(items, list) else []
        for position, change in enumerate(chunk):
            item = items[position] if position < len(items) else None
            outcomes.append(_withdrawn(change, item))
    return outcomes


def _withdrawn(change: ListingChange, item: Any) -> PublishOutcome:
    """One batch answer item of a withdrawal as its outcome."""
    unit = change.unit
    if item is None:
        return change.failed("the batch answer left this item out", code="missing_batch_item")
    error = item_error(item)
    if error is None:
        return PublishOutcome(
            sku=unit.sku, serial=unit.serial, result=PublishResult.WITHDRAWN, remote=change.remote
        )
    code, message, data = error
    if code == INVALID_VARIATION_ID or data.get("status") == 404:
        # Already gone: nothing left to sell, and no variation id left to remember.
        remote = change.remote.model_copy(update={"variant_id": None}) if change.remote else None
        return PublishOutcome(
            sku=unit.sku, serial=unit.serial, result=PublishResult.WITHDRAWN, remote=remote
        )
    return change.failed(message, code=code, retryable=error_is_retryable(code, data))
