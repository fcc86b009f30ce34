"""``serialsync store version`` and ``serialsync store migrate``: the state store's schema.

A runner brings its store up to date by itself when it opens it; these commands let an operator
see where a store stands and upgrade it as a step of its own (before starting new workers on a
shared PostgreSQL store, say). ``version`` writes nothing; ``migrate`` takes the runner lock, so
it waits for no runner: it is refused (exit 3) while one runs.
"""

from __future__ import annotations

import typer

from serialsync.cli.runtime import ConfigOption, JsonOption, runtime
from serialsync.store.opening import open_store
from serialsync.store.schema import LATEST_VERSION

app = typer.Typer(help="The state store's schema: its version, and upgrading it.")


@app.command("version")
def version_command(
    ctx: typer.Context, config: ConfigOption = None, json_out: JsonOption = False
) -> None:
    """The store's schema version and the one this serialsync writes (nothing is changed)."""
    rt = runtime(ctx)
    settings = rt.settings(config)
    with open_store(settings.store, lock=False, read_only=True, migrate=False) as store:
        stored = store.stored_version
        where = store.location
    data = {"store": where, "version": stored, "latest": LATEST_VERSION}
    if json_out:
        rt.print_json(data)
        return
    if stored is None:
        rt.out.print(f"{where}: no store yet (this serialsync writes version {LATEST_VERSION})")
    elif stored < LATEST_VERSION:
        rt.out.print(
            f"{where}: schema version {stored}, this serialsync writes {LATEST_VERSION} "
            "(`serialsync store migrate` upgrades it)"
        )
    else:
        rt.out.print(f"{where}: schema version {stored} (up to date)")


@app.command("migrate")
def migrate_command(
    ctx: typer.Context, config: ConfigOption = None, json_out: JsonOption = False
) -> None:
    """Upgrade the store to this serialsync's schema, keeping every row (one transaction)."""
    rt = runtime(ctx)
    settings = rt.settings(config)
    with open_store(settings.store, lock=False, read_only=True, migrate=False) as store:
        before = store.stored_version
    with open_store(settings.store) as store:
        after = store.schema_version
        where = store.location
    data = {"store": where, "from": before, "to": after}
    if json_out:
        rt.print_json(data)
        return
    if before is None:
        rt.out.print(f"{where}: created at schema version {after}")  # a new database
    elif before == after:
        rt.out.print(f"{where}: schema version {after} already, nothing to do")
    else:
        rt.out.print(f"{where}: migrated from schema version {before} to {after}")
