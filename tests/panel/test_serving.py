"""How the panel is served: within ``serialsync run`` when ``[panel] listen`` is set, loopback
unless told otherwise, and users added from the CLI."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError
from serialsync.cli import app
from serialsync.host import Host
from serialsync.manager import PluginManager
from serialsync.service import Service
from serialsync.settings import PanelSettings
from serialsync.store import SQLiteStore
from typer.testing import CliRunner


def test_run_serves_the_panel_on_its_own_address(tmp_path: Path) -> None:
    host = Host(
        plugins=PluginManager(load_entrypoints=False),
        store=SQLiteStore.open(tmp_path / "s.db"),
        owns_store=True,
    )
    service = Service(host, panel=PanelSettings(listen="127.0.0.1:0"))
    assert service.enabled
    try:
        with service, httpx.Client(timeout=10) as client:
            assert service.panel_url is not None
            page = client.get(f"{service.panel_url}/login")
            assert page.status_code == 200 and "Log in" in page.text
            assert client.get(f"{service.panel_url}/").status_code == 303
            css = client.get(f"{service.panel_url}/static/panel.css")
            assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        assert service.panel_url is None
    finally:
        host.close()


def test_binding_other_than_loopback_needs_allow_remote() -> None:
    assert PanelSettings(listen="127.0.0.1:8788").listen == "127.0.0.1:8788"
    assert PanelSettings(listen="[::1]:8788").listen == "[::1]:8788"
    with pytest.raises(ValidationError, match="TLS proxy"):
        PanelSettings(listen="0.0.0.0:8788")
    assert PanelSettings(listen="0.0.0.0:8788", allow_remote=True).allow_remote


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "serialsync.toml"
    config.write_text(f'[store]\npath = "{tmp_path / "state.db"}"\n')
    return config


def test_the_panel_command_refuses_a_wide_address_without_the_flag(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["panel", "--listen", "0.0.0.0:0", "--config", str(_config(tmp_path))]
    )
    assert result.exit_code == 2
    assert "not a loopback address" in result.stderr and "--allow-remote" in result.stderr


def test_panel_user_add_asks_for_the_password_and_never_shows_it(tmp_path: Path) -> None:
    config = str(_config(tmp_path))
    secret = "a password nobody sees"
    added = CliRunner().invoke(
        app,
        ["panel", "user", "add", "olive", "--role", "operator", "--config", config],
        input=f"{secret}\n{secret}\n",
    )
    assert added.exit_code == 0, added.output
    assert secret not in added.output
    listed = CliRunner().invoke(app, ["panel", "user", "list", "--config", config])
    assert listed.exit_code == 0 and "olive (operator)" in listed.stdout
    with SQLiteStore.open(tmp_path / "state.db", lock=False) as store:
        user = store.get_panel_user("olive")
        assert user is not None and user.password_hash.startswith("$argon2")
    short = CliRunner().invoke(
        app, ["panel", "user", "add", "vic", "--config", config], input="short\nshort\n"
    )
    assert short.exit_code == 2 and "at least 10" in short.stderr
    bad_role = CliRunner().invoke(
        app, ["panel", "user", "add", "vic", "--role", "admin", "--config", config], input="x\n"
    )
    assert bad_role.exit_code == 2 and "viewer or operator" in bad_role.stderr


def test_panel_user_link_prints_a_one_time_login_kept_only_as_a_hash(tmp_path: Path) -> None:
    from serialsync.panel.users import login_state, token_hash

    config = str(_config(tmp_path))
    unknown = CliRunner().invoke(app, ["panel", "user", "link", "olive", "--config", config])
    assert unknown.exit_code == 2 and "no panel user named 'olive'" in unknown.stderr
    secret = "a password nobody sees"
    CliRunner().invoke(
        app, ["panel", "user", "add", "olive", "--config", config], input=f"{secret}\n{secret}\n"
    )
    linked = CliRunner().invoke(
        app, ["panel", "user", "link", "olive", "--hours", "2", "--config", config]
    )
    assert linked.exit_code == 0, linked.output
    url = linked.stdout.strip()
    prefix = "http://127.0.0.1:8788/login/once/"
    assert url.startswith(prefix) and "\n" not in url
    token = url.removeprefix(prefix)
    with SQLiteStore.open(tmp_path / "state.db", lock=False) as store:
        assert login_state(store, token) == "ready"
        login = store.get_panel_login(token_hash(token))
        assert login is not None and login.name == "olive"
        assert 7150 < (login.expires_at - login.created_at).total_seconds() <= 7200
        # The token itself is nowhere in the database file.
    assert token.encode() not in (tmp_path / "state.db").read_bytes()
