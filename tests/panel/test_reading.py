"""The panel's pages over real HTTP: who gets in, what each page shows, and that every value
from the POS or a channel renders as text."""

from __future__ import annotations

import html
import re
from urllib.parse import quote

import pytest

from tests.panel.world import OPERATOR, PASSWORD, VIEWER, XSS, XSS_SERIALS, World, login

pytestmark = pytest.mark.e2e

PAGES = ("/", "/serials", "/sales", "/conflicts", "/quarantine", "/runs")


def test_every_page_asks_for_a_login_first(shared_world: World) -> None:
    with shared_world.client() as client:
        for page in (*PAGES, "/unit?serial=x", "/charts/oversell.svg"):
            answer = client.get(page)
            assert answer.status_code == 303, page
            assert answer.headers["location"].startswith("/login"), page


def test_a_login_sets_a_signed_httponly_samesite_cookie_and_no_secret_is_rendered(
    shared_world: World,
) -> None:
    with shared_world.client() as client:
        answer = login(client, VIEWER)
        assert answer.status_code == 303
        cookie = answer.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        for page in PAGES:
            text = client.get(page).text
            assert PASSWORD not in text
            assert "argon2" not in text  # no hash either
        # A cookie altered by hand is not a session.
        forged = client.cookies["serialsync_panel"]
        client.cookies.clear()
        client.cookies.set("serialsync_panel", forged[:-3] + "AAA")
        assert client.get("/").status_code == 303


def test_a_wrong_password_is_refused(shared_world: World) -> None:
    with shared_world.client() as client:
        assert login(client, OPERATOR, "not the password").status_code == 401
        assert login(client, "nobody", PASSWORD).status_code == 401
        assert client.get("/").status_code == 303


def test_a_login_form_without_its_csrf_token_is_refused(shared_world: World) -> None:
    with shared_world.client() as client:
        answer = client.post("/login", data={"name": OPERATOR, "password": PASSWORD})
        assert answer.status_code == 403
        assert client.get("/").status_code == 303


def test_the_dashboard_counts_what_needs_a_person(shared_world: World) -> None:
    with shared_world.client() as client:
        login(client, VIEWER)
        page = client.get("/").text
    assert re.search(r"<b>1</b> sales failed", page)
    assert re.search(r"<b>1</b> conflicts", page)
    for connector in ("aim_pos", "shopify", "woocommerce"):
        assert f"<td>{connector}</td>" in page
    assert 'src="/charts/pass-durations.svg"' in page and 'src="/charts/oversell.svg"' in page


def test_the_dashboard_shows_each_connectors_requests_in_its_last_pass(
    shared_world: World,
) -> None:
    runs = shared_world.host.store.runs(limit=100)
    with shared_world.client() as client:
        login(client, VIEWER)
        page = client.get("/").text
        chart = client.get("/charts/requests.svg").text
        runs_page = client.get("/runs").text
    sent: list[int] = []
    for connector in ("aim_pos", "shopify", "woocommerce"):
        last = next(
            r for r in runs if r.kind == "inventory" and connector in r.summary["connectors"]
        )
        http = last.summary["connectors"][connector]["http"]
        sent.append(http["requests"])
        row = re.search(rf"<tr>\s*<td>{connector}</td><td>inventory</td>.*?</tr>", page, re.S)
        assert row, connector
        cells = re.findall(r'<td class="num[^"]*">([^<]*)</td>', row.group(0))
        assert cells[:4] == [str(http[k]) for k in ("requests", "throttled", "retries", "errors")]
        assert f"requests {http['requests']}, throttled {http['throttled']}" in runs_page
        assert f">{connector}<" in chart
    assert any(sent) and "throttled (all)" in chart


def test_charts_are_svg_drawn_on_the_server_with_no_script(shared_world: World) -> None:
    with shared_world.client() as client:
        login(client, VIEWER)
        for name in ("pass-durations", "requests", "oversell"):
            answer = client.get(f"/charts/{name}.svg")
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith("image/svg+xml")
            assert answer.text.startswith("<svg")
            assert "<script" not in answer.text
        # The oversell chart has a point for the sale reported on Shopify.
        assert "sold on shopify" in client.get("/charts/oversell.svg").text


