"""The panel in a real browser: Playwright drives Debian's Chromium (``/usr/bin/chromium``,
installed by ``.ci/run`` when missing) through what an operator does, and what a viewer and a
forged form cannot do. With ``SERIALSYNC_PANEL_SCREENSHOTS=DIR`` each page's screenshot is
also written to DIR (``docs/panel`` holds the committed ones)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from serialsync.lifecycle import UnitStatus
from serialsync.store import ListingState, OutboxState

from tests.panel.world import OPERATOR, PASSWORD, VIEWER, XSS, World

# A walk through every page with a real browser takes about a minute on a loaded machine: more
# than the suite's default per-test limit.
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]

CHROMIUM = Path("/usr/bin/chromium")

if not CHROMIUM.exists():  # pragma: no cover - .ci/run installs it
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import Browser, Dialog, Page, expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        # The container has no user namespaces for Chromium's sandbox; the pages are ours.
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        launched.close()


class Shots:
    """Screenshots of each page, into the test's folder (and $SERIALSYNC_PANEL_SCREENSHOTS)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.also = os.environ.get("SERIALSYNC_PANEL_SCREENSHOTS")
        self.taken: list[Path] = []

    def __call__(self, page: Page, name: str) -> None:
        path = self.folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        self.taken.append(path)
        if self.also:
            Path(self.also).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(self.also) / path.name)


