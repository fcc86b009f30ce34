"""The hook specifications: the whole contract between serialsync and a platform plugin.

This file is the plugin author's reference; read it top to bottom. ``docs/plugin-authors.md``
repeats every spec with its exact signature, and a test fails when the two disagree.

How hooks reach a connector
    Each *connector* (one configured instance of a plugin's connector type) is registered with
    the plugin manager under its own name, and the host calls a connector hook on **that
    connector only**. The ``connector`` argument carries that name, so a plugin that wraps a
    hook for every connector (``@hookimpl(wrapper=True)``: pricing rules, titles, alerts) knows
    whose call it is observing. An implementation may leave out arguments it does not use.

What crosses the boundary
    Only the canonical model of :mod:`serialsync.model`. No platform's JSON is returned.

Errors
    Raise :class:`~serialsync.errors.RetryableRemoteError` (or let the HTTP client raise it)
    for what a later pass may fix, :class:`~serialsync.errors.PermanentRemoteError` for what it
    will not, :class:`~serialsync.errors.AuthenticationError` for refused credentials. A failure
    that concerns one unit is **not** raised: it is a ``FAILED`` outcome for that unit, so the
    other units go on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import pluggy
from pydantic import SecretStr

from serialsync.connector import ConnectorTypeRegistrar
from serialsync.model import (
    InventoryPage,
    ListingChange,
    ListingsPage,
    Order,
    OrdersPage,
    ProbeReport,
    Product,
    PublishOutcome,
    RemoteIds,
    Sale,
    SaleReceipt,
    StillForSale,
    UnreadableRecord,
    WebhookDelivery,
    WebhookSubscription,
)

PROJECT_NAME = "serialsync"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# -------------------------------------------------------------------------------------------
# Registration
# -------------------------------------------------------------------------------------------


@hookspec
def register_connector_types(registrar: ConnectorTypeRegistrar) -> None:
    """Declare the connector types this plugin provides.

    Called once per plugin when the host loads it. Call ``registrar.add(ConnectorType(...))``
    for each type, naming it (``"shopify"``), its role (POS or channel), its settings model (a
    :class:`~serialsync.connector.ConnectorSettings` subclass), a factory
    ``factory(settings, context) -> connector`` and, optionally, a factory for its fake.

    :param registrar: collects the declarations; a name already declared by another plugin
        raises :class:`~serialsync.errors.PluginError`, and that plugin is reported as broken.
    :returns: nothing.
    """


# -------------------------------------------------------------------------------------------
# Point of sale (role POS)
# -------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def fetch_inventory(connector: str, since: datetime | None, page: str | None) -> InventoryPage:
    """Return one page of serialized products and their units changed since ``since``.

    The host calls it repeatedly, passing back ``next_page`` until it is ``None``, then keeps
    the highest ``high_water`` of the pages as ``since`` for the next pass.

    :param connector: name of the POS connector called.
    :param since: return what changed at or after this instant; ``None`` means everything
        (the first pass, or a full resync). Overlap is harmless: units are upserted.
    :param page: ``None`` for the first page, else the previous page's ``next_page``.
    :returns: an :class:`~serialsync.model.InventoryPage`. Only products whose units are meant to
        be sold online one by one (AIM's "sell individual serials online") belong in it. A
        unit the POS no longer offers (deleted, flag cleared) is named in ``deleted``; a unit
        the POS sold itself comes with ``status=sold``.
    :raises RemoteError: when the POS cannot answer; the pass stops for this POS and resumes
        from the same cursor next time.

    Stops at the first non-``None`` result.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def report_sale(connector: str, sale: Sale) -> SaleReceipt:
    """Record one channel order in the POS, each serialized line as SKU + serial.

    **Must be idempotent**: the host reports a sale until it has a receipt, so the same sale
    may arrive again after a crash or a timeout. Use ``sale.idempotency_key`` or
    ``sale.order_number`` to find an order the POS already has, and return its receipt with
    ``already_recorded=True`` instead of posting it twice.

    :param connector: name of the POS connector called.
    :param sale: the order: channel, order id and number, status, lines (``serial`` set on
        serialized lines, ``None`` on plain SKU lines), totals and customer.
    :returns: the POS's :class:`~serialsync.model.SaleReceipt`.
    :raises RetryableRemoteError: the POS could not take it now; the host retries in a later
        pass with backoff.
    :raises SaleLinesRefusedError: the POS refused some lines and names them (a plain SKU it
        does not carry); when none is a serialized line, the host reports the sale again
        without them and notes what was left out.
    :raises PermanentRemoteError: the POS refused it (unknown SKU, validation); the sale is
        marked failed with the message, for a person to look at. A sale with plain lines is
        first tried again with its serialized lines alone: a plain line never fails a unit.

    Stops at the first non-``None`` result.
    """
    raise NotImplementedError


# -------------------------------------------------------------------------------------------
# Channels (role CHANNEL)
# -------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def publish_variants(
    connector: str,
    product: Product,
    changes: Sequence[ListingChange],
    still_for_sale: StillForSale,
    first_publish: bool,
) -> list[PublishOutcome]:
    """Make the channel's variants of ``product`` match ``changes``; one outcome per unit.

    The host sends only what differs from the last publish, grouped by product, so an
    unchanged catalogue costs no call. Each change is an ``UPSERT`` (list the unit with stock
    1: create its variant, or update what changed) or a ``WITHDRAW`` (make it unsellable: stock
    0, or the variant removed, as the platform allows; withdrawing the last variant of a
    product must not fail). ``change.remote`` holds the ids the last publish returned.
    ``change.changed`` names the field groups (:class:`~serialsync.model.FieldGroup`) that
    differ from what the channel was last given: send only those (a title change is one
    product update, not a re-send of every variant); an upsert whose groups are all unchanged
    is a unit to make sellable again (stock 1).

    **Must be idempotent**: after a crash between a remote create and the host's record, the
    same change arrives again with ``remote=None``. Find the existing variant by its SKU (the
    integration id) and adopt it; never create a second one.

    :param connector: name of the channel connector called.
    :param product: the POS product (title, description, price, option name); its ``units``
        may be empty: the units to act on are in ``changes``.
    :param changes: the per-unit changes, at most a few thousand; batch them as the platform
        allows.
    :param still_for_sale: **optional to take**, new in serialsync 0.6 (a plugin that leaves
        it out of its signature keeps working). ``still_for_sale(serials)`` returns those of
        the named units the host still wants for sale, read from its store at that moment.
        The changes were planned before the call; a unit may sell on another channel while
        the call is on the wire, and a request that then makes it sellable would put a sold
        unit on sale until the host's next call withdraws it. Just before each request that
        would make units sellable (a create with stock 1, a batch of variants, a stock save),
        ask about the upserts it carries; send those not returned unsellable in that same
        request (stock 0, as the platform's field has it: no extra request), and answer them
        ``WITHDRAWN`` with their ids (the variant exists: the host records it withdrawn).
        Magento asks before the MSI source-items save that ends the call; Shopify before the
        creating ``productSet``, each variants bulk create and each stock set; BigCommerce
        before the product create and each variants batch; WooCommerce before each
        variations batch. Ask once per such request, never per unit, and not for a request
        that sets no stock (Shopify's price updates): each answer reads the store.
    :param first_publish: **optional to take**, new in serialsync 0.7 (a plugin that leaves it
        out of its signature keeps working). ``True`` when this store has never recorded a
        listing of any unit of this POS product on this channel (listed, withdrawn or failed),
        so the host has never had an answer from the channel about it; ``False`` otherwise,
        and on the host's calls that only repair (a reconcile, a withdrawal sent apart). It is
        what the host knows, **not** proof that the product is absent from the channel: a lost
        store started again, a catalogue made before this store, or a crash between the
        channel's save and the host's record leave products there that the store never
        recorded. A plugin may spare a read only when being wrong cannot lose anything: when
        its create fails loudly on an existing product, or when the channel itself said so
        (an answer read once for many products). Magento, whose product save is an upsert
        that sets a parent's links to those it names, spares its read of the parent's children
        only when, besides, its serial attribute had no option when the connector first read
        it (so no child could hold a serial) and the connector has not saved that parent since.
    :returns: exactly one :class:`~serialsync.model.PublishOutcome` per change, in any order,
        with the remote ids to remember. A unit the platform refused is ``FAILED`` with the
        platform's code and message (``retryable=False`` when resending cannot help); the other
        units still succeed. An upsert answered ``WITHDRAWN`` is recorded as withdrawn (its
        variant exists, unsellable).
    :raises RemoteError: only when nothing could be done for the whole product (credentials
        refused, platform down after retries); every unit of the call is then retried later.

    Stops at the first non-``None`` result.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def withdraw_units(connector: str, changes: Sequence[ListingChange]) -> list[PublishOutcome]:
    """Make many units unsellable at once, across products; one outcome per unit answered.

    **Optional**, new in serialsync 0.2 (a plugin written for 0.1 keeps working): the host
    calls it, when implemented, to withdraw the units that orders sold or reserved, so that a
    burst of orders costs a few batched requests instead of one ``publish_variants`` call per
    product. Without it the host withdraws through ``publish_variants``, one product at a time.

    Every change is a ``WITHDRAW`` whose ``change.remote`` holds the ids the last publish
    returned; the units may belong to many products. Withdraw **only** these units' listings
    (stock 0, or the variant removed, as the platform allows), in as few requests as its batch
    endpoints allow, and never touch a unit that is not named. Idempotent, as for
    ``publish_variants``: a unit already withdrawn, or whose listing is gone, is ``WITHDRAWN``.

    :param connector: name of the channel connector called.
    :param changes: the withdrawals, at most a few thousand, from many products.
    :returns: :class:`~serialsync.model.PublishOutcome` s, at most one per change, in any
        order: ``WITHDRAWN`` (with the ids to remember, or ``None`` when the listing is gone),
        or ``FAILED`` with the platform's code and message. A change **left without an
        outcome** is one the plugin cannot withdraw in a batch (no remembered ids, say): the
        host withdraws it through ``publish_variants`` with its product.
    :raises RemoteError: only when nothing could be done (credentials refused, platform down
        after retries); every unit of the call is then retried later.

    Stops at the first non-``None`` result.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def product_capacity(connector: str) -> int | None:
    """The most units one product of this channel can hold; ``None`` when there is no limit.

    **Optional**, new in serialsync 0.3. Past this many units a POS product continues in
    *sibling* products (``product.part`` 2, 3, …, each with its own title and
    ``product.listing_sku``), which the host plans, fills, empties and retires like any other:
    no unit is refused for a product limit. Give the platform's real limit (BigCommerce: 250
    values of one option; Shopify: the shop's ``maxProductVariants``); the host calls it once
    per publish of a channel, so a value read from the platform should be cached.

    :param connector: name of the channel connector called.
    :returns: a positive number of units, or ``None`` (no limit: one product per POS SKU).

    Stops at the first non-``None`` result.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def retire_product(connector: str, product: Product, remote: RemoteIds) -> bool:
    """Take an emptied sibling product off the storefront (delete it, as the platform allows).

    **Optional**, new in serialsync 0.3. Called when no unit of a sibling product
    (``product.part`` > 1) is listed any more; ``remote`` holds the ids one of its units was
    last published with (``remote.product_id`` names the product). Idempotent: a product
    already gone is retired. Orders placed on it still map back by their variant SKUs.

    :param connector: name of the channel connector called.
    :param product: the sibling product, as it was published.
    :param remote: the ids a unit of it was last published with.
    :returns: ``True`` once the product is gone from the storefront.
    :raises RemoteError: when it could not be done now; the host tries again next pass.

    Stops at the first non-``None`` result.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def set_product_visibility(
    connector: str, product: Product, remote: RemoteIds, visible: bool
) -> bool:
    """Hide a sold-out product from the storefront, or show it again when a unit returns.

    **Optional**, new in serialsync 0.5 (a plugin written before keeps working: its sold-out
    products then stay visible, as they always did). The host calls it when no unit of a
    product (or of one sibling, ``product.part``) is for sale on the channel any more
    (``visible=False``), and again once a unit is listed there (``visible=True``); the
    operator's ``[sync] sold_out = "show"`` keeps sold-out products visible. The host remembers
    what it set, per channel and product, so it calls this only when the answer changes —
    including after the units were withdrawn by ``withdraw_units``. Hide the product the way
    the platform documents for taking a product off sale without deleting it (Shopify: status
    ``DRAFT``; BigCommerce: ``is_visible``; WooCommerce: ``catalog_visibility``; Magento: the
    parent's ``visibility``), in one request, and change nothing else. Idempotent.

    :param connector: name of the channel connector called.
    :param product: the product (or sibling) as it was published.
    :param remote: the ids a unit of it was last published with (``remote.product_id``
        names the product).
    :param visible: ``True`` to show it on the storefront, ``False`` to hide it.
    :returns: ``True`` once the storefront shows (or hides) it as asked; ``False`` when the
        product is gone (there is nothing left to show or hide).
    :raises RemoteError: when it could not be done now; the host tries again next pass.

    Stops at the first non-``None`` result.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def list_listings(connector: str, page: str | None) -> ListingsPage:
    """Return one page of the channel's variants whose SKU is an integration id.

    **Optional**, new in serialsync 0.4 (a plugin written before keeps working; ``serialsync
    reconcile`` then skips its channel). The host reads every page, passing back ``next_page``
    until it is ``None``, and compares what the channel holds with what its store says was
    published: a variant deleted or duplicated by hand, a sold unit's stock set back, a SKU
    retyped. Read with the platform's cheapest listing call (a paged variants list, not one
    request per product), and report **every** variant whose SKU holds ``|||``, duplicates
    included, exactly as the platform holds the SKU; change nothing.

    :param connector: name of the channel connector called.
    :param page: ``None`` for the first page, then the previous page's ``next_page``.
    :returns: a :class:`~serialsync.model.ListingsPage` of
        :class:`~serialsync.model.RemoteListing` s (ids, sellable now, stock).
    :raises RemoteError: when the page could not be read; the host reports the channel as
        unread and repairs nothing on it.

    Stops at the first non-``None`` result.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def admin_url(connector: str, remote: RemoteIds) -> str | None:
    """Return the address of the channel's own admin page for one listing, or ``None``.

    **Optional**, new in serialsync 0.5. The admin panel links each unit's listing to it, so a
    person goes from a serial straight to the variant on the platform. Build it from ``remote``
    (the ids the plugin gave the listing) and the connector's settings alone: no request.
    Return ``None`` when the ids do not name a page (or the platform's admin address cannot be
    known from the settings).

    :param connector: name of the channel connector called.
    :param remote: the listing's :class:`~serialsync.model.RemoteIds`.

    Stops at the first non-``None`` result.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def fetch_orders(connector: str, since: datetime | None, page: str | None) -> OrdersPage:
    """Return one page of orders created or updated at or after ``since``, oldest first.

    The host calls it repeatedly, passing back ``next_page`` until it is ``None``. It re-reads
    an overlap window before its cursor (platforms' ``updated_at`` filters are known to miss
    orders) and de-duplicates by order id, so returning an order twice is harmless; missing
    one is not.

    :param connector: name of the channel connector called.
    :param since: the lower bound on the order's last update; ``None`` means as far back as
        the platform allows.
    :param page: ``None`` for the first page, else the previous page's ``next_page``.
    :returns: an :class:`~serialsync.model.OrdersPage`. Each order's lines carry ``raw_sku`` exactly
        as sold (``SKU|||SERIAL`` for a serialized unit, the plain SKU of any other product,
        ``None`` for a custom line with no SKU); cancellation and refunds are mapped to
        :class:`~serialsync.model.FinancialStatus`. An order the plugin cannot map (a negative
        quantity, a missing field, a state it does not know) is **not** raised: it goes into
        ``unreadable`` with its reason and raw payload (its ``updated_at`` when that much
        could be read), and the page goes on; the host quarantines it and reads on past it.
        Since 0.2: a plugin never stops a stream for one order.
    :raises RemoteError: when the channel cannot answer; the cursor does not move.

    Stops at the first non-``None`` result.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def fetch_order(connector: str, order_id: str) -> Order | UnreadableRecord | None:
    """Read one order again by its id, as :func:`fetch_orders` would return it.

    **Optional.** Used by ``serialsync quarantine retry`` to re-read an order that was
    quarantined (one the plugin could not map, or whose lines could not be processed) from the
    channel as it is now, once its cause is fixed, and by the service when a webhook names an
    order, to run it through the order path at once. A plugin without it still works; such
    orders are then processed again only when ``fetch_orders`` sends them again.

    :param connector: name of the channel connector called.
    :param order_id: the order's id as the plugin gave it (``Order.order_id``, or
        ``UnreadableRecord.key``).
    :returns: the :class:`~serialsync.model.Order`, mapped exactly as ``fetch_orders`` maps it;
        an :class:`~serialsync.model.UnreadableRecord` (with its reason and raw payload) when
        the order still cannot be mapped; ``None`` when the channel has no such order.
    :raises RemoteError: when the channel cannot answer.

    Stops at the first non-``None`` result. New in serialsync 0.2.
    """
    raise NotImplementedError