def test_the_dashboard_gives_the_oversell_windows_p50_p99_and_max(shared_world: World) -> None:
    windows = shared_world.host.store.sale_windows()
    closed = sorted(w.seconds for w in windows if w.seconds is not None)
    assert closed  # the world sold units that other channels listed
    with shared_world.client() as client:
        login(client, VIEWER)
        page = client.get("/").text
    shown = re.search(
        r"<b>p50 ([\d.]+) s</b>, <b>p99 ([\d.]+) s</b>, <b>max ([\d.]+) s</b> \((\d+) units\)",
        page,
    )
    assert shown, page
    p50, p99, top, count = shown.groups()
    assert int(count) == len(closed)
    assert float(top) == round(closed[-1], 2) and float(p99) == round(closed[-1], 2)
    assert float(p50) == round(closed[(len(closed) + 1) // 2 - 1], 2)


def test_serials_search_needs_three_characters_and_finds_by_serial_or_sku(
    shared_world: World,
) -> None:
    serial = shared_world.sold
    with shared_world.client() as client:
        login(client, VIEWER)
        everything = client.get("/serials").text
        short = client.get("/serials", params={"q": serial[:2]}).text
        found = client.get("/serials", params={"q": serial[-5:].lower()}).text
    rows = re.compile(r'<td class="id">')
    assert "at least 3 characters" in short
    assert len(rows.findall(short)) == len(rows.findall(everything))
    assert len(rows.findall(found)) == 1 and serial in found


def test_status_tabs_count_and_filter(shared_world: World) -> None:
    with shared_world.client() as client:
        login(client, VIEWER)
        sold = client.get("/serials", params={"status": "sold"}).text
    n = shared_world.host.store.counts("units", "status")["sold"]
    assert n == 3  # the sale reported, the one that failed, and the one sold twice
    assert re.search(f'class="active" aria-current="page">Sold <span class="n">{n}</span>', sold)
    assert sold.count('<span class="status sold">') == n
    assert '<span class="status in_stock">' not in sold


def test_paging_is_keyed_and_stable_when_units_are_added(
    shared_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Walking Next page by page sees every unit once, even when units arrive meanwhile that
    sort before the page being read; Previous comes back to the same page."""
    from serialsync.lifecycle import UnitStatus
    from serialsync.model import SerializedUnit
    from serialsync.panel.views import serials

    monkeypatch.setattr(serials, "PAGE_SIZE", 3)
    store = shared_world.host.store
    everyone = [r.unit.integration_id for r in store.all_units()]
    seen: list[list[str]] = []
    added = []
    with shared_world.client() as client:
        login(client, VIEWER)
        url: str | None = "/serials"
        while url:
            page = client.get(url).text
            seen.append(re.findall(r'<td class="id"><a [^>]+>([^<]+)</a>', page))
            nxt = re.search(r'<a rel="next" href="([^"]+)"', page)
            url = html.unescape(nxt.group(1)) if nxt else None
            if len(seen) == 1:
                prev_of_second = None
            if len(seen) == 2:
                back = re.search(r'<a rel="prev" href="([^"]+)"', page)
                assert back
                prev_of_second = html.unescape(back.group(1))
            # A new unit, sorting first, after each page read.
            serial = f"AAA{len(seen):03d}"
            with store.transaction():
                store.put_unit(
                    SerializedUnit(sku="000-NEW", serial=serial), status=UnitStatus.IN_STOCK
                )
            added.append(serial)
        assert prev_of_second is not None
        again = re.findall(r'<td class="id"><a [^>]+>([^<]+)</a>', client.get(prev_of_second).text)
    try:
        walked = [html.unescape(i) for page in seen for i in page]
        assert walked == everyone  # each once, in order, none of the newcomers shifting a page
        assert all(len(page) == 3 for page in seen[:-1])
        assert [html.unescape(i) for i in again][-1] == walked[2]
    finally:
        with store.transaction():
            for serial in added:
                store._exec("DELETE FROM units WHERE serial = ?", (serial,))  # type: ignore[attr-defined]


def test_a_serials_page_shows_its_history_listings_orders_and_allowed_actions(
    shared_world: World,
) -> None:
    with shared_world.client() as client:
        login(client, OPERATOR)
        page = client.get("/unit", params={"serial": shared_world.sold}).text
    assert "first seen in the POS" in page
    assert "<td>in_stock</td><td>sold</td>" in page
    # Each channel's cell links to the platform's admin page of the variant (admin_url).
    shop = re.search(
        r'<a href="https://([a-z0-9-]+\.myshopify\.com)/admin/products/(\d+)/variants/(\d+)" '
        r'rel="noopener noreferrer">shopify</a></td><td>withdrawn</td>',
        page,
    )
    woo = re.search(
        r'<a href="(http[^"]+)/wp-admin/post\.php\?post=(\d+)&amp;action=edit" '
        r'rel="noopener noreferrer">woocommerce</a></td><td>withdrawn</td>',
        page,
    )
    assert shop and woo, page
    listings = {li.connector: li.remote for li in shared_world.host.store.listings_of_unit(
        shared_world.sold
    )}  # fmt: skip
    shop_ids, woo_ids = listings["shopify"], listings["woocommerce"]
    assert shop_ids is not None and woo_ids is not None
    assert shop_ids.product_id and shop_ids.product_id.endswith("/" + shop.group(2))
    assert shop_ids.variant_id and shop_ids.variant_id.endswith("/" + shop.group(3))
    assert woo.group(2) == woo_ids.product_id
    # From sold the table allows exactly: Mark as Returned, Mark as Defective.
    offered = re.findall(r'href="/act/mark\?[^"]*action=([a-z-]+)"', page)
    assert sorted(offered) == ["defective", "returned"]


def test_a_viewer_is_offered_no_action(shared_world: World) -> None:
    with shared_world.client() as client:
        login(client, VIEWER)
        page = client.get("/unit", params={"serial": shared_world.sold}).text
        sales = client.get("/sales").text
    assert "/act/" not in page and "/act/" not in sales


def test_every_value_from_the_pos_renders_as_text(shared_world: World) -> None:
    pages = []
    with shared_world.client() as client:
        login(client, VIEWER)
        for serial in XSS_SERIALS:
            pages.append(client.get("/unit", params={"serial": serial}).text)
        pages.append(client.get("/serials", params={"q": "xss"}).text)
        pages.append(client.get("/quarantine").text)
    for page in pages:
        assert "<script>" not in page.split("</head>")[1]
        assert "<img src=x" not in page and "<h1>broken" not in page
        assert 'href="javascript:' not in page
        assert "\x1b" not in page and "\x00" not in page and "\x07" not in page
    unit_page = pages[1]
    assert html.escape(XSS[0], quote=True).replace("&quot;", "&#34;") in unit_page
    assert "ESC\\x1b[31mred NUL\\x00 BEL\\x07" in unit_page
    assert quote("XSS<b>0002") in pages[2]


def test_the_quarantine_shows_the_bad_input_corpus_as_text(tmp_path) -> None:
    """The reliability suite's bad serials (control characters, spaces, an empty one) are
    quarantined by a pass and shown escaped, each with its reason."""
    from decimal import Decimal

    from serialsync.model import Product, SerializedUnit

    from tests.reliability.test_pos_data import BAD_SERIALS

    bad = Product(
        sku="MESSY-1",
        title="Messy",
        price=Decimal("5"),
        units=tuple(SerializedUnit(sku="MESSY-1", serial=s) for s in BAD_SERIALS),
    )
    from tests.panel.world import build_world

    for world in build_world(tmp_path, extra=[bad]):
        with world.client() as client:
            login(client, VIEWER)
            page = client.get("/quarantine").text
        for serial, words in BAD_SERIALS.items():
            assert html.escape(words) in page, serial
        assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", page)


def test_admin_urls_only_from_numeric_ids(shared_world: World) -> None:
    """A plugin builds an admin address from ids it gave, never from text it cannot vouch for;
    the host hands back only web addresses."""
    from serialsync.model import RemoteIds

    plugins = shared_world.host.plugins
    url = plugins.admin_url("shopify", RemoteIds(product_id="gid://shopify/Product/7"))
    assert url and re.fullmatch(r"https://[a-z0-9-]+\.myshopify\.com/admin/products/7", url)
    for bad in ("gid://shopify/Product/7?x=<b>", "javascript:alert(1)", ""):
        assert plugins.admin_url("shopify", RemoteIds(product_id=bad)) is None
        assert plugins.admin_url("woocommerce", RemoteIds(product_id=bad)) is None
    assert plugins.admin_url("aim_pos", RemoteIds(product_id="7")) is None  # a POS has none


def test_pages_load_nothing_from_elsewhere_and_run_no_inline_script(shared_world: World) -> None:
    """Every script or style is the package's own: the policy says so to the browser, and no
    page names anything of another site (the charts are images of this site)."""
    with shared_world.client() as client:
        login(client, VIEWER)
        for path in (*PAGES, "/login", f"/unit?serial={shared_world.sold}"):
            answer = client.get(path)
            assert answer.status_code == 200, path
            policy = dict(
                part.strip().split(" ", 1)
                for part in answer.headers["content-security-policy"].split(";")
            )
            assert policy["default-src"] == "'self'"
            assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
            assert policy["frame-ancestors"] == "'none'"
            assert answer.headers["x-content-type-options"] == "nosniff"
            sources = re.findall(
                r'<(?:script|link|img)\b[^>]*\b(?:src|href)="([^"]*)"', answer.text
            )
            assert sources and all(s.startswith("/") and not s.startswith("//") for s in sources)
            assert "<script" not in answer.text and " style=" not in answer.text


def test_the_quarantine_shows_no_shoppers_name_or_email(shared_world: World) -> None:
    """A conflict stored by a pass, and an order stored before orders were kept without their
    shopper: the page shows neither's name nor email, and still the order's id."""
    store = shared_world.host.store
    legacy = '{"order_id": "LEGACY-7", "customer_name": "Jane Doe", "customer_email": "j@x.io"}'
    with store.transaction():
        store.quarantine(
            kind="order_line",
            key="shopify:LEGACY-7",
            connector="shopify",
            reason="old",
            payload=legacy,
        )
    (held,) = [q for q in store.quarantined(kind="order_line") if q.key == "shopify:LEGACY-7"]
    try:
        with shared_world.client() as client:
            login(client, VIEWER)
            page = html.unescape(client.get("/quarantine").text)
    finally:
        with store.transaction():
            store.drop_quarantined(held.id)
    assert "LEGACY-7" in page and "Jane Doe" not in page and "j@x.io" not in page
    assert shared_world.conflict[1] in page
    for email in ("shopper@example.com", "ada@example.com"):  # the fakes' shoppers
        assert email not in page
