"""The conformance suite: what every serialsync plugin must do, checked against its fake.

A plugin's test module subclasses one class and names its plugin::

    from serialsync.testing.conformance import ChannelConformance
    import serialsync_acme.plugin

    class TestAcmeConformance(ChannelConformance):
        plugin = serialsync_acme.plugin
        connector_type = "acme"

Every ``test_*`` method then runs against a fresh fake (the connector type's ``fake``), through
the real plugin manager and the real HTTP client, with an ``httpx.MockTransport`` underneath and
sleeps recorded rather than waited. ``settings_overrides`` adjusts the connector's settings
(for example a small page size, so paging is exercised with a few orders).

The secrets check looks for the connector's secret settings (its :class:`~pydantic.SecretStr`
fields) in everything it logged. A connector that declares none gives it nothing to look for,
so it does not pass quietly: it fails, unless the test class says ``holds_no_secrets = True``
(a platform that takes no credential at all), and then it is reported *skipped*, with that
reason. A settings field named like a credential (``token``, ``api_key``, ``password``…) but
typed ``str`` fails it too.

The suite is shipped as a pytest plugin (entry point ``pytest11``), so installing serialsync is
enough to use it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import structlog.testing
from pydantic import SecretStr

from serialsync.connector import ConnectorContext, ConnectorSettings, ConnectorType
from serialsync.errors import WebhookSignatureError
from serialsync.manager import PluginManager
from serialsync.model import (
    FinancialStatus,
    ListingAction,
    ListingChange,
    Order,
    Product,
    PublishOutcome,
    PublishResult,
    Sale,
    SaleLine,
    SerializedUnit,
    StillForSale,
    UnreadableRecord,
    every_unit_for_sale,
)
from serialsync.redaction import reveal
from serialsync.testing.fake import (
    FakeChannel,
    FakePlatform,
    Faults,
    ItemDamage,
    OrderDamage,
)

BASE_URL = "https://conformance.invalid"
CONNECTOR = "conformance"


@dataclass
class Harness:
    """One connector built from its plugin, talking to its fake."""

    manager: PluginManager
    fake: Any
    sleeps: list[float] = field(default_factory=list)
    name: str = CONNECTOR

    @property
    def connector(self) -> object:
        """The connector object (its hook implementations)."""
        return self.manager.connector(self.name).impl

    def secrets(self) -> list[str]:
        """The plain values of the connector's secret settings."""
        settings = self.manager.connector(self.name).settings
        return [reveal(s) for s in settings.secret_values()] if settings else []

    def secrets_to_look_for(self, holds_no_secrets: bool) -> list[str]:
        """The secrets the secrets check looks for; fails or skips when there are none.

        ``holds_no_secrets`` is the test class's declaration that the platform takes no
        credential at all.
        """
        settings = self.manager.connector(self.name).settings
        plain = plain_credentials(settings) if settings is not None else []
        if plain:
            pytest.fail(
                f"the settings field(s) {', '.join(plain)} look like credentials but are plain "
                "str: declare them as pydantic.SecretStr so serialsync keeps them out of logs, "
                "errors and reprs"
            )
        secrets = self.secrets()
        if secrets and holds_no_secrets:
            pytest.fail(
                f"the test class says holds_no_secrets = True, but the settings hold "
                f"{len(secrets)} SecretStr value(s): remove the declaration"
            )
        if not secrets:
            if holds_no_secrets:
                pytest.skip(
                    "no secret to look for: the plugin declares that it holds none "
                    "(holds_no_secrets = True)"
                )
            pytest.fail(
                "the connector's settings declare no secret (no SecretStr field), so this check "
                "would pass without checking anything. Declare the platform's credentials as "
                "pydantic.SecretStr; if the platform truly takes none, set "
                "holds_no_secrets = True on the test class"
            )
        return secrets


#: The last word of a settings field's name that says it is a credential.
_CREDENTIAL_WORDS = frozenset(
    {"token", "secret", "password", "passwd", "passphrase", "apikey", "credential", "credentials"}
)
#: ``<word>_key`` names that are credentials (``sort_key``, ``idempotency_key`` are not).
_KEY_PREFIXES = frozenset({"api", "access", "private", "secret", "consumer", "client", "signing"})


def plain_credentials(settings: ConnectorSettings) -> list[str]:
    """Names of ``settings``' fields named like a credential whose value is a plain ``str``."""
    found = []
    for name in type(settings).model_fields:
        words = [w for w in re.split(r"[^a-z0-9]+", name.lower()) if w]
        if not words or not isinstance(getattr(settings, name), str):
            continue
        last, before = words[-1], words[-2] if len(words) > 1 else ""
        if last in _CREDENTIAL_WORDS or (last == "key" and before in _KEY_PREFIXES):
            found.append(name)
    return found