def _refuse_into(dialogs: list[str]) -> Callable[[Dialog], None]:
    """A dialog handler that notes each dialog (an alert would mean a script ran) and
    dismisses it."""

    def handle(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    return handle


def _login(page: Page, url: str, name: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def _confirm(page: Page, reason: str) -> None:
    page.get_by_label("Why").fill(reason)
    page.get_by_role("button", name="Confirm").click()


def test_an_operator_walks_through_the_panel(world: World, browser: Browser, tmp_path: Path):
    shots = Shots(tmp_path)
    store = world.host.store
    unit = next(
        r.unit
        for r in store.all_units()
        if r.status == UnitStatus.IN_STOCK and r.unit.sku != "XSS-1"
    )
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", _refuse_into(dialogs))

    page.goto(world.url)
    expect(page).to_have_url(re.compile(r"/login"))
    shots(page, "login")
    _login(page, world.url, OPERATOR)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.locator(".card", has_text="sales failed")).to_contain_text("1")
    shots(page, "dashboard")

    # Find the unit by three characters of its serial, and open it.
    page.get_by_role("link", name="Serials", exact=True).click()
    page.get_by_label("Search serial or SKU").fill(unit.serial[-3:])
    page.get_by_role("button", name="Search").click()
    shots(page, "serials")
    page.get_by_role("link", name=unit.integration_id).click()
    expect(page.get_by_role("heading", name=unit.integration_id)).to_be_visible()
    history = page.locator("table.history")
    expect(history).to_contain_text("first seen in the POS")
    # From in stock the lifecycle offers Mark as Sold and Reserve, not Mark as Defective.
    expect(page.get_by_role("link", name="Mark as Defective")).to_have_count(0)
    page.get_by_role("link", name="Mark as Sold").click()
    expect(page.locator(".what")).to_contain_text("moves from in_stock to sold")
    shots(page, "confirm")
    _confirm(page, "sold at the counter, cash")
    expect(page.locator(".notice")).to_contain_text("in_stock -> sold")
    page.get_by_role("link", name="Mark as Defective").click()
    _confirm(page, "the neck is cracked")
    expect(page.locator(".notice")).to_contain_text("sold -> defective")
    expect(history).to_contain_text("Mark as Defective: the neck is cracked")
    expect(history).to_contain_text(f"operator {OPERATOR}")

    # The next pass withdraws it from every channel, on the platforms themselves.
    world.host.inventory_pass()
    listings = store.listings_of_unit(unit.serial)
    assert listings and all(li.state == ListingState.WITHDRAWN for li in listings)
    for name, fake in world.sandbox.channel_fakes().items():
        sellable = [li for li in fake.listings() if li.sku == unit.integration_id and li.stock > 0]
        assert sellable == [], name
    page.reload()
    expect(page.locator("td", has_text="withdrawn")).to_have_count(len(listings))
    shots(page, "unit")

    # Retry the failed sale.
    channel, order_id = world.failed
    page.get_by_role("link", name="Sales", exact=True).click()
    row = page.locator("tr", has_text=f"({order_id})").filter(has_text=channel)
    expect(row).to_contain_text("failed")
    shots(page, "sales")
    row.get_by_role("link", name="Retry").click()
    _confirm(page, "the POS is back")
    expect(page.locator(".notice")).to_contain_text("will be reported in the next pass")
    world.host.order_pass()
    sale = store.get_outbox(channel, order_id)
    assert sale is not None and sale.state == OutboxState.REPORTED

    # Settle the conflict, its competing order beside it.
    page.get_by_role("link", name="Conflicts", exact=True).click()
    expect(page.locator(".conflict")).to_have_count(1)
    expect(page.locator(".conflict")).to_contain_text("Holding its units")
    shots(page, "conflicts")
    page.get_by_role("link", name=re.compile("Settle")).click()
    _confirm(page, "refunded the second buyer")
    expect(page.get_by_text("No conflicts.")).to_be_visible()

    page.get_by_role("link", name="Quarantine", exact=True).click()
    shots(page, "quarantine")
    page.get_by_role("link", name="Runs", exact=True).click()
    expect(page.locator("body")).to_contain_text("Settle conflict")
    shots(page, "runs")

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto(f"{world.url}/sales")
    expect(page).to_have_url(re.compile(r"/login"))
    assert dialogs == []
    context.close()
    assert len(shots.taken) == 9


def test_a_viewer_is_refused_and_a_form_without_csrf_is_refused(world: World, browser: Browser):
    channel, order_id = world.failed
    viewer = browser.new_context()
    page = viewer.new_page()
    _login(page, world.url, VIEWER)
    page.goto(f"{world.url}/sales")
    expect(page.get_by_role("link", name="Retry")).to_have_count(0)
    answer = page.goto(f"{world.url}/act/retry-sale?channel={channel}&order_id={order_id}")
    assert answer is not None and answer.status == 403
    expect(page.get_by_role("alert")).to_contain_text("only operators act")
    viewer.close()

    operator = browser.new_context()
    page = operator.new_page()
    _login(page, world.url, OPERATOR)
    # The operator's own browser, its session cookie, but a form without the token.
    forged = operator.request.post(
        f"{world.url}/act/retry-sale",
        form={"channel": channel, "order_id": order_id, "reason": "forged"},
    )
    assert forged.status == 403
    operator.close()
    sale = world.host.store.get_outbox(channel, order_id)
    assert sale is not None and sale.state == OutboxState.FAILED


def test_the_xss_corpus_renders_as_text(world: World, browser: Browser):
    context = browser.new_context()
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", _refuse_into(dialogs))
    _login(page, world.url, VIEWER)
    page.goto(f"{world.url}/unit?serial=XSS%3Cb%3E0002")
    expect(page.locator("h1")).to_have_text("XSS-1|||XSS<b>0002")
    expect(page.locator("tr", has_text="finish").locator("td")).to_have_text(XSS[0])
    expect(page.locator("tr", has_text="note").locator("td")).to_have_text(XSS[1])
    expect(page.locator("h1")).to_have_count(1)  # the location's </table><h1> stayed text
    assert page.locator("img[src=x]").count() == 0
    assert page.locator("a[href^='javascript:']").count() == 0
    page.goto(f"{world.url}/serials?q=xss")
    expect(page.locator("td.id")).to_have_count(2)
    assert page.locator("b").count() == 0
    assert dialogs == []
    context.close()


def test_a_one_time_login_link_logs_in_once(world: World, browser: Browser, tmp_path: Path):
    from datetime import timedelta

    from serialsync.panel.users import LOGIN_LINK_PATH, issue_login

    store = world.host.store
    token = issue_login(store, OPERATOR)
    link = f"{world.url}{LOGIN_LINK_PATH}{token}"
    first = browser.new_context()
    page = first.new_page()
    page.goto(link)
    page.goto(link)  # opening it (a preview, a prefetch) spends nothing
    button = page.get_by_role("button", name="Log in with this link")
    expect(button).to_be_visible()
    Shots(tmp_path)(page, "once")
    button.click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.locator(".who")).to_have_text(f"{OPERATOR} (operator)")
    first.close()

    # The second use, from another browser, is refused with a page that says why.
    second = browser.new_context()
    page = second.new_page()
    answer = page.goto(link)
    assert answer is not None and answer.status == 410
    expect(page.get_by_role("alert")).to_have_text(
        "This one-time login was used already: it works once."
    )
    expect(page.get_by_role("button", name="Log in with this link")).to_have_count(0)
    page.goto(f"{world.url}/")
    expect(page).to_have_url(re.compile(r"/login"))
    # A form of the link kept from before its use is refused too, and logs nobody in.
    third = browser.new_context()
    other = third.new_page()
    fresh = issue_login(store, VIEWER)
    other.goto(f"{world.url}{LOGIN_LINK_PATH}{fresh}")
    page.goto(f"{world.url}{LOGIN_LINK_PATH}{fresh}")
    page.get_by_role("button", name="Log in with this link").click()
    expect(page.locator(".who")).to_have_text(f"{VIEWER} (viewer)")
    other.get_by_role("button", name="Log in with this link").click()
    expect(other.get_by_role("alert")).to_contain_text("used already")
    other.goto(f"{world.url}/")
    expect(other).to_have_url(re.compile(r"/login"))
    third.close()
    second.close()

    # An expired link and a made-up one are refused, each saying so.
    expired = issue_login(store, OPERATOR, lifetime=timedelta(seconds=-1))
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{world.url}{LOGIN_LINK_PATH}{expired}")
    expect(page.get_by_role("alert")).to_have_text("This one-time login has expired.")
    answer = page.goto(f"{world.url}{LOGIN_LINK_PATH}{token}x")
    assert answer is not None and answer.status == 410
    expect(page.get_by_role("alert")).to_contain_text("not a login link of this panel")
    context.close()