# -------------------------------------------------------------------------------------------
# Channels: webhooks (optional; added in 0.2 — a plugin without them is served by polling)
# -------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def verify_webhook(
    connector: str, headers: Mapping[str, str], body: bytes, secret: SecretStr
) -> WebhookDelivery:
    """Check one webhook delivery's signature and name the order it concerns.

    Optional. The host serves ``POST /webhooks/<connector>`` and calls this hook with the raw
    request; it has already refused a body over 1 MiB. Check the signature over ``body``
    **as received**, before parsing anything, with :func:`hmac.compare_digest` (or
    :func:`serialsync.signature_matches`); then read only what names the event and the order.

    :param connector: name of the channel connector the delivery was addressed to.
    :param headers: the request headers, names in lower case.
    :param body: the raw request body.
    :param secret: the secret serialsync chose for this connector's subscriptions (the one
        ``register_webhooks`` was given); a platform that signs with a key of its own (an
        app's client secret) uses that instead.
    :returns: a :class:`~serialsync.model.WebhookDelivery`: the topic, the event's id (the
        host de-duplicates on it), and the order id as ``fetch_orders`` reports it, or
        ``order_id=None`` for a delivery that concerns no order (a ping, a topic not followed).
        The host then fetches the order itself; the payload is never trusted.
    :raises WebhookSignatureError: the signature is missing or wrong; the host answers 401
        and changes nothing.

    Stops at the first non-``None`` result.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def register_webhooks(connector: str, url: str, secret: SecretStr) -> list[WebhookSubscription]:
    """Subscribe ``url`` to the channel's order events; return the subscriptions now in place.

    Optional. **Must be idempotent**: subscriptions already there for ``url`` are kept, and only
    the missing topics are created, so registering twice creates nothing new.

    :param connector: name of the channel connector called.
    :param url: the address the platform is to call (``<public_url>/webhooks/<connector>``).
    :param secret: the secret to sign (or to send with) each delivery, where the platform lets
        the subscriber choose one; the same one reaches ``verify_webhook``.
    :returns: every subscription for ``url`` after the call.

    Stops at the first non-``None`` result.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def list_webhooks(connector: str, url: str | None) -> list[WebhookSubscription]:
    """Return the channel's webhook subscriptions for ``url`` (every one when ``None``).

    Optional; read-only. Each carries its ``state``: a subscription the channel stopped
    delivering to is ``"disabled"``; for ``url``, a topic ``register_webhooks`` would subscribe
    that the channel holds none for (a platform removes one after failed deliveries) is listed
    ``"missing"`` with an empty ``remote_id``, so an operator sees it and registers again.

    :param connector: name of the channel connector called.
    :param url: only subscriptions calling this address; ``None`` for all the connector sees.

    Stops at the first non-``None`` result.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def remove_webhooks(connector: str, url: str) -> list[WebhookSubscription]:
    """Delete the channel's subscriptions for ``url``; return those removed (none is no error).

    Optional.

    :param connector: name of the channel connector called.
    :param url: the address whose subscriptions go.

    Stops at the first non-``None`` result.
    """
    raise NotImplementedError


# -------------------------------------------------------------------------------------------
# Both roles
# -------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def check_connection(connector: str) -> str:
    """Prove the credentials with one cheap read-only call; return what was seen.

    Used by ``serialsync check``. Return a short human description (``"shop Acme, plan
    Basic"``); raise :class:`~serialsync.errors.AuthenticationError` for refused credentials or
    another :class:`~serialsync.errors.RemoteError` when the platform cannot be reached.

    :param connector: name of the connector called.

    Stops at the first non-``None`` result.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def probe_contract(connector: str) -> ProbeReport:
    """Optional: compare the names the plugin relies on with what the live platform publishes.

    Read-only (metadata pages, schema introspection; never a write). Used by ``serialsync
    probe`` and ``serialsync aim probe``, so a merchant learns before the first write which
    operations or fields their platform lacks. Return a :class:`~serialsync.model.ProbeReport`
    (its ``missing`` empty when everything is there); raise a
    :class:`~serialsync.errors.RemoteError` when the metadata cannot be read.

    :param connector: name of the connector called.

    Stops at the first non-``None`` result.
    """
    raise NotImplementedError