def build_harness(
    plugin: object,
    connector_type: str,
    fake: FakePlatform,
    overrides: dict[str, Any] | None = None,
) -> Harness:
    """Register ``plugin``, build a connector of ``connector_type`` pointing at ``fake``."""
    manager = PluginManager(load_entrypoints=False, plugins={f"{connector_type}-plugin": plugin})
    if connector_type not in manager.connector_types:
        broken = "; ".join(b.error for b in manager.broken) or "it was not declared"
        raise AssertionError(f"the plugin declares no connector type {connector_type!r}: {broken}")
    harness = Harness(manager=manager, fake=fake)
    settings = {**fake.connector_settings(BASE_URL), **(overrides or {})}  # type: ignore[attr-defined]
    context = ConnectorContext(
        name=CONNECTOR, transport=fake.transport(), sleep=harness.sleeps.append
    )
    manager.add_connector(CONNECTOR, connector_type, settings, context)
    return harness


class _Conformance:
    plugin: object
    connector_type: str
    settings_overrides: dict[str, Any] = {}
    #: True for a platform that takes no credential at all: the secrets check is then reported
    #: skipped (nothing to look for) instead of failing for want of a secret.
    holds_no_secrets: bool = False

    def make_fake(self) -> FakePlatform:
        """A fresh fake of the platform (default: the connector type's ``fake``)."""
        ctype = self._type()
        if ctype.fake is None:
            raise AssertionError(f"connector type {self.connector_type!r} declares no fake")
        fake: FakePlatform = ctype.fake()
        return fake

    def _type(self) -> ConnectorType:
        manager = PluginManager(load_entrypoints=False, plugins={"plugin": self.plugin})
        return manager.connector_types[self.connector_type]

    @pytest.fixture
    def harness(self) -> Iterator[Harness]:
        """The connector under test and its fake."""
        built = build_harness(
            self.plugin, self.connector_type, self.make_fake(), self.settings_overrides
        )
        yield built
        built.manager.close()


# ---------------------------------------------------------------------------------------------
# Channels
# ---------------------------------------------------------------------------------------------

_serials = itertools.count(1)


def sample_product(units: int = 3, *, sku: str | None = None) -> Product:
    """A product with ``units`` fresh serialized units (unique serials across calls)."""
    sku = sku or f"CONF-{next(_serials):05}"
    return Product(
        sku=sku,
        title=f"Conformance Guitar {sku}",
        description="A guitar for the conformance suite.",
        brand="Conformance",
        price=Decimal("1000.00"),
        units=tuple(
            SerializedUnit(
                sku=sku,
                serial=f"CS{next(_serials):07}",
                price=Decimal("950.00"),
                attributes={"finish": "Sunburst"},
                images=(f"https://images.serialsync.invalid/{sku}/{n}.jpg",),
            )
            for n in range(units)
        ),
    )


def upserts(product: Product, outcomes: Sequence[PublishOutcome] = ()) -> list[ListingChange]:
    """An UPSERT per unit, with the remote ids of earlier ``outcomes`` where known."""
    remote = {o.serial: o.remote for o in outcomes}
    return [
        ListingChange(unit=u, action=ListingAction.UPSERT, remote=remote.get(u.serial))
        for u in product.units
    ]


def withdrawals(
    product: Product, outcomes: Sequence[PublishOutcome], units: Sequence[SerializedUnit]
) -> list[ListingChange]:
    """A WITHDRAW for each of ``units``, with remote ids from ``outcomes``."""
    remote = {o.serial: o.remote for o in outcomes}
    return [
        ListingChange(unit=u, action=ListingAction.WITHDRAW, remote=remote.get(u.serial))
        for u in units
    ]


def listed_once(harness: Harness, product: Product, rule: str) -> None:
    """Check that each unit of ``product`` is one variant on the channel, in stock 1."""
    stock = stock_by_sku(harness.fake)
    for unit in product.units:
        assert stock.get(unit.integration_id) == [1], broken_rule(
            rule, sent=unit.integration_id, got=stock.get(unit.integration_id)
        )


def broken_rule(rule: str, *, sent: object, got: object) -> str:
    """A conformance failure's message: the rule broken, what was sent, what came back."""
    return f"rule broken: {rule}\n  sent: {_shown(sent)}\n  came back: {_shown(got)}"


def _shown(value: object) -> str:
    if isinstance(value, PublishOutcome):
        why = f" ({value.reason})" if value.reason else ""
        return f"{value.serial}: {value.result.value}{why}"
    if isinstance(value, ListingChange):
        return f"{value.action.value} {value.unit.integration_id}"
    if isinstance(value, list | tuple) and value:
        return "[" + "; ".join(_shown(v) for v in value) + "]"
    return repr(value)


