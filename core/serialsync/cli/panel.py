"""``serialsync panel``: serve the admin panel; ``serialsync panel user add``: let a person in.

The panel needs the ``panel`` extra (``pip install 'serialsync[panel]'``). It opens the store
without the runner lock, so it serves beside a running ``serialsync run`` (operator writes take
their turn with the runner's, see :mod:`serialsync.operations.acts`).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from serialsync.cli.runtime import ConfigOption, Runtime, extra_plugins, fail, runtime
from serialsync.service.server import split_listen
from serialsync.settings import PANEL_DEFAULT_LISTEN, is_loopback
from serialsync.store.sql import SQLStore

DeploymentFlag = Annotated[
    bool,
    typer.Option(
        "--deployment",
        help="The panel of every merchant of a deployment on PostgreSQL (its own users, "
        "each seeing the merchants granted to them: serialsync merchants grant).",
    ),
]

app = typer.Typer(
    help="The admin panel: see and settle the state in a browser.",
    invoke_without_command=True,
)
user_app = typer.Typer(help="Who may log in to the panel.", no_args_is_help=True)
app.add_typer(user_app, name="user")


def _missing_extra() -> typer.Exit:
    return fail("the panel needs the panel extra: pip install 'serialsync[panel]'")


@app.callback()
def panel_command(
    ctx: typer.Context,
    listen: Annotated[
        str | None,
        typer.Option(
            "--listen",
            help=f"host:port to serve on (else [panel] listen, else {PANEL_DEFAULT_LISTEN}).",
        ),
    ] = None,
    allow_remote: Annotated[
        bool,
        typer.Option(
            "--allow-remote",
            help="Allow an address other than loopback (put a TLS proxy in front).",
        ),
    ] = False,
    config: ConfigOption = None,
    deployment: DeploymentFlag = False,
) -> None:
    """Serve the admin panel (Ctrl-C stops it). It binds loopback unless --allow-remote."""
    if ctx.invoked_subcommand is not None:
        return
    rt = runtime(ctx)
    if deployment:
        _serve_deployment(rt, config, listen, allow_remote)
        return
    settings = rt.settings(config)
    address = listen or settings.panel.listen or PANEL_DEFAULT_LISTEN
    _check_address(address, allow_remote or settings.panel.allow_remote)
    try:
        import uvicorn

        from serialsync.panel import create_panel_app
    except ImportError:
        raise _missing_extra() from None
    host = rt.operator_host(settings)
    try:
        where, port = split_listen(address)
        panel = create_panel_app(host, session_secret=settings.panel.session_secret)
        if not host.store.panel_users():
            rt.err.print("no panel user yet: add one with `serialsync panel user add NAME`")
        rt.out.print(f"serialsync panel on http://{address}/ (Ctrl-C stops it)")
        uvicorn.run(panel, host=where, port=port, log_level="warning", access_log=False)
    finally:
        host.close()


def _check_address(address: str, allow_remote: bool) -> None:
    if not is_loopback(address) and not allow_remote:
        raise fail(
            f"{address} is not a loopback address: the panel speaks plain HTTP; put a TLS "
            "proxy in front and pass --allow-remote"
        )


def _serve_deployment(
    rt: Runtime, config: Path | None, listen: str | None, allow_remote: bool
) -> None:
    """One panel for every merchant of the deployment, each user seeing their grants."""
    settings = rt.deployment_settings(config)
    address = listen or settings.panel.listen or PANEL_DEFAULT_LISTEN
    _check_address(address, allow_remote or settings.panel.allow_remote)
    try:
        import uvicorn

        from serialsync.panel.deployment import create_deployment_panel_app
    except ImportError:
        raise _missing_extra() from None
    app, close = create_deployment_panel_app(
        settings, plugins=extra_plugins(), session_secret=settings.panel.session_secret
    )
    try:
        where, port = split_listen(address)
        rt.out.print(f"serialsync panel of the deployment on http://{address}/ (Ctrl-C stops it)")
        uvicorn.run(app, host=where, port=port, log_level="warning", access_log=False)
    finally:
        close()


def _users_store(rt: Runtime, config: Path | None, deployment: bool) -> SQLStore:
    if deployment:
        from serialsync.panel.deployment import open_users_store

        return open_users_store(rt.deployment_settings(config))
    return rt.operator_store(rt.settings(config))


@user_app.command("add")
def add_user_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The name the person logs in with.")],
    role: Annotated[
        str, typer.Option("--role", help="viewer (reads) or operator (reads and acts).")
    ] = "viewer",
    config: ConfigOption = None,
    deployment: DeploymentFlag = False,
) -> None:
    """Add a panel user (or set their role and password); asks for the password twice."""
    try:
        from serialsync.panel.users import Role, UserRefusedError, add_user
    except ImportError:
        raise _missing_extra() from None
    if role not in {r.value for r in Role}:
        raise fail(f"--role must be viewer or operator, not {role!r}")
    password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    rt = runtime(ctx)
    store = _users_store(rt, config, deployment)
    try:
        add_user(store, name, Role(role), password)
    except UserRefusedError as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()
    rt.out.print(f"panel user {name!r} ({role}) saved")


@user_app.command("list")
def list_users_command(
    ctx: typer.Context, config: ConfigOption = None, deployment: DeploymentFlag = False
) -> None:
    """The panel's users and their roles (never a password or its hash)."""
    rt = runtime(ctx)
    if deployment:
        with _users_store(rt, config, deployment) as store:
            users = store.panel_users()
    else:
        with rt.read_store(rt.settings(config)) as store:
            users = store.panel_users()
    for user in users:
        rt.out.print(f"{user.name} ({user.role})")
    if not users:
        rt.out.print("no panel users")


@user_app.command("link")
def login_link_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The user the link logs in.")],
    hours: Annotated[
        float, typer.Option("--hours", min=0.01, max=24 * 7, help="How long the link stays good.")
    ] = 24.0,
    config: ConfigOption = None,
    deployment: DeploymentFlag = False,
) -> None:
    """Print a one-time login link for an existing user: it logs them in once, within --hours
    (the demo ends with one; it also lets in a person who lost their password)."""
    try:
        from serialsync.panel.users import LOGIN_LINK_PATH, UserRefusedError, issue_login
    except ImportError:
        raise _missing_extra() from None
    rt = runtime(ctx)
    if deployment:
        address = rt.deployment_settings(config).panel.listen or PANEL_DEFAULT_LISTEN
    else:
        address = rt.settings(config).panel.listen or PANEL_DEFAULT_LISTEN
    store = _users_store(rt, config, deployment)
    try:
        token = issue_login(store, name, lifetime=timedelta(hours=hours))
    except UserRefusedError as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()
    # Printed once, to the person who asked for it; never logged.
    rt.out.print(f"http://{address}{LOGIN_LINK_PATH}{token}", soft_wrap=True)
