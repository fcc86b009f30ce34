"""``serialsync demo``: the whole story in one command, against the sandbox.

It starts every fake on loopback, writes a configuration pointing at them, lists the POS's
guitars on every channel, places orders (one serial on two channels at once), runs an order pass,
and shows what happened. It leaves the store and the configuration behind, so that
``serialsync status``, ``serialsync serials show`` and the admin panel (``serialsync panel``,
with the login the demo prints) can look at the result afterwards.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

from pydantic import SecretStr
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table
from rich.text import Text

from serialsync.connector import Role as ConnectorRole
from serialsync.engine.summary import PassSummary
from serialsync.host import Host
from serialsync.logging import configure_logging
from serialsync.manager import PluginManager
from serialsync.model import FinancialStatus, SerializedUnit
from serialsync.sandbox.sandbox import Sandbox
from serialsync.settings import PANEL_DEFAULT_LISTEN, WebhookSettings, load_settings
from serialsync.store import OutboxState, SQLiteStore
from serialsync.testing.fake import FakeChannel, RecordedOrder


def run_demo(*, workdir: Path, console: Console) -> int:
    """Run the demo in ``workdir`` (created; a previous demo's state there is replaced)."""
    workdir.mkdir(parents=True, exist_ok=True)
    store_path = workdir / "serialsync.db"
    for stale in workdir.glob("serialsync.db*"):
        stale.unlink()  # the fakes start empty: a previous run's listings would not match
    log_path = workdir / "serialsync.log"
    log_file = log_path.open("w")
    # Every HTTP exchange is logged; the demo keeps that detail in a file and shows tables.
    configure_logging(level="debug", format="json", stream=log_file)
    try:
        return _demo(workdir, store_path, log_path, console)
    finally:
        log_file.close()


def _demo(workdir: Path, store_path: Path, log_path: Path, console: Console) -> int:
    console.rule(
        Text.from_markup("[bold]serialsync demo[/bold] — a music store, one POS, every web shop")
    )
    _say(
        console,
        "Every platform below is a fake served on this machine over real HTTP: "
        "no account anywhere, nothing leaves the machine.\n",
    )
    with Sandbox(types=demo_types(PluginManager())) as sandbox:
        channels = sandbox.channel_fakes()
        pos_name, pos = next(iter(sandbox.pos_fakes().items()))
        _show_endpoints(console, sandbox)
        config = workdir / "serialsync.toml"
        config.write_text(sandbox.config_toml(store_path.resolve()))
        settings = load_settings(config)
        with Host.from_settings(settings) as host:
            units = [u for p in sandbox.catalogue for u in p.units]
            _say(
                console,
                f"[bold]1. Inventory pass.[/bold] The POS ({pos_name}) has "
                f"{len(sandbox.catalogue)} guitar models, {len(units)} serialized units; each unit "
                f"becomes its own variant, SKU [cyan]SKU|||SERIAL[/cyan], on every channel.",
            )
            with _progress(console, host):
                inventory = host.inventory_pass()
            _show_listings(console, inventory, channels)

            _say(console, "\n[bold]2. Shoppers buy.[/bold]")
            placed = _place_orders(console, channels, units)
            _say(console, "\n[bold]3. Order pass.[/bold]")
            with _progress(console, host):
                orders = host.order_pass()
            _show_sales(console, pos.recorded_orders())
            _show_withdrawn(console, channels, placed["sold"])
            _show_conflicts(console, host)
            ok = _expectations_met(host, pos.recorded_orders(), orders, placed)
            _say(console, "\n[bold]4. Webhooks.[/bold]")
            ok = _webhook_sale(console, host, channels, units[1]) and ok
    _say(
        console,
        f"\nThe store is in [cyan]{store_path}[/cyan] and the configuration in "
        f"[cyan]{config}[/cyan]; every request is logged in [cyan]{log_path}[/cyan].\n"
        "Look around:\n"
        f"  serialsync status --config {config}\n"
        f"  serialsync serials show {placed['sold'].serial} --config {config}\n"
        f"  serialsync sales list --config {config}\n"
        f"  serialsync quarantine list --config {config}",
    )
    _panel_login(console, store_path, config)
    if not ok:
        _say(console, "[red]The demo did not end as expected: see the tables above.[/red]")
        return 1
    return 0


#: The name of the panel user each demo makes (with a password nobody is told: the demo's way
#: in is its one-time login link).
DEMO_USER = "demo"


def _panel_login(console: Console, store_path: Path, config: Path) -> None:
    """End with the admin panel: its address and a one-time login link made for this demo
    run (it logs in once, within a day), or how to install it."""
    try:
        from serialsync.panel.users import LOGIN_LINK_PATH, Role, add_user, issue_login
    except ImportError:
        # The words are escaped: "[panel]" would otherwise be read as a markup tag and vanish.
        hint = escape(
            "pip install 'serialsync[panel]' (from a checkout: pip install -e '.[panel]'), "
            f"then serialsync panel user add NAME --role operator --config {config}"
        )
        _say(console, f"\n[bold]The admin panel[/bold] needs its extra: {hint}")
        return
    with SQLiteStore.open(store_path, lock=False) as store:
        # A password drawn and forgotten at once: the link below is the only way in.
        add_user(store, DEMO_USER, Role.OPERATOR, secrets.token_urlsafe(32))
        token = issue_login(store, DEMO_USER)
    _say(
        console,
        f"\n[bold]The admin panel:[/bold] serialsync panel --config {config}\n"
        f"  then open a one-time login for the demo (as {DEMO_USER}, an operator; it works "
        "once, within 24 hours):\n"
        # On a line of its own: a terminal that wraps it still shows it whole to copy.
        f"  [cyan]http://{PANEL_DEFAULT_LISTEN}{LOGIN_LINK_PATH}{token}[/cyan]",
    )


#: How long the demo waits for a webhook's order to be worked (it takes well under a second).
WEBHOOK_WAIT = 30.0


def _webhook_sale(
    console: Console, host: Host, channels: dict[str, FakeChannel], unit: SerializedUnit
) -> bool:
    """Serve webhooks, subscribe every channel, sell one unit, and time its withdrawal."""
    # Imported here: the service serves on the sandbox's loopback server, so importing it at
    # the top would make the two packages import each other.
    from serialsync.service import Service
    from serialsync.service.subscriptions import Action, manage

    listen = WebhookSettings(listen="127.0.0.1:0", secret=SecretStr("serialsync-demo-secret"))
    with Service(host, webhooks=listen) as service:
        webhooks = listen.model_copy(update={"public_url": service.urls[0]})
        subscribed = manage(host.plugins, webhooks, Action.REGISTER)
        following = [r.connector for r in subscribed if r.supported and not r.error]
        _say(
            console,
            f"serialsync now serves [cyan]{service.urls[0]}/webhooks/<connector>[/cyan]; "
            f"subscribed on: {', '.join(following) or 'none'} "
            "(the others stay on polling). No order pass runs from here on.",
        )
        seller = "shopify" if "shopify" in following else (following or [""])[0]
        if seller not in channels:
            return False
        others = [name for name in channels if name != seller]
        started = time.monotonic()
        channels[seller].create_order([(unit.integration_id, 1)], status=FinancialStatus.PAID)
        _say(console, f"  {seller}: a paid order for [cyan]{escape(unit.integration_id)}[/cyan]")
        gone: dict[str, float] = {}
        while len(gone) < len(others) and time.monotonic() - started < WEBHOOK_WAIT:
            for name in others:
                if name not in gone and not _sellable(channels[name], unit):
                    gone[name] = time.monotonic() - started
            time.sleep(0.02)
    table = Table(title="Withdrawn by webhook", title_justify="left")
    table.add_column("channel")
    table.add_column("unsellable after")
    for name in others:
        table.add_row(name, f"{gone[name]:.2f} s" if name in gone else "[red]still for sale[/red]")
    console.print(table)
    return len(gone) == len(others)


def _sellable(fake: FakeChannel, unit: SerializedUnit) -> bool:
    return any(
        listing.sku == unit.integration_id and listing.sellable and listing.stock > 0
        for listing in fake.listings()
    )


def _say(console: Console, markup: str) -> None:
    # The CLI's console leaves markup off (SKUs may hold brackets); the demo's own lines are
    # markup, with every value from the catalogue escaped.
    console.print(Text.from_markup(markup))


def _show_endpoints(console: Console, sandbox: Sandbox) -> None:
    table = Table(title="The sandbox", title_justify="left")
    table.add_column("connector")
    table.add_column("role")
    table.add_column("served at")
    for name, url in sandbox.endpoints().items():
        table.add_row(name, sandbox.connector_types[name].role.value, url)
    console.print(table)


@contextlib.contextmanager
def _progress(console: Console, host: Host) -> Iterator[None]:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        tasks: dict[tuple[str, str], TaskID] = {}

        def report(task: str, connector: str, done: int, total: int | None) -> None:
            key = (task, connector)
            if key not in tasks:
                tasks[key] = progress.add_task(f"{task} {connector}", total=total)
            progress.update(tasks[key], completed=done, total=total)

        host.engine.progress = report
        yield


def _show_listings(
    console: Console, summary: PassSummary, channels: dict[str, FakeChannel]
) -> None:
    table = Table(title="Units listed per channel", title_justify="left")
    for column in ("channel", "created", "failed", "variants live on the platform"):
        table.add_column(column)
    for name, fake in channels.items():
        counts = summary.counts(name)
        live = sum(1 for listing in fake.listings() if listing.stock > 0)
        table.add_row(name, str(counts.created), str(counts.failed), str(live))
    console.print(table)


def _place_orders(
    console: Console, channels: dict[str, FakeChannel], units: list[SerializedUnit]
) -> dict[str, SerializedUnit]:
    names = list(channels)
    first, second = names[0], names[1 % len(names)]
    sold, pending, double = units[0], units[len(units) // 2], units[-1]
    channels[first].create_order([(sold.integration_id, 1)], status=FinancialStatus.PAID)
    _say(console, f"  {first}: a paid order for [cyan]{escape(sold.integration_id)}[/cyan]")
    channels[second].create_order([(pending.integration_id, 1)], status=FinancialStatus.PENDING)
    _say(console, f"  {second}: an unpaid order for [cyan]{escape(pending.integration_id)}[/cyan]")
    for name in (names[-1], first) if len(names) > 1 else (first, first):
        channels[name].create_order([(double.integration_id, 1)], status=FinancialStatus.PAID)
        _say(
            console,
            f"  {name}: a paid order for [cyan]{escape(double.integration_id)}[/cyan] "
            "[yellow](the same guitar, bought twice before any pass ran)[/yellow]",
        )
    return {"sold": sold, "pending": pending, "double": double}


def _show_sales(console: Console, recorded: list[RecordedOrder]) -> None:
    table = Table(title="Sales reported to the POS", title_justify="left")
    table.add_column("order number")
    table.add_column("lines (SKU + serial, reported separately)")
    for order in recorded:
        lines = ", ".join(
            f"{sku} + {serial}" if serial else f"{sku} x{qty}" for sku, serial, qty in order.lines
        )
        table.add_row(order.order_number, lines)
    console.print(table)


def _show_withdrawn(
    console: Console, channels: dict[str, FakeChannel], unit: SerializedUnit
) -> None:
    _say(
        console,
        f"\n[bold]{escape(unit.integration_id)}[/bold] was sold: it is withdrawn everywhere.",
    )
    table = Table()
    table.add_column("channel")
    table.add_column("stock")
    for name, fake in channels.items():
        stocks = [
            listing.stock for listing in fake.listings() if listing.sku == unit.integration_id
        ]
        shown = ", ".join(str(s) for s in stocks) if stocks else "removed"
        table.add_row(name, shown)
    console.print(table)


def _show_conflicts(console: Console, host: Host) -> None:
    conflicts = host.store.outbox(states=(OutboxState.CONFLICT,))
    table = Table(title="Conflicts caught (a person must settle these)", title_justify="left")
    table.add_column("channel")
    table.add_column("order")
    table.add_column("reason")
    for record in conflicts:
        table.add_row(record.channel, record.order_number, record.note or "")
    console.print(table)


def _expectations_met(
    host: Host,
    recorded: list[RecordedOrder],
    summary: PassSummary,
    placed: dict[str, SerializedUnit],
) -> bool:
    reported_serials = {serial for order in recorded for _, serial, _ in order.lines if serial}
    conflicts = host.store.outbox(states=(OutboxState.CONFLICT,))
    return (
        placed["sold"].serial in reported_serials
        and placed["double"].serial in reported_serials
        and placed["pending"].serial not in reported_serials
        and len(conflicts) == 1
        and summary.total("sales_reported") == 2
    )


#: The demo's POS: its story (and its catalogue's fields) are AIM's.
DEMO_POS = "aim_pos"


def demo_types(manager: PluginManager) -> list[str]:
    """The connector types the demo serves: the AIM fake as the POS, whatever other POS plugin
    is installed, and every channel type that has a fake."""
    channels = sorted(
        name
        for name, ctype in manager.connector_types.items()
        if ctype.role == ConnectorRole.CHANNEL and ctype.fake is not None
    )
    return [DEMO_POS, *channels]