def stock_by_sku(fake: FakeChannel) -> dict[str, list[int]]:
    """Every variant SKU on the fake with its stock (a list: duplicates show as two entries)."""
    found: dict[str, list[int]] = {}
    for listing in fake.listings():
        found.setdefault(listing.sku, []).append(listing.stock if listing.sellable else 0)
    return found


def takes_argument(harness: Harness, hook: str, argument: str) -> bool:
    """Whether the connector's own implementation of ``hook`` takes ``argument`` (an optional
    argument a plugin may leave out of its signature)."""
    impl = harness.manager.connector(CONNECTOR).impl
    for caller in harness.manager.pm.get_hookcallers(impl) or []:
        if caller.name == hook:
            return any(i.plugin is impl and argument in i.argnames for i in caller.get_hookimpls())
    return False


def _checked(harness: Harness) -> str:
    """``check_connection``'s answer, or its error's text: neither may hold a secret."""
    try:
        return harness.manager.check_connection(CONNECTOR)
    except Exception as exc:  # a refusal's message is checked like an answer
        return f"{type(exc).__name__}: {exc}"


class ChannelConformance(_Conformance):
    """What every channel plugin must do. Subclass it, set ``plugin`` and ``connector_type``."""

    #: Orders to place for the paging tests; set a small page size in ``settings_overrides``.
    order_count: int = 7

    def publish(
        self,
        harness: Harness,
        product: Product,
        changes: Sequence[ListingChange],
        still_for_sale: StillForSale = every_unit_for_sale,
        *,
        first_publish: bool = False,
    ) -> list[PublishOutcome]:
        """Call ``publish_variants`` through the plugin manager; check one outcome per change."""
        outcomes = harness.manager.publish_variants(
            CONNECTOR, product, changes, still_for_sale, first_publish=first_publish
        )
        assert sorted(o.serial for o in outcomes) == sorted(c.unit.serial for c in changes), (
            broken_rule(
                "publish_variants returns exactly one outcome per change",
                sent=changes,
                got=outcomes,
            )
        )
        return outcomes

    def read_orders(
        self,
        harness: Harness,
        since: datetime | None,
        *,
        unreadable: list[UnreadableRecord] | None = None,
    ) -> list[Order]:
        """Every order from ``since``, following ``next_page`` to the end.

        The orders the plugin could not map are added to ``unreadable`` when it is given.
        """
        orders: list[Order] = []
        page: str | None = None
        for _ in range(1000):
            result = harness.manager.fetch_orders(CONNECTOR, since, page)
            orders.extend(result.orders)
            if unreadable is not None:
                unreadable.extend(result.unreadable)
            if result.next_page is None:
                return orders
            assert result.next_page != page, "fetch_orders repeated its page token"
            page = result.next_page
        raise AssertionError("fetch_orders did not reach its last page in 1000 pages")

    # -- publishing ---------------------------------------------------------------------------

    def test_publish_creates_every_unit(self, harness: Harness) -> None:
        product = sample_product(3)
        changes = upserts(product)
        outcomes = self.publish(harness, product, changes)
        assert {o.result for o in outcomes} == {PublishResult.CREATED}, broken_rule(
            "each new unit is created", sent=changes, got=outcomes
        )
        listed_once(
            harness, product, "a created unit is one variant, in stock 1, under its integration id"
        )
        assert all(o.remote is not None for o in outcomes), "return remote ids to remember"

    def test_republishing_unchanged_units_changes_nothing(self, harness: Harness) -> None:
        product = sample_product(3)
        first = self.publish(harness, product, upserts(product))
        before = stock_by_sku(harness.fake)
        changes = upserts(product, first)
        again = self.publish(harness, product, changes)
        assert {o.result for o in again} <= {PublishResult.UNCHANGED, PublishResult.UPDATED}, (
            broken_rule("publishing the same units again is unchanged", sent=changes, got=again)
        )
        assert stock_by_sku(harness.fake) == before, broken_rule(
            "publishing the same units again changes no stock",
            sent=before,
            got=stock_by_sku(harness.fake),
        )

    def test_an_update_changes_only_that_unit(self, harness: Harness) -> None:
        product = sample_product(3)
        first = self.publish(harness, product, upserts(product))
        changed = product.units[1].model_copy(update={"price": Decimal("777.00")})
        change = ListingChange(
            unit=changed,
            action=ListingAction.UPSERT,
            remote=next(o.remote for o in first if o.serial == changed.serial),
        )
        [outcome] = self.publish(harness, product, [change])
        assert outcome.result in {PublishResult.UPDATED, PublishResult.UNCHANGED}
        assert outcome.serial == changed.serial
        assert stock_by_sku(harness.fake)[changed.integration_id] == [1]

    def test_withdraw_works_down_to_the_last_variant(self, harness: Harness) -> None:
        product = sample_product(3)
        first = self.publish(harness, product, upserts(product))
        for unit in product.units:  # one by one, so the last withdrawal is of the last variant
            change = withdrawals(product, first, [unit])
            [outcome] = self.publish(harness, product, change)
            assert outcome.result == PublishResult.WITHDRAWN, broken_rule(
                "a withdrawal is answered withdrawn, down to a product's last variant",
                sent=change,
                got=outcome,
            )
        stock = stock_by_sku(harness.fake)
        for unit in product.units:
            assert sum(stock.get(unit.integration_id, [0])) == 0, (unit.integration_id, stock)

    def test_a_withdrawn_unit_can_be_listed_again(self, harness: Harness) -> None:
        product = sample_product(2)
        first = self.publish(harness, product, upserts(product))
        withdrawn = self.publish(harness, product, withdrawals(product, first, product.units[:1]))
        # The host passes back what the withdrawal returned, as it would after recording it.
        [outcome] = self.publish(harness, product, upserts(product, withdrawn)[:1])
        assert outcome.result in {PublishResult.CREATED, PublishResult.UPDATED}
        assert stock_by_sku(harness.fake)[product.units[0].integration_id] == [1]

    def test_a_unit_no_longer_for_sale_is_never_listed(self, harness: Harness) -> None:
        if not takes_argument(harness, "publish_variants", "still_for_sale"):
            pytest.skip("the plugin's publish_variants does not take the optional still_for_sale")
        # What a new product of three units costs when all stay for sale (after a first one,
        # which may pay for what a connector reads once).
        first = sample_product(3)
        self.publish(harness, first, upserts(first))
        sent = len(harness.fake.requests)
        reference = sample_product(3)
        self.publish(harness, reference, upserts(reference))
        listed_all = len(harness.fake.requests) - sent
        product = sample_product(3)
        held_back = product.units[1]
        changes = upserts(product)
        sent = len(harness.fake.requests)
        outcomes = self.publish(
            harness, product, changes, lambda serials: frozenset(serials) - {held_back.serial}
        )
        by_serial = {o.serial: o for o in outcomes}
        assert by_serial[held_back.serial].result == PublishResult.WITHDRAWN, broken_rule(
            "a new unit still_for_sale leaves out is answered withdrawn",
            sent=changes,
            got=outcomes,
        )
        assert by_serial[held_back.serial].remote is not None, broken_rule(
            "a unit held back is answered with the ids of the variant it was written to",
            sent=held_back.integration_id,
            got=by_serial[held_back.serial],
        )
        assert len(harness.fake.requests) - sent == listed_all, broken_rule(
            "a unit held back costs no request of its own (it goes unsellable in the request "
            "that would have listed it)",
            sent=listed_all,
            got=len(harness.fake.requests) - sent,
        )
        stock = stock_by_sku(harness.fake)
        assert sum(stock.get(held_back.integration_id, [0])) == 0, broken_rule(
            "a unit still_for_sale leaves out is not for sale",
            sent=held_back.integration_id,
            got=stock.get(held_back.integration_id),
        )
        for unit in product.units:
            if unit != held_back:
                assert stock.get(unit.integration_id) == [1], (unit.integration_id, stock)
        # Back for sale later: the host sends it again with the ids it was answered with.
        [again] = self.publish(harness, product, upserts(product, outcomes)[1:2])
        assert again.result in {PublishResult.CREATED, PublishResult.UPDATED}
        assert stock_by_sku(harness.fake)[held_back.integration_id] == [1]

    def test_first_publish_is_a_hint_that_loses_and_duplicates_nothing(
        self, harness: Harness
    ) -> None:
        if not takes_argument(harness, "publish_variants", "first_publish"):
            pytest.skip("the plugin's publish_variants does not take the optional first_publish")
        # Told of a product the host never recorded, the plugin lists it whole.
        product = sample_product(3)
        older = product.model_copy(update={"units": product.units[:2]})
        self.publish(harness, older, upserts(older), first_publish=True)
        # A store lost and started again says first_publish for a product the channel holds:
        # its units come back with no ids (and one new unit beside them).
        changes = upserts(product)
        outcomes = self.publish(harness, product, changes, first_publish=True)
        assert all(o.result != PublishResult.FAILED for o in outcomes), broken_rule(
            "a product the channel holds is adopted when the host says first_publish",
            sent=changes,
            got=outcomes,
        )
        listed_once(
            harness, product, "first_publish neither duplicates nor drops a unit the channel holds"
        )

    def test_withdraw_units_takes_off_exactly_the_named_units_of_many_products(
        self, harness: Harness
    ) -> None:
        if not harness.manager.implements(CONNECTOR, "withdraw_units"):
            pytest.skip("the plugin does not implement the optional withdraw_units")
        products = [sample_product(3), sample_product(2)]
        firsts = [self.publish(harness, p, upserts(p)) for p in products]
        sold = [
            *withdrawals(products[0], firsts[0], products[0].units[:2]),
            *withdrawals(products[1], firsts[1], products[1].units[1:]),
        ]
        outcomes = harness.manager.withdraw_units(CONNECTOR, sold)
        assert outcomes is not None
        answered = {o.serial: o for o in outcomes}
        assert set(answered) <= {c.unit.serial for c in sold}, "outcomes for units not asked"
        assert {o.result for o in outcomes} <= {PublishResult.WITHDRAWN}, outcomes
        stock = stock_by_sku(harness.fake)
        for change in sold:
            if change.unit.serial in answered:
                assert sum(stock.get(change.unit.integration_id, [0])) == 0, stock
        for product in products:
            for unit in product.units:
                if unit.serial not in {c.unit.serial for c in sold}:
                    assert stock.get(unit.integration_id) == [1], "a unit not named was touched"
        # Withdrawing again is harmless: the same units, already off sale.
        again = harness.manager.withdraw_units(CONNECTOR, sold)
        assert again is not None
        assert {o.result for o in again} <= {PublishResult.WITHDRAWN}, again

    def test_a_crash_between_create_and_record_does_not_duplicate(self, harness: Harness) -> None:
        product = sample_product(3)
        self.publish(harness, product, upserts(product))  # outcomes lost: the host crashed
        retried = self.publish(harness, product, upserts(product))  # remote=None again
        assert PublishResult.FAILED not in {o.result for o in retried}, retried
        stock = stock_by_sku(harness.fake)
        for unit in product.units:
            assert stock.get(unit.integration_id) == [1], f"duplicate or missing: {stock}"

    def test_per_unit_failures_are_reported_as_such(self, harness: Harness) -> None:
        product = sample_product(2)
        too_long = SerializedUnit(sku=product.sku, serial="X" * 300, price=Decimal("1.00"))
        product = product.model_copy(update={"units": (*product.units, too_long)})
        outcomes = {o.serial: o for o in self.publish(harness, product, upserts(product))}
        failed = outcomes[too_long.serial]
        assert failed.result == PublishResult.FAILED
        assert failed.reason, "a failed outcome must say why"
        assert not failed.retryable, "resending an id the platform cannot store will not help"
        for unit in product.units[:2]:
            assert outcomes[unit.serial].result == PublishResult.CREATED

    # -- orders -------------------------------------------------------------------------------

    def _place(self, harness: Harness, count: int) -> list[str]:
        product = sample_product(count)
        self.publish(harness, product, upserts(product))
        return [harness.fake.create_order([(u.integration_id, 1)]) for u in product.units]

    def test_fetch_orders_pages_to_the_end(self, harness: Harness) -> None:
        placed = self._place(harness, self.order_count)
        orders = self.read_orders(harness, None)
        ids = [o.order_id for o in orders]
        assert len(ids) == len(set(ids)), "an order appeared twice in one read"
        assert set(placed) <= set(ids)
        assert all(o.channel == CONNECTOR for o in orders)
        for order in orders:
            assert order.updated_at.tzinfo is not None, "times must be timezone-aware"
            assert order.created_at.tzinfo is not None, "times must be timezone-aware"
        lines = [line.raw_sku for o in orders if o.order_id in placed for line in o.lines]
        assert all(sku and "|||" in sku for sku in lines), lines

    def test_fetch_orders_resumes_from_a_saved_cursor(self, harness: Harness) -> None:
        first_batch = self._place(harness, 3)
        first = self.read_orders(harness, None)
        cursor = max(o.updated_at for o in first)
        second_batch = self._place(harness, 2)
        second = self.read_orders(harness, cursor)
        ids = {o.order_id for o in second}
        assert set(second_batch) <= ids, "orders placed after the cursor were missed"
        assert all(o.updated_at >= cursor - timedelta(seconds=1) for o in second)
        assert set(first_batch) | set(second_batch) <= {o.order_id for o in first} | ids

    def test_a_cursor_in_the_future_yields_nothing(self, harness: Harness) -> None:
        self._place(harness, 2)
        assert self.read_orders(harness, datetime.now(UTC) + timedelta(days=2)) == []

    def test_cancelled_and_refunded_orders_are_mapped(self, harness: Harness) -> None:
        cancelled, refunded, paid = self._place(harness, 3)
        harness.fake.set_order_status(cancelled, FinancialStatus.CANCELLED)
        harness.fake.set_order_status(refunded, FinancialStatus.REFUNDED)
        status = {o.order_id: o.status for o in self.read_orders(harness, None)}
        assert status[cancelled] == FinancialStatus.CANCELLED
        assert status[refunded] == FinancialStatus.REFUNDED
        assert status[paid] == FinancialStatus.PAID

    def test_custom_lines_and_plain_products_are_mapped_as_sold(self, harness: Harness) -> None:
        product = sample_product(1)
        self.publish(harness, product, upserts(product))
        unit = product.units[0]
        order_id = harness.fake.create_order(
            [(unit.integration_id, 1), (None, 1), ("PLAIN-CONFORMANCE", 2)]
        )
        [order] = [o for o in self.read_orders(harness, None) if o.order_id == order_id]
        # A custom line has no SKU (None, never ""); a plain product keeps its own SKU.
        assert [(line.raw_sku, line.quantity) for line in order.lines] == [
            (unit.integration_id, 1),
            (None, 1),
            ("PLAIN-CONFORMANCE", 2),
        ]

    @pytest.mark.parametrize("damage", ["negative-quantity", "missing-field", "unknown-status"])
    def test_an_order_that_cannot_be_mapped_never_stops_the_stream(
        self, harness: Harness, damage: OrderDamage
    ) -> None:
        placed = self._place(harness, 3)
        try:
            harness.fake.damage_order(placed[1], damage)
        except NotImplementedError:
            pytest.skip("the fake cannot hold a damaged order (FakeChannel.damage_order)")
        unreadable: list[UnreadableRecord] = []
        orders = self.read_orders(harness, None, unreadable=unreadable)
        assert {placed[0], placed[2]} <= {o.order_id for o in orders}
        assert placed[1] not in {o.order_id for o in orders}
        [record] = [r for r in unreadable if r.key == placed[1]]
        assert record.reason, "an unreadable order must say why"
        assert record.payload, "an unreadable order must carry its raw payload"

    def test_fetch_order_reads_an_order_as_fetch_orders_does(self, harness: Harness) -> None:
        if not harness.manager.implements(CONNECTOR, "fetch_order"):
            pytest.skip("the plugin does not implement the optional fetch_order")
        placed = self._place(harness, 2)
        harness.fake.set_order_status(placed[1], FinancialStatus.CANCELLED)
        read = {o.order_id: o for o in self.read_orders(harness, None)}
        for order_id in placed:
            assert harness.manager.fetch_order(CONNECTOR, order_id) == read[order_id]

    # -- sold-out products (optional) ----------------------------------------------------------

    def test_a_sold_out_product_is_hidden_and_shown_again(self, harness: Harness) -> None:
        if not harness.manager.implements(CONNECTOR, "set_product_visibility"):
            pytest.skip("the plugin does not implement the optional set_product_visibility")
        product = sample_product(2)
        first = self.publish(harness, product, upserts(product))
        remote = first[0].remote
        assert remote is not None, "a listed unit has ids"
        assert remote.product_id, "a listed unit names its product"
        try:
            shown = harness.fake.storefront()
        except NotImplementedError:
            pytest.skip("the plugin's fake does not model product visibility (storefront)")
        assert set(shown.values()) == {True}, shown
        self.publish(harness, product, withdrawals(product, first, product.units))
        for _ in range(2):  # idempotent: hiding a hidden product is done, not an error
            assert harness.manager.set_product_visibility(CONNECTOR, product, remote, False)
            assert set(harness.fake.storefront().values()) == {False}
        assert harness.manager.set_product_visibility(CONNECTOR, product, remote, True)
        assert set(harness.fake.storefront().values()) == {True}
        # The units were left as they were: withdrawn.
        assert all(sum(v) == 0 for v in stock_by_sku(harness.fake).values())

    # -- webhooks (optional) ---------------------------------------------------------------------

    def test_registering_webhooks_twice_creates_nothing_new(self, harness: Harness) -> None:
        if not harness.manager.implements(CONNECTOR, "register_webhooks"):
            pytest.skip("the plugin does not implement the optional register_webhooks")
        url = f"{BASE_URL}/webhooks/{CONNECTOR}"
        secret = SecretStr("conformance-webhook-secret")
        first = harness.manager.register_webhooks(CONNECTOR, url, secret)
        assert first, "register_webhooks made no subscription"
        again = harness.manager.register_webhooks(CONNECTOR, url, secret)
        assert sorted(s.remote_id for s in again) == sorted(s.remote_id for s in first)
        listed = harness.manager.list_webhooks(CONNECTOR, url)
        assert sorted(s.remote_id for s in listed) == sorted(s.remote_id for s in first)
        assert {s.url for s in listed} == {url}
        removed = harness.manager.remove_webhooks(CONNECTOR, url)
        assert sorted(s.remote_id for s in removed) == sorted(s.remote_id for s in first)
        left = harness.manager.list_webhooks(CONNECTOR, url)  # at most topics listed missing
        assert all(s.state == "missing" and not s.remote_id for s in left), left
        assert harness.manager.remove_webhooks(CONNECTOR, url) == []  # again: harmless

    def test_a_webhook_without_a_valid_signature_is_refused(self, harness: Harness) -> None:
        if not harness.manager.implements(CONNECTOR, "verify_webhook"):
            pytest.skip("the plugin does not implement the optional verify_webhook")
        body = b'{"id": 1, "admin_graphql_api_id": "gid://shopify/Order/1"}'
        secret = SecretStr("conformance-webhook-secret")
        with pytest.raises(WebhookSignatureError):
            harness.manager.verify_webhook(CONNECTOR, {}, body, secret)
        forged = {"content-type": "application/json", "x-signature": "forged"}
        with pytest.raises(WebhookSignatureError):
            harness.manager.verify_webhook(CONNECTOR, forged, body, secret)

    # -- throttling and secrets ---------------------------------------------------------------

    def test_throttling_is_honoured(self, harness: Harness) -> None:
        harness.fake.set_faults(Faults(rate_429=0.3, seed=11))
        # Enough calls that some are refused, whatever the plugin's batch sizes.
        for _ in range(10):
            product = sample_product(4)
            changes = upserts(product)
            outcomes = self.publish(harness, product, changes)
            assert PublishResult.FAILED not in {o.result for o in outcomes}, broken_rule(
                "a 429 is waited out and the request sent again, never a failed unit",
                sent=changes,
                got=outcomes,
            )
            self.read_orders(harness, None)
            if harness.fake.injected.get("429", 0) >= 2:
                break
        assert harness.fake.injected.get("429", 0) > 0
        assert harness.sleeps, "a 429 must be waited out"

    def test_secrets_never_appear_in_logs(self, harness: Harness) -> None:
        secrets = harness.secrets_to_look_for(self.holds_no_secrets)
        with structlog.testing.capture_logs() as events:
            answer = _checked(harness)
            product = sample_product(2)
            first = self.publish(harness, product, upserts(product))
            self.publish(harness, product, withdrawals(product, first, product.units[:1]))
            harness.fake.set_faults(Faults(rate_5xx=0.5, seed=3))
            self.read_orders(harness, None)
        text = repr(events) + repr(harness.connector) + answer
        for secret in secrets:
            assert secret not in text, "a secret reached a log line or a repr"


