"""Bad input is refused or quarantined with a clear reason, and nothing else is affected.

The POS sends, among good units: a SKU that would make an ambiguous integration id, serials
with a pipe, lower case, non-ASCII letters or 300 characters (breaking the organisation's
pattern), a serial already owned by another SKU, and a product with unicode and very large
values. Shoppers send, among good orders: a variant nobody listed (unknown serial), a malformed
integration id, a serial under the wrong SKU, and a unit sold with quantity 2. Platforms answer
HTML error pages and truncated JSON for a whole pass.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from serialsync.lifecycle import UnitStatus
from serialsync.model import Product, SerializedUnit
from serialsync.sandbox import Sandbox
from serialsync.store import OutboxState
from serialsync.testing import Faults

from tests.reliability import harness as h

pytestmark = [pytest.mark.reliability, pytest.mark.e2e, pytest.mark.timeout(h.timeout())]

#: One virtual clock for the fakes' rate limits and the host's sleeps: waits cost nothing.
CLOCK = h.VirtualTime()

UNICODE_TITLE = "Guitare électrique « Ōkami » — 日本製 🎸"
HUGE = "x" * 20_000


def bad_products(good: list[Product]) -> tuple[list[Product], dict[str, str]]:
    """Products carrying bad units (and good ones beside them); the quarantine expected."""
    taken = good[0].units[0]

    def unit(sku: str, serial: str, **extra: object) -> SerializedUnit:
        return SerializedUnit(sku=sku, serial=serial, **extra)

    products = [
        Product(
            sku="BAD-PIPE|",
            title="A SKU ending with a pipe",
            price=Decimal("10"),
            units=(unit("BAD-PIPE|", "RSPIPESKU1"),),
        ),
        Product(
            sku="REL-MIXED",
            title="Good and bad serials side by side",
            price=Decimal("99.50"),
            units=(
                unit("REL-MIXED", "RSMIXED001"),
                unit("REL-MIXED", "RS|PIPE002"),
                unit("REL-MIXED", "rs-lower-03"),
                unit("REL-MIXED", "RSÜNICODE4"),
                unit("REL-MIXED", "RS" + "9" * 300),
                unit("REL-MIXED", "RSMIXED005"),
            ),
        ),
        Product(
            sku="REL-DUP",
            title="A serial the POS already gave another SKU",
            price=Decimal("20"),
            units=(unit("REL-DUP", taken.serial), unit("REL-DUP", "RSDUPGOOD1")),
        ),
        Product(
            sku="REL-UNICODE",
            title=UNICODE_TITLE,
            description="Décrit en français, 日本語, emoji 🎶 — " + "long " * 400,
            price=Decimal("1234.56"),
            units=(
                unit("REL-UNICODE", "RSUNI00001", attributes={"finish": "Bleu océan ✨"}),
                unit("REL-UNICODE", "RSUNI00002", attributes={"notes": "ü" * 2000}),
                unit("REL-UNICODE", "RSUNI00003", attributes={"notes": HUGE}),
            ),
        ),
    ]
    expected = {
        "BAD-PIPE||||RSPIPESKU1": "|",
        "REL-MIXED|||RS|PIPE002": "|",
        "REL-MIXED|||rs-lower-03": "pattern",
        "REL-MIXED|||RSÜNICODE4": "pattern",
        f"REL-MIXED|||RS{'9' * 300}": "pattern",
        f"REL-DUP|||{taken.serial}": "already belongs to SKU",
    }
    return products, expected


def test_bad_units_and_orders_are_quarantined_with_reasons_and_the_rest_goes_through(
    tmp_path,
) -> None:
    seed = h.seed()
    good = h.catalogue(skus=4, units=24, seed=seed)
    extra, expected_units = bad_products(good)
    catalogue = good + extra
    with Sandbox(catalogue=catalogue, seed=seed, plugins=h.sandbox_plugins(CLOCK)) as sb:
        config = h.write_config(sb, tmp_path)
        with h.open_host(config, CLOCK) as host:
            listing = h.run_until_quiet(host, sb, max_passes=10, step=lambda x: x.inventory_pass())
            assert listing.quiet_after is not None, listing.why.most_common(5)
            quarantined = {q.key: q for q in host.store.quarantined(kind="unit")}
            assert set(quarantined) == set(expected_units)
            for key, words in expected_units.items():
                assert words in quarantined[key].reason, (key, quarantined[key].reason)
                assert quarantined[key].connector == h.POS and quarantined[key].payload
            # Every good unit, those beside bad ones included, is listed on every channel.
            h.check_listings(host.store, sb)
            stored = {r.unit.serial for r in host.store.all_units()}
            assert {"RSMIXED001", "RSMIXED005", "RSDUPGOOD1", "RSUNI00001"} <= stored
            assert host.store.get_unit(good[0].units[0].serial).unit.sku == good[0].sku  # type: ignore[union-attr]

            fakes = sb.channel_fakes()
            units = [u for p in good for u in p.units]
            good_orders = [
                (channel, fakes[channel].create_order([(units[i].integration_id, 1)]))
                for i, channel in enumerate(h.CHANNELS)
            ]
            unicode_unit = next(u for p in extra if p.sku == "REL-UNICODE" for u in p.units)
            good_orders.append(
                ("shopify", fakes["shopify"].create_order([(unicode_unit.integration_id, 1)]))
            )
            # Variants put on WooCommerce by hand, with SKUs serialsync never wrote.
            woo = fakes["woocommerce"]
            hand_made = {
                "unknown serial": "GHOST|||GH0000001",
                "empty": "GHOST|||",
            }
            # Hand-made too, but naming a known unit exactly by its serial: the unit is held
            # (claimed, withdrawn everywhere) and a person decides. units[0] was sold already.
            protecting = {
                "belongs to SKU": (f"{good[1].sku}|||{units[0].serial}", units[0]),
                f"belongs to SKU {good[1].sku!r}": (
                    f"{good[2].sku}|||{units[11].serial}",
                    units[11],
                ),
                "whitespace": (f"{units[10].sku} |||{units[10].serial}", units[10]),
            }
            options = ["GH0000001", "X"] + [unit.serial for _, unit in protecting.values()]
            ghost = woo.add_product("GHOST", options=options)  # type: ignore[attr-defined]
            for sku in [*hand_made.values(), *(sku for sku, _ in protecting.values())]:
                serial = sku.rpartition("|||")[2] or "X"
                woo.add_variation(ghost, sku, serial, stock=5)  # type: ignore[attr-defined]
            bad_orders = {
                f"woocommerce:{woo.create_order([(sku, 1)])}": why for why, sku in hand_made.items()
            }
            held = {
                f"woocommerce:{woo.create_order([(sku, 1)])}": (why, unit)
                for why, (sku, unit) in protecting.items()
            }
            # Quantity 2 of one unit (staff set its stock to 2 by hand first: Magento's cart
            # refuses more than is salable): the unit is sold and reported once, the excess is
            # a conflict for a person.
            for unit in (units[5], units[8]):
                fakes["magento"].set_source_quantity(unit.integration_id, 2)  # type: ignore[attr-defined]
            quantity_two = fakes["magento"].create_order([(units[5].integration_id, 2)])
            # A good line and a bad one: both units sold and reported, the bad line set aside.
            mixed = fakes["magento"].create_order(
                [(units[6].integration_id, 1), (units[8].integration_id, 2)]
            )
            set_aside = {f"magento:{quantity_two}", f"magento:{mixed}"}
            orders = h.run_until_quiet(host, sb, max_passes=10)
            assert orders.quiet_after is not None, orders.why.most_common(5)

            quarantined_orders = {q.key: q for q in host.store.quarantined(kind="order")}
            assert set(quarantined_orders) == set(bad_orders), quarantined_orders
            for key, words in bad_orders.items():
                reason = quarantined_orders[key].reason
                assert words in reason, (key, reason)
            outbox = {f"{r.channel}:{r.order_id}": r for r in host.store.outbox()}
            for channel, order_id in good_orders:
                assert outbox[f"{channel}:{order_id}"].state == OutboxState.REPORTED
            for key in bad_orders:
                assert key not in outbox
            conflicts = {q.key: q.reason for q in host.store.quarantined(kind="conflict")}
            assert set(conflicts) == set(held), conflicts
            for key, (why, unit) in held.items():
                assert outbox[key].state == OutboxState.CONFLICT
                assert why in conflicts[key] and unit.serial in conflicts[key], conflicts[key]
                assert host.store.get_unit(unit.serial).status == UnitStatus.SOLD  # type: ignore[union-attr]
            lines = {q.key: q.reason for q in host.store.quarantined(kind="order_line")}
            assert set(lines) == set_aside and all("quantity 2" in r for r in lines.values())
            for key in set_aside:
                assert outbox[key].state == OutboxState.REPORTED
            recorded = sb.pos_fakes()[h.POS].recorded_orders()
            reported = Counter(s for r in recorded for _, s, _ in r.lines if s)
            for unit in (units[5], units[6], units[8]):
                assert reported[unit.serial] == 1, unit.serial
            assert not {units[10].serial, units[11].serial} & set(reported)
            assert reported[units[0].serial] == 1  # its own sale, once
            assert unicode_unit.serial in reported
            extra_ok = [*hand_made.values(), *(sku for sku, _ in protecting.values())]
            h.check_listings(host.store, sb, extra_ok=extra_ok)
            h.check_history(host.store)
            h.report(
                "bad input",
                seed=seed,
                units_quarantined={k: v.reason[:80] for k, v in quarantined.items()},
                orders_quarantined={k: v.reason[:100] for k, v in quarantined_orders.items()},
                good_orders_reported=len(good_orders),
            )


@pytest.mark.parametrize(
    ("faults", "words"),
    [
        (Faults(rate_html=1.0), "503"),
        (Faults(rate_malformed=1.0), "JSON"),
    ],
    ids=["html-error-pages", "truncated-json"],
)
def test_a_platform_answering_garbage_fails_its_own_work_with_a_clear_reason(
    tmp_path, faults: Faults, words: str
) -> None:
    seed = h.seed()
    catalogue = h.catalogue(skus=3, units=12, seed=seed)
    with Sandbox(catalogue=catalogue, seed=seed, plugins=h.sandbox_plugins(CLOCK)) as sb:
        broken = sb.fakes["woocommerce"]
        config = h.write_config(sb, tmp_path)
        with h.open_host(config, CLOCK) as host:
            # Every channel's orders read once (a new store lists nothing before), then the
            # platform breaks.
            assert host.order_pass().ok
            broken.set_faults(faults.model_copy(update={"seed": seed}))
            summary = host.inventory_pass()
            counts = summary.counts("woocommerce")
            assert counts.failed == 12 and counts.created == 0
            listing = host.store.listings_of("woocommerce", catalogue[0].sku)
            reasons = {r.last_error or "" for r in listing.values()}
            assert all(words in reason for reason in reasons), reasons
            for other in ("bigcommerce", "magento", "shopify"):
                assert summary.counts(other).created == 12, other
            # Nothing half-done: the platform recovers, the next passes list each unit once.
            broken.set_faults(Faults())
            quiet = h.run_until_quiet(host, sb, max_passes=10, step=lambda x: x.inventory_pass())
            assert quiet.quiet_after is not None
            h.check_listings(host.store, sb)


ODD_SKUS = ["GUITARE-É", "ギター-01", "A B&C/D?E", "REL+PLUS", "100%-COTTON", "STRINGS,10-46"]


def test_odd_skus_are_listed_and_adopted_again_after_the_store_is_lost(tmp_path) -> None:
    # Non-ASCII, spaces, reserved URL characters, '+', '%' and ',' go through every
    # platform's lookups: after the runner lost its store (the worst crash), every unit is
    # found again by its SKU on every channel, none is listed twice.
    catalogue = [
        Product(
            sku=sku,
            title=f"Odd {sku}",
            price=Decimal("10"),
            units=tuple(SerializedUnit(sku=sku, serial=f"ODD{n}{i:04}") for i in range(2)),
        )
        for n, sku in enumerate(ODD_SKUS)
    ]
    with Sandbox(catalogue=catalogue, plugins=h.sandbox_plugins(CLOCK)) as sb:
        config = h.write_config(sb, tmp_path)
        with h.open_host(config, CLOCK) as host:
            assert h.run_until_quiet(host, sb, max_passes=5).quiet_after is not None
            h.check_listings(host.store, sb)
        for path in tmp_path.glob("state.db*"):
            path.unlink()
        with h.open_host(config, CLOCK) as host:
            quiet = h.run_until_quiet(host, sb, max_passes=5)
            assert quiet.quiet_after is not None, quiet.why.most_common(3)
            h.check_listings(host.store, sb)
