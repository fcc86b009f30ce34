"""Publishing units to Magento: one configurable parent per POS SKU, one simple child per unit.

Requests, per call of ``publish_variants`` (N units of one product):

* a new product: the serial attribute once per connector (3 reads: the attribute, its set,
  its options), then ``1`` read of the parent's children (does the parent exist, which
  children does it have), ``1`` attribute save adding the N options (``PUT`` with an
  ``options`` array; a lone new option goes by ``POST .../options``), ``N`` child saves (no
  batch create in synchronous REST; sent side by side, ``concurrency`` at once), ``1`` parent
  save carrying the configurable option and every child link, and ``1`` MSI source-items save
  for all N: **N + 4**; **N + 3** when the host's ``first_publish`` and the store confirm
  that the parent has no child (``Publisher._surely_new``). The documented alternative
  (``per_child``: options call + one ``/child`` call per child, one at a time) costs 2N + 5.
* N changed units: ``N`` product updates (Magento has no synchronous batch update) plus ``1``
  source-items save that re-asserts their stock: **N + 1**. The API's floor is N (the legacy
  ``stock_item`` inside each product save, on single-source stores only); the explicit MSI save
  is kept because it names the configured source and cannot be misread from a stale ``remote``.
* N withdrawn units: ``1`` source-items save (per ``source_items_batch``), plus N updates when
  ``disable_on_withdraw`` is on. A unit whose child payload is unchanged is not rewritten.
* ``withdraw_units``: the sold units of many products in ``1`` source-items save per
  ``source_items_batch`` (MSI names each source item by SKU, whatever its parent), plus one
  update each when ``disable_on_withdraw`` is on.
* the parent carries the product's brand (under the code ``attribute_codes`` gives ``Brand``;
  a select's option is found or added once per connector: one attribute read, one options
  read, an option add when new) and its photos, downloaded (at most ``max_image_bytes``
  each) and sent as content, the whole gallery in the parent's save: when it is created or
  its photos changed, never with new links only (left out, they stay).
* while the store's message-queue consumers run (``bulk``, see :mod:`serialsync_magento.bulk`),
  the N new children of a product go in one ``POST /async/bulk/V1/products`` and the status
  polls (``detailed-status``, which carries each saved child's id): a new product costs **5
  requests plus the polls** whatever N (the attribute save, the bulk, the children read, the
  parent, the stock), when N is more than ``concurrency`` (fewer are saved side by side, in
  one round). A child whose operation failed or never ran is saved synchronously, as above.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any, TypeVar

from serialsync import (
    AuthenticationError,
    FieldGroup,
    IntegrationIdError,
    ListingAction,
    ListingChange,
    PermanentRemoteError,
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

from serialsync_magento import mapping
from serialsync_magento.bulk import BulkRunner
from serialsync_magento.client import MagentoClient, chunks
from serialsync_magento.serial_options import SerialAttribute
from serialsync_magento.settings import MagentoSettings
from serialsync_magento.unit_attributes import BRAND, UnitAttributes, attribute_codes

#: The field groups a child shows itself (its serial's attributes, photo, price); a change of
#: the product group alone is the parent's.
_CHILD_GROUPS = frozenset({FieldGroup.UNIT, FieldGroup.PRICE})

#: Magento's message when a url_key is held by another product (UrlRewrite's unique check).
URL_KEY_TAKEN = "URL key for specified store already exists"
#: Magento trims SKUs longer than this on save: the unit would be lost, so it is refused.
SKU_LIMIT = 64
CHANNEL = "magento"
T = TypeVar("T")


@dataclass
class _Unit:
    """One change on its way through a publish call."""

    change: ListingChange
    sku: str  # the integration id: the child's SKU
    option_id: int | None = None
    child_id: int | None = None
    child_hash: str = ""
    image: str = ""
    #: The attribute codes the child holds once saved (remembered to clear one the unit loses).
    attribute_codes: str | None = None
    result: PublishResult | None = None
    failure: RemoteError | None = None
    needs_link: bool = False
    stock: str = ""
    #: Another child holding this unit's serial was deleted (a SKU retyped in the admin):
    #: the parent's links read before that are stale.
    replaced_child: bool = False

    @property
    def extra(self) -> dict[str, str]:
        remote = self.change.remote
        return dict(remote.extra) if remote is not None else {}


class Publisher:
    """Carries out ``publish_variants`` for one connector (its client, settings and caches)."""

    def __init__(
        self,
        client: MagentoClient,
        settings: MagentoSettings,
        *,
        bulk: BulkRunner,
        log: Any,
        name: str,
        pool: Executor | None = None,
    ) -> None:
        self.client = client
        self.pool = pool
        self.settings = settings
        self.bulk = bulk
        self.log = log
        self.name = name
        self.serials = SerialAttribute(client, settings, log=log, connector=name)
        self.attributes = UnitAttributes(client, settings, log=log, connector=name)
        #: The parents a call of this connector may have saved (see :meth:`_surely_new`).
        self._touched: set[str] = set()
        self._touched_lock = threading.Lock()

    def publish(
        self,
        product: Product,
        changes: Sequence[ListingChange],
        still_for_sale: StillForSale = every_unit_for_sale,
        first_publish: bool = False,
    ) -> list[PublishOutcome]:
        """Make the children of ``product``'s configurable parent match ``changes``; the
        host's ``still_for_sale`` is asked just before the stock save that lists them, and its
        ``first_publish`` may spare the children read (:meth:`_surely_new`)."""
        log = self.log.bind(operation="publish_variants", sku=product.sku)
        sent_before = self.client.http.stats["requests"]
        outcomes: list[PublishOutcome] = []
        units: list[_Unit] = []
        for change in changes:
            try:
                sku = change.unit.integration_id
                check_length(sku, limit=SKU_LIMIT, channel=CHANNEL)
            except IntegrationIdError as exc:
                log.warning("magento.unit_refused", serial=change.unit.serial, rule=exc.rule)
                outcomes.append(_failed(change, str(exc), code=exc.rule, retryable=False))
                continue
            units.append(_Unit(change=change, sku=sku))
        upserts = [u for u in units if u.change.action is ListingAction.UPSERT]
        withdraws = [u for u in units if u.change.action is ListingAction.WITHDRAW]
        extra = self._parent_extra(product, upserts) if upserts else {}
        parent_step = (
            self._publish_upserts(product, upserts, extra, first_publish) if upserts else None
        )
        self._side_by_side(self._withdraw, withdraws)
        # Asked as late as can be: after the children are saved, before the one request that
        # puts them in stock.
        self._hold_back_sold(upserts, still_for_sale)
        stocked = [u for u in units if u.failure is None and u.stock]
        # The parent's save (its links) and the stock save go side by side: a child in stock
        # but not linked yet is no page of its own (not visible individually), and a unit
        # whose parent failed is reported failed and sent again, whatever its stock.
        steps: list[Callable[[], None]] = [lambda: self._save_stock(stocked)]
        if parent_step is not None:
            steps.insert(0, parent_step)
        self._side_by_side(lambda step: step(), steps)
        parent_sku = self.settings.parent_sku(product.sku)
        parent_hash = mapping.parent_digest(self.settings, product, extra)
        fields = mapping.field_digests(
            mapping.parent_fields(product, extra, mapping.parent_images(self.settings, product))
        )
        for unit in units:
            outcomes.append(self._outcome(unit, parent_sku, parent_hash, fields))
        log.info(
            "magento.published",
            units=len(changes),
            failed=sum(o.result is PublishResult.FAILED for o in outcomes),
            requests=self.client.http.stats["requests"] - sent_before,
        )
        return outcomes

    def withdraw(self, changes: Sequence[ListingChange]) -> list[PublishOutcome]:
        """Stock 0 for the listed units among ``changes``, of any parents, in few saves.

        A unit the host holds no ids for (never listed here, or the record was lost) gets no
        outcome: the host withdraws it through ``publish_variants`` with its product.
        """
        units = [
            _Unit(change=change, sku=change.unit.integration_id)
            for change in changes
            if change.action is ListingAction.WITHDRAW
            and change.remote is not None
            and change.remote.product_id
        ]
        self._side_by_side(self._withdraw, units)
        self._save_stock(units)
        # A withdrawal's outcome keeps the parent it was listed under; no parent hash is used.
        return [
            self._outcome(
                unit, str(unit.change.remote.product_id if unit.change.remote else ""), ""
            )
            for unit in units
        ]

    def _parent_extra(self, product: Product, units: list[_Unit]) -> dict[str, str]:
        """The parent's custom attributes beyond its own fields: the brand, under the code
        ``attribute_codes`` gives ``Brand`` (its option id for a select). When the brand
        cannot be written, the units fail with the reason (retryable: the operator's fix of
        the table needs no change in the POS)."""
        if not product.brand or not product.brand.strip():
            return {}
        code = attribute_codes([BRAND], self.settings)[BRAND]
        try:
            return {code: self.attributes.brand_value(code, product.brand)}
        except AuthenticationError:
            raise
        except RemoteError as exc:
            problem = RetryableRemoteError(
                f"the brand {product.brand!r} cannot be written to {code!r}: {exc}",
                connector=self.name,
                status=exc.status,
            )
            problem.code = exc.code or "brand-attribute"
            for unit in units:
                unit.failure = problem
            return {}

    def _publish_upserts(
        self, product: Product, units: list[_Unit], extra: dict[str, str], first_publish: bool
    ) -> Callable[[], None] | None:
        """Options and children of the upserts; the parent's save, as a step left to run."""
        if all(u.failure is not None for u in units):
            return None
        try:
            attribute_id = self.serials.attribute_id()
        except AuthenticationError:
            raise
        except RemoteError as exc:
            # Not about the units: retryable even when permanent (a merchant fixing the
            # attribute must not need a content change to get the units published).
            problem = RetryableRemoteError(str(exc), connector=self.name, status=exc.status)
            problem.code = exc.code or "serial-attribute"
            for unit in units:
                unit.failure = problem
            return None
        # Decided before this call saves an option or a child (the attribute is read first).
        new_parent = self._surely_new(product, first_publish)
        children = None if new_parent else self._read_children_early(product, units)
        wanted = [(u.change.unit.serial, u.extra.get("option_id")) for u in units]
        for unit, option in zip(units, self.serials.option_ids(wanted), strict=True):
            if isinstance(option, RemoteError):
                unit.failure = option
            else:
                unit.option_id = option
        codes = self._unit_attributes(units)
        images: dict[str, dict[str, Any] | None] = {}
        creates: list[tuple[_Unit, dict[str, Any]]] = []
        sends: list[tuple[_Unit, dict[str, Any]]] = []
        for unit in units:
            if unit.failure is not None:
                continue
            payload = self._prepare_child(product, unit, images, codes)
            if payload is None:
                continue
            if unit.needs_link:
                creates.append((unit, payload))
            else:
                sends.append((unit, payload))
        # More new children than one round of requests carries go by one bulk while the
        # store's consumers run and keep up with the synchronous path (the measured paces:
        # one consumer is slower than several saves in flight); those it did not save follow
        # the synchronous path.
        # As many as that also time the synchronous path fairly (every thread busy).
        timed = len(creates) > max(2, self.settings.concurrency)
        if timed and self.bulk.chooses(len(creates)):
            sends += self._bulk_children(self.bulk, creates)
            timed = False  # the bulk timed itself; what it left is not the path's pace
        else:
            sends += creates
        # Each child is its own product: they are saved side by side, as many at once as the
        # client's limit lets through.
        started = self.bulk.now()
        self._side_by_side(lambda item: self._send_child(*item), sends)
        if timed:
            # Timed whole, as the bulk is: the synchronous path's pace at this store now.
            self.bulk.observe_sync(len(sends), self.bulk.now() - started)
        return lambda: self._write_parent(
            product, attribute_id, units, children, extra, new_parent=new_parent
        )

    def _surely_new(self, product: Product, first_publish: bool) -> bool:
        """Whether the parent surely has no linked child, so that its save, which sets its
        links to those it names, needs no read of them (issue 22 §3). Every call that may save
        the parent is remembered here.

        The host's ``first_publish`` alone is not enough: a lost store started again, or a
        catalogue made before it, leaves parents it never recorded, and ``POST /V1/products``
        of an existing SKU saves over that product (an upsert), unlinking what it does not
        name. So the read is spared only when, besides, the serial attribute held no option
        and the store no configurable product when this connector first read the attribute (no
        parent, so no child linked to one by a serial or by anything else) and no call of this
        connector has saved this parent since; and
        only with links in the parent's save (``per_child`` reads to tell a new parent).
        """
        parent = self.settings.parent_sku(product.sku)
        with self._touched_lock:
            untouched = parent not in self._touched
            self._touched.add(parent)
        return (
            first_publish
            and untouched
            and self.serials.started_empty
            and self.settings.link_mode == "parent_save"
        )

    def _read_children_early(
        self, product: Product, units: list[_Unit]
    ) -> Future[list[dict[str, Any]] | None] | None:
        """Start reading the parent's linked children now, beside the option and child saves
        (the parent's save needs them; they change only by that save), when a unit may need
        linking (no child id known) and the connector has threads. Units with no remote ids
        do not mean a new parent: the host sends only what changed, so a unit added to a
        listed product comes alone, and the parent's save sets its links to those it names."""
        if self.pool is None or self.settings.link_mode != "parent_save":
            return None
        if all(u.change.remote is not None and u.change.remote.variant_id for u in units):
            return None
        # In the pass's context, so that the read counts among the pass's requests.
        return self.pool.submit(
            in_this_context(self.client.configurable_children),
            self.settings.parent_sku(product.sku),
        )

    def _side_by_side(self, work: Callable[[T], None], items: Sequence[T]) -> None:
        """``work`` on each item, on the connector's threads when it has them.

        The first exception a worker raises (an :class:`AuthenticationError`: everything
        else is kept on the unit) is raised here once every item has run.
        """
        if self.pool is None or len(items) < 2:
            for item in items:
                work(item)
            return
        # In the caller's context: the requests count in the pass that asked for them.
        futures = [self.pool.submit(in_this_context(work), item) for item in items]
        for future in futures:
            future.result()

    def _image_entry(
        self, product: Product, unit: _Unit, cache: dict[str, dict[str, Any] | None]
    ) -> dict[str, Any] | None:
        url = unit.image
        if url not in cache:
            cache[url] = self._uploaded(
                url, product.title, mapping.url_key(product.title, unit.sku)[:80]
            )
        return cache[url]

    def _uploaded(self, url: str, label: str, stem: str) -> dict[str, Any] | None:
        """One gallery entry carrying the image at ``url`` (Magento takes image content, not
        URLs), or ``None`` when it cannot be had: a missing photo must not keep a unit or a
        product off the shop; the reason is logged."""
        try:
            content = self.client.download(url, limit=self.settings.max_image_bytes)
            content_type = mapping.image_type(content)
        except RemoteError as exc:
            self.log.warning("magento.image_unavailable", url=url, error=str(exc))
            return None
        except ValueError as exc:
            self.log.warning("magento.image_unavailable", url=url, error=str(exc))
            return None
        extension = content_type.split("/")[-1].replace("jpeg", "jpg")
        return mapping.media_entry(label, content, content_type, f"{stem}.{extension}")

    def _parent_gallery(self, product: Product) -> list[dict[str, Any]]:
        """The parent's whole gallery: each of the product's photos, the first its base image
        (the list a save carries is the whole gallery: an entry left out is removed)."""
        sku = self.settings.parent_sku(product.sku)
        entries: list[dict[str, Any]] = []
        for index, url in enumerate(mapping.parent_images(self.settings, product)):
            stem = f"{mapping.url_key(product.title, sku)[:80]}-{index + 1}"
            entry = self._uploaded(url, product.title, stem)
            if entry is not None:
                entry["position"] = len(entries) + 1
                if entries:
                    entry["types"] = []  # one base, small and thumbnail image: the first
                entries.append(entry)
        return entries

    def _unit_attributes(self, units: list[_Unit]) -> dict[str, str]:
        """The Magento code of every attribute the units carry, each made ready on the store
        (created once, in the attribute set); a unit carrying one that is not fails with the
        reason, never sent without it."""
        names = {n for u in units if u.failure is None for n in u.change.unit.attributes}
        codes = attribute_codes(names, self.settings)
        problems = self.attributes.ensure({code: name for name, code in codes.items()})
        for unit in units:
            if unit.failure is not None:
                continue
            for name in sorted(unit.change.unit.attributes):
                problem = problems.get(codes[name])
                if problem is not None:
                    unit.failure = problem
                    break
        return codes

    def _prepare_child(
        self,
        product: Product,
        unit: _Unit,
        images: dict[str, dict[str, Any] | None],
        codes: dict[str, str],
    ) -> dict[str, Any] | None:
        """The child's payload to send, or None when the child is already as it should be."""
        assert unit.option_id is not None
        settings = self.settings
        payload = mapping.child_payload(
            settings, product, unit.change.unit, unit.sku, unit.option_id, codes
        )
        unit.image = (
            (mapping.image_of(product, unit.change.unit) or "") if settings.upload_images else ""
        )
        unit.child_hash = mapping.fingerprint([payload, unit.image])
        extra = unit.extra
        remote = unit.change.remote
        known_id = remote.variant_id if remote is not None else None
        unit.stock = "1"
        if not known_id:
            unit.needs_link = True  # new, or adopted after a crash: (re)link it
        elif extra.get("child_hash") == unit.child_hash or (
            extra.get("child_hash") and not (unit.change.changed & _CHILD_GROUPS)
        ):
            # Only the product's fields changed: they are the parent's to show (a child is not
            # visible individually), so no child is re-sent; a child takes the new title into
            # its name when its own fields next change.
            if extra.get("child_hash") != unit.child_hash:
                unit.child_hash = extra["child_hash"]
                unit.image = extra.get("image", "")
            if unit.change.changed and not (unit.change.changed & _CHILD_GROUPS):
                # Listed and for sale as it is: stock is not asserted again (a sale on the
                # shop since the last pass must not be undone by a title change).
                unit.stock = ""
            unit.child_id = int(known_id)
            # The child stays as it is; its stock is set to 1 again. The host sends an upsert
            # with unchanged content only to re-list a unit, so this counts as an update.
            unit.result = PublishResult.UPDATED
            return None
        self._clear_removed_attributes(unit, payload, codes)
        if unit.image and unit.image != extra.get("image"):
            # Sent only when the photo changed: Magento adds, never dedupes, uploaded images.
            # The list given is the whole gallery (an entry left out is removed), so the old
            # photo goes with the same save, with no media request of its own.
            entry = self._image_entry(product, unit, images)
            if entry is not None:
                payload["media_gallery_entries"] = [entry]
            else:
                unit.image = extra.get("image", "")
        elif not unit.image and extra.get("image") and settings.upload_images:
            # The photo was taken off the unit (and the product has none): an empty list is
            # Magento's explicit "no gallery entries"; leaving the field out keeps them.
            payload["media_gallery_entries"] = []
        return payload

    @staticmethod
    def _clear_removed_attributes(
        unit: _Unit, payload: dict[str, Any], codes: dict[str, str]
    ) -> None:
        """Clear on the child each attribute it was given before that the unit no longer has.

        Magento's save leaves an attribute left out of ``custom_attributes`` as it was, so the
        old value would stay on the storefront; an empty value removes it (a null one is
        refused). A listing from before the codes were remembered has none to clear.
        """
        written = sorted({codes[name] for name in unit.change.unit.attributes})
        unit.attribute_codes = ",".join(written)
        remembered = {c for c in unit.extra.get("attribute_codes", "").split(",") if c}
        for code in sorted(remembered - set(written)):
            payload["custom_attributes"].append({"attribute_code": code, "value": ""})

    def _send_child(self, unit: _Unit, payload: dict[str, Any]) -> None:
        """Create (POST, an upsert by SKU) or update (PUT) one child."""
        try:
            if unit.needs_link:
                try:
                    saved = self.client.save_product(payload)
                except PermanentRemoteError as exc:
                    if URL_KEY_TAKEN not in str(exc) or not self._drop_retyped(unit):
                        raise
                    unit.replaced_child = True
                    saved = self.client.save_product(payload)
                unit.result = PublishResult.CREATED
            else:
                saved = self.client.update_product(unit.sku, payload)
                unit.result = PublishResult.UPDATED
        except AuthenticationError:
            raise
        except RemoteError as exc:
            unit.failure = exc
            return
        unit.child_id = int(saved["id"])

    def _drop_retyped(self, unit: _Unit) -> bool:
        """Delete the child that holds this unit's serial under another SKU; True if one did.

        Staff can change a SKU only in the admin (the REST API ignores it), and Magento keeps
        the child's url_key and its serial option: the unit's own child could then be neither
        created (the url_key is taken) nor linked (two children with one option value). The
        child holding the unit's serial option *is* the unit's, so it is replaced by one with
        the unit's SKU; orders keep the SKU they were placed with.
        """
        parent = self.settings.parent_sku(unit.change.unit.sku)
        code = self.settings.serial_attribute
        for child in self.client.configurable_children(parent) or []:
            value = mapping.custom_attribute(child, code)
            sku = str(child.get("sku") or "")
            if value == str(unit.option_id) and sku and sku != unit.sku:
                self.log.warning("magento.retyped_child_replaced", sku=unit.sku, found=sku)
                self.client.delete_product(sku)
                return True
        return False

    def _bulk_children(
        self, bulk: BulkRunner, creates: list[tuple[_Unit, dict[str, Any]]]
    ) -> list[tuple[_Unit, dict[str, Any]]]:
        """Create the new children by one bulk; those it did not save, to save synchronously.

        A child counts as created only once its operation completed and its id is known; an
        operation that failed or never ran is sent again by the synchronous path, which
        gives its unit the same outcome as without the bulk (and its recoveries).
        """
        try:
            results = bulk.save_products([payload for _unit, payload in creates])
        except AuthenticationError:
            raise
        except RemoteError as exc:
            self.log.warning("magento.bulk_refused", error=str(exc), children=len(creates))
            return creates
        later: list[tuple[_Unit, dict[str, Any]]] = []
        for (unit, payload), result in zip(creates, results, strict=True):
            if isinstance(result, dict):
                unit.child_id = int(result["id"])
                unit.result = PublishResult.CREATED
                continue
            if result is not None:
                self.log.info("magento.bulk_save_failed", sku=unit.sku, error=str(result))
            later.append((unit, payload))
        return later

    def _write_parent(
        self,
        product: Product,
        attribute_id: int,
        units: list[_Unit],
        children: Future[list[dict[str, Any]] | None] | None = None,
        extra: dict[str, str] | None = None,
        *,
        new_parent: bool = False,
    ) -> None:
        """Create or update the configurable parent and link the new children to it
        (``children``: the read of its linked children, when it was started early;
        ``new_parent``: surely none, see :meth:`_surely_new`). Its photos are uploaded when it
        is created or they changed, never with a new link only."""
        settings = self.settings
        parent = mapping.parent_payload(settings, product, extra)
        parent_hash = mapping.parent_digest(settings, product, extra)
        live = [u for u in units if u.failure is None]
        new = [u for u in live if u.needs_link]
        changes, photos = self._parent_changes(product, live, extra)
        # Product-level fields (title, description, price) changed since the last publish.
        stale = any(
            u.change.remote is not None and u.extra.get("parent_hash") != parent_hash for u in live
        )
        try:
            if new:
                # A child deleted meanwhile (a retyped SKU) makes any earlier word stale.
                replaced = any(u.replaced_child for u in units)
                existing: list[dict[str, Any]] | None
                if new_parent and not replaced:
                    existing = None
                elif children is not None and not replaced:
                    existing = children.result()
                else:
                    existing = self.client.configurable_children(parent["sku"])
                if photos and (existing is None or stale):
                    # A new parent, or its photos changed; with new links only they are left
                    # out, and stay as they are.
                    parent["media_gallery_entries"] = self._parent_gallery(product)
                if settings.link_mode == "per_child":
                    if existing is not None and stale:
                        self.client.update_product(parent["sku"], parent)
                    self._link_per_child(parent, attribute_id, new, existing)
                else:
                    self._link_in_parent(parent, attribute_id, new, existing or [])
            elif stale:
                # A PUT without configurable_product_links leaves the links as they are.
                if photos:
                    changes["media_gallery_entries"] = self._parent_gallery(product)
                self.client.update_product(parent["sku"], changes)
        except AuthenticationError:
            raise
        except RemoteError as exc:
            for unit in new or live:
                if unit.failure is None:
                    unit.failure = exc

    def _parent_changes(
        self, product: Product, live: list[_Unit], extra: dict[str, str] | None = None
    ) -> tuple[dict[str, Any], bool]:
        """The parent's fields that changed since a unit remembered them (the whole parent
        when none does: a listing from before fields were remembered, or a new one), and
        whether its photos are to be sent (changed, or never remembered as sent)."""
        sku = self.settings.parent_sku(product.sku)
        images = mapping.parent_images(self.settings, product)
        fields = mapping.parent_fields(product, extra, images)
        remembered = next(
            (u.extra["parent_fields"] for u in live if "parent_fields" in u.extra), None
        )
        if remembered is None:
            return mapping.parent_payload(self.settings, product, extra), bool(images)
        changed = mapping.changed_fields(fields, remembered)
        return mapping.parent_update(sku, changed), mapping.IMAGES in changed

    def _link_in_parent(
        self,
        parent: dict[str, Any],
        attribute_id: int,
        new: list[_Unit],
        existing: list[dict[str, Any]],
    ) -> None:
        code = self.settings.serial_attribute
        child_ids = [int(child["id"]) for child in existing if child.get("id") is not None]
        option_ids = []
        for child in existing:
            value = mapping.custom_attribute(child, code)
            if value is not None and value.isdigit():
                option_ids.append(int(value))
        child_ids += [u.child_id for u in new if u.child_id is not None]
        option_ids += [u.option_id for u in new if u.option_id is not None]
        payload = mapping.with_links(
            parent,
            attribute_id=attribute_id,
            label=self.settings.serial_attribute_label,
            option_ids=option_ids,
            child_ids=child_ids,
        )
        self.client.save_product(payload)

    def _link_per_child(
        self,
        parent: dict[str, Any],
        attribute_id: int,
        new: list[_Unit],
        existing: list[dict[str, Any]] | None,
    ) -> None:
        if existing is None:
            self.client.save_product(parent)
        if not existing:
            # New, or left without children by an interrupted run that may not have got as
            # far as the option: (re)state it; Magento keeps an option it has.
            self.client.add_configurable_option(
                parent["sku"],
                {
                    "attribute_id": str(attribute_id),
                    "label": self.settings.serial_attribute_label,
                    "position": 0,
                    "values": [{"value_index": u.option_id} for u in new],
                },
            )
        for unit in new:
            try:
                self.client.add_child(parent["sku"], unit.sku)
            except AuthenticationError:
                raise
            except RemoteError as exc:
                unit.failure = exc

    def _withdraw(self, unit: _Unit) -> None:
        unit.stock = "0"
        remote = unit.change.remote
        unit.result = PublishResult.WITHDRAWN
        if not self.settings.disable_on_withdraw or remote is None or not remote.variant_id:
            return
        try:
            self.client.update_product(
                unit.sku, {"sku": unit.sku, "status": mapping.STATUS_DISABLED}
            )
        except AuthenticationError:
            raise
        except RemoteError as exc:
            # Stock 0 is what makes the unit unsellable, and it is still sent: a child that
            # could not be disabled (or is already gone) is withdrawn all the same.
            self.log.warning(
                "magento.disable_failed", serial=unit.change.unit.serial, error=str(exc)
            )

    @staticmethod
    def _hold_back_sold(units: list[_Unit], still_for_sale: StillForSale) -> None:
        """Keep at stock 0 the upserts the host no longer wants for sale.

        A new child is created out of stock (Magento gives a product saved without stock
        data a default-source item of quantity 0) and is listed only by the source-items save
        that ends the call. The host planned the call before it was sent; a unit sold on
        another channel while the children were being saved is asked about here, as late as
        can be, and saved at 0 in that same request: it is never for sale after its sale
        (withdrawn, no request of its own).
        """
        listing = [u for u in units if u.failure is None and u.stock == "1"]
        if not listing:
            return
        keep = still_for_sale([u.change.unit.serial for u in listing])
        for unit in listing:
            if unit.change.unit.serial not in keep:
                unit.stock = "0"
                unit.result = PublishResult.WITHDRAWN

    def _save_stock(self, units: list[_Unit]) -> None:
        """One source-items save for every unit of the call (chunked for large calls)."""
        # Stock is always asserted, never inferred from ``remote``: a stale remote (from before
        # a withdrawal) must not leave a re-listed unit at 0, nor a withdrawn one at 1.
        for batch in chunks(units, self.settings.source_items_batch):
            items = [
                mapping.source_item(u.sku, self.settings.source_code, in_stock=u.stock == "1")
                for u in batch
            ]
            try:
                self.client.save_source_items(items)
            except AuthenticationError:
                raise
            except RemoteError as exc:
                for unit in batch:
                    unit.failure = exc

    def _outcome(
        self, unit: _Unit, parent_sku: str, parent_hash: str, parent_fields: str = ""
    ) -> PublishOutcome:
        change = unit.change
        if unit.failure is not None:
            exc = unit.failure
            return _failed(
                change,
                str(exc),
                code=exc.code or (f"HTTP {exc.status}" if exc.status else None),
                retryable=isinstance(exc, RetryableRemoteError),
            )
        extra = unit.extra
        extra["parent_sku"] = parent_sku
        if change.action is ListingAction.UPSERT:
            extra.update(
                option_id=str(unit.option_id),
                child_hash=unit.child_hash,
                parent_hash=parent_hash,
                parent_fields=parent_fields,
                image=unit.image,
            )
            if unit.attribute_codes is not None:
                extra["attribute_codes"] = unit.attribute_codes
        elif self.settings.disable_on_withdraw:
            extra["child_hash"] = ""  # disabled: the next upsert must write the child again
        remote = change.remote
        variant_id = str(unit.child_id) if unit.child_id is not None else None
        return PublishOutcome(
            sku=change.unit.sku,
            serial=change.unit.serial,
            result=unit.result or PublishResult.UPDATED,
            remote=RemoteIds(
                product_id=parent_sku,
                variant_id=variant_id or (remote.variant_id if remote else None),
                inventory_item_id=unit.sku,
                extra=extra,
            ),
        )


def _failed(
    change: ListingChange, reason: str, *, code: str | None, retryable: bool
) -> PublishOutcome:
    return change.failed(reason, code=code, retryable=retryable)