# ---------------------------------------------------------------------------------------------
# Point of sale
# ---------------------------------------------------------------------------------------------


class PosConformance(_Conformance):
    """What every POS plugin must do. Subclass it, set ``plugin`` and ``connector_type``."""

    #: Products and units to stock for the paging test; set a small page size in overrides.
    products: int = 4
    units_per_product: int = 3

    def read_inventory(
        self,
        harness: Harness,
        since: datetime | None,
        *,
        unreadable: list[UnreadableRecord] | None = None,
    ) -> tuple[list[SerializedUnit], list[str], datetime | None]:
        """Every unit and deleted serial from ``since``, and the highest high-water mark;
        records the plugin could not map are added to ``unreadable`` when given."""
        units: list[SerializedUnit] = []
        deleted: list[str] = []
        high: datetime | None = None
        page: str | None = None
        for _ in range(1000):
            result = harness.manager.fetch_inventory(CONNECTOR, since, page)
            units.extend(u for p in result.products for u in p.units)
            deleted.extend(k.serial for k in result.deleted)
            if unreadable is not None:
                unreadable.extend(result.unreadable)
            if result.high_water and (high is None or result.high_water > high):
                high = result.high_water
            if result.next_page is None:
                return units, deleted, high
            assert result.next_page != page, "fetch_inventory repeated its page token"
            page = result.next_page
        raise AssertionError("fetch_inventory did not reach its last page in 1000 pages")

    def stock(self, harness: Harness) -> list[Product]:
        """Stock the fake POS with the suite's products; return them."""
        catalogue = [sample_product(self.units_per_product) for _ in range(self.products)]
        for product in catalogue:
            harness.fake.add_product(product)
        return catalogue

    def test_inventory_pages_to_the_end(self, harness: Harness) -> None:
        catalogue = self.stock(harness)
        units, _, high = self.read_inventory(harness, None)
        expected = {(u.sku, u.serial) for p in catalogue for u in p.units}
        got = [(u.sku, u.serial) for u in units]
        assert expected <= set(got)
        assert len(got) == len(set(got)), "a unit appeared twice in one read"
        assert high is not None, "pages must say how far they cover (high_water)"

    def test_inventory_cursor_returns_only_what_changed(self, harness: Harness) -> None:
        catalogue = self.stock(harness)
        _, _, high = self.read_inventory(harness, None)
        gone = catalogue[0].units[0]
        harness.fake.remove_unit(gone.sku, gone.serial)
        units, deleted, _ = self.read_inventory(harness, high)
        assert gone.serial in deleted, "a unit removed in the POS must come back as deleted"
        assert high is not None
        # Re-reading units changed at the cursor's own instant is allowed (the host upserts);
        # anything older is not.
        stale = [
            u.serial for u in units if u.changed_at and u.changed_at < high - timedelta(seconds=1)
        ]
        assert not stale, f"units changed before the cursor were read again: {stale}"

    def test_identifiers_are_passed_on_exactly_as_the_pos_holds_them(
        self, harness: Harness
    ) -> None:
        # The host refuses an identifier a system would alter; a plugin that trims or cleans
        # one first hides it, and the sale of that unit is later refused by the POS.
        product = sample_product(1)
        messy = (" PADDED-1", "PADDED-2 ", "NBSP\u00a0X", "TAB\tX")
        units = tuple(u.model_copy(update={"serial": s}) for s in messy for u in product.units)
        harness.fake.add_product(product.model_copy(update={"units": units}))
        unreadable: list[UnreadableRecord] = []
        read, _, _ = self.read_inventory(harness, None, unreadable=unreadable)
        serials = {u.serial for u in read if u.sku == product.sku}
        altered = {s.strip() for s in messy} | {s.replace("\u00a0", " ") for s in messy}
        assert not (altered - set(messy)) & serials, "an identifier was trimmed or cleaned"
        missing = set(messy) - serials
        assert not missing or unreadable, f"serials dropped without a word: {sorted(missing)}"

    @pytest.mark.parametrize("damage", ["missing-serial", "missing-id"])
    def test_an_item_that_cannot_be_mapped_never_stops_the_stream(
        self, harness: Harness, damage: ItemDamage
    ) -> None:
        catalogue = self.stock(harness)
        try:
            harness.fake.damage_item(catalogue[1].sku, damage)
        except NotImplementedError:
            pytest.skip("the fake cannot hold a damaged item (FakePOS.damage_item)")
        unreadable: list[UnreadableRecord] = []
        units, _, high = self.read_inventory(harness, None, unreadable=unreadable)
        read = {u.sku for u in units}
        assert {catalogue[0].sku, catalogue[2].sku} <= read, "the read stopped at a bad item"
        assert unreadable, "an item the plugin cannot map must be handed back as unreadable"
        assert all(r.reason and r.payload for r in unreadable), "say why, keep the raw record"
        assert high is not None, "the cursor must move on past an unreadable item"

    def test_report_sale_is_idempotent(self, harness: Harness) -> None:
        [product] = [sample_product(1)]
        harness.fake.add_product(product)
        unit = product.units[0]
        sale = Sale(
            idempotency_key="conformance:1001",
            channel="conformance-shop",
            order_id="1001",
            order_number="1001",
            status=FinancialStatus.PAID,
            lines=(
                SaleLine(
                    line_id="1", sku=unit.sku, serial=unit.serial, quantity=1, price=Decimal("950")
                ),
            ),
            total=Decimal("950"),
            placed_at=datetime.now(UTC),
        )
        first = harness.manager.report_sale(CONNECTOR, sale)
        second = harness.manager.report_sale(CONNECTOR, sale)
        assert second.pos_order_id == first.pos_order_id
        assert not first.already_recorded
        assert second.already_recorded, "a repeated sale must be answered as already recorded"
        # The POS may number the order its own way; the unit's line identifies it.
        line = (unit.sku, unit.serial, 1)
        recorded = [o for o in harness.fake.recorded_orders() if line in o.lines]
        assert len(recorded) == 1, "the same sale reached the POS twice"
        assert recorded[0].lines == ((unit.sku, unit.serial, 1),)

    def test_secrets_never_appear_in_logs(self, harness: Harness) -> None:
        secrets = harness.secrets_to_look_for(self.holds_no_secrets)
        with structlog.testing.capture_logs() as events:
            answer = _checked(harness)
            self.stock(harness)
            harness.fake.set_faults(Faults(rate_5xx=0.5, seed=3))
            self.read_inventory(harness, None)
        text = repr(events) + repr(harness.connector) + answer
        for secret in secrets:
            assert secret not in text, "a secret reached a log line or a repr"


__all__ = [
    "ChannelConformance",
    "Harness",
    "PosConformance",
    "broken_rule",
    "build_harness",
    "plain_credentials",
    "sample_product",
    "upserts",
    "withdrawals",
]
