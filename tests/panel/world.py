"""A small world for the panel: the sandbox's fakes over loopback (AIM, Shopify, WooCommerce),
a host that listed the catalogue, a sold unit, a failed sale, a conflict, bad input in the
POS, two panel users, and the panel served over real HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
from serialsync.host import Host
from serialsync.model import FinancialStatus, Product, SerializedUnit
from serialsync.panel import create_panel_app
from serialsync.panel.ratelimit import LoginLimiter
from serialsync.panel.users import Role, add_user
from serialsync.sandbox import Sandbox, demo_catalogue
from serialsync.sandbox.server import LoopbackServer
from serialsync.settings import load_settings
from serialsync.store import OutboxState

OPERATOR, VIEWER = "olive", "victor"
PASSWORD = "correct horse battery"

#: Strings that must render as text wherever the POS or a channel puts them: markup, quotes,
#: a script URL, and the control characters of the reliability suite's bad-input corpus.
XSS = (
    '<script>alert("x")</script>',
    "\"'><img src=x onerror=alert(1)>",
    "</td></tr></table><h1>broken</h1>",
    "ESC\x1b[31mred NUL\x00 BEL\x07",
)
XSS_SKU = "XSS-1"
XSS_SERIALS = ("XSSOK0001", "XSS<b>0002")


def xss_product() -> Product:
    """A product whose title, attributes, location and photos carry :data:`XSS`."""
    units = tuple(
        SerializedUnit(
            sku=XSS_SKU,
            serial=serial,
            location=XSS[2],
            attributes={"finish": XSS[0], "note": XSS[1], "raw": XSS[3]},
            images=("javascript:alert(1)", "https://img.example/ok.jpg"),
        )
        for serial in XSS_SERIALS
    )
    return Product(sku=XSS_SKU, title=XSS[0] + XSS[1], price=Decimal("10.00"), units=units)


@dataclass
class World:
    """Everything a panel test needs."""

    sandbox: Sandbox
    host: Host
    server: LoopbackServer
    sold: str  # the serial sold on Shopify and reported
    failed: tuple[str, str]  # the failed sale's (channel, order id)
    conflict: tuple[str, str]  # the conflicting order's (channel, order id)

    @property
    def url(self) -> str:
        return self.server.base_url

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=20, follow_redirects=False)


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def login(client: httpx.Client, name: str, password: str = PASSWORD) -> httpx.Response:
    """Log in as a person would: read the form, send it back with its token."""
    page = client.get("/login")
    return client.post(
        "/login",
        data={"name": name, "password": password, "csrf_token": csrf_of(page.text), "next": "/"},
    )


def build_world(
    tmp_path: Path, *, limiter: LoginLimiter | None = None, extra: list[Product] | None = None
) -> Iterator[World]:
    """Start the world (see the module), with ``extra`` products in the POS; stop it after
    the test."""
    catalogue = [
        *demo_catalogue(seed=5, products=2, units_per_product=3),
        xss_product(),
        *(extra or []),
    ]
    with Sandbox(types=["aim_pos", "shopify", "woocommerce"], catalogue=catalogue) as sandbox:
        config = tmp_path / "serialsync.toml"
        config.write_text(sandbox.config_toml(tmp_path / "state.db"))
        # Real sleeps: a throttled Shopify answer is waited out as the bucket refills.
        host = Host.from_settings(load_settings(config))
        try:
            host.inventory_pass()
            shop, woo = sandbox.channel_fakes()["shopify"], sandbox.channel_fakes()["woocommerce"]
            pos = next(iter(sandbox.pos_fakes().values()))
            first, second = catalogue[0].units, catalogue[1].units
            shop.create_order([(first[0].integration_id, 1)], status=FinancialStatus.PAID)
            # Bought twice before a pass: one of the two orders is a conflict.
            woo.create_order([(second[0].integration_id, 1)], status=FinancialStatus.PAID)
            shop.create_order([(second[0].integration_id, 1)], status=FinancialStatus.PAID)
            host.order_pass()
            # The POS refuses the next sale: it fails and waits for a person.
            pos.fail_next("CustomerOrders", "validation")  # type: ignore[attr-defined]
            failing = woo.create_order([(first[1].integration_id, 1)], status=FinancialStatus.PAID)
            host.order_pass()
            host.inventory_pass()
            failed = host.store.get_outbox("woocommerce", failing)
            assert failed is not None and failed.state == OutboxState.FAILED, failed
            (conflict,) = host.store.outbox(states=(OutboxState.CONFLICT,))
            add_user(host.store, OPERATOR, Role.OPERATOR, PASSWORD)
            add_user(host.store, VIEWER, Role.VIEWER, PASSWORD)
            app = create_panel_app(host, limiter=limiter)
            server = LoopbackServer(app, name="panel")
            server.start()
            try:
                yield World(
                    sandbox,
                    host,
                    server,
                    sold=first[0].serial,
                    failed=("woocommerce", failing),
                    conflict=(conflict.channel, conflict.order_id),
                )
            finally:
                server.stop()
        finally:
            host.close()
