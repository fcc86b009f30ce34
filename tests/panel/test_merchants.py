"""A panel per merchant in a deployment of many (issue 18's merchants on PostgreSQL): each
merchant's panel users live in that merchant's own store, so a person added for one merchant
sees only that merchant's panel and cannot log in to another's."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from serialsync.cli import app
from serialsync.cli.runtime import extra_plugins
from serialsync.host import Host
from serialsync.merchants.registry import MerchantRegistry
from serialsync.panel import create_panel_app
from serialsync.panel.users import authenticate
from serialsync.sandbox.server import LoopbackServer
from serialsync.settings import load_settings
from serialsync.store.opening import open_store
from typer.testing import CliRunner

from tests.cli.conftest import SERIALS_A
from tests.merchants.world import deployment, invoke, merchant_file
from tests.panel.world import login

__all__ = ["deployment"]

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery"


def test_a_user_sees_only_the_merchant_they_were_added_to(deployment: Path, tmp_path: Path) -> None:
    for name in ("acme", "bolt"):
        config = merchant_file(tmp_path / name, SERIALS_A)
        assert invoke(deployment, "merchants", "add", name, "--config", str(config)).exit_code == 0
        assert invoke(deployment, "--merchant", name, "run", "--once").exit_code == 0
    added = CliRunner().invoke(
        app,
        ["--config", str(deployment), "--merchant", "acme",
         "panel", "user", "add", "olive", "--role", "operator"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    with MerchantRegistry.open(load_settings(deployment)) as registry:
        stores = {name: registry.settings(name) for name in ("acme", "bolt")}
    with open_store(stores["acme"].store, lock=False) as acme:
        assert authenticate(acme, "olive", PASSWORD) is not None
    with open_store(stores["bolt"].store, lock=False) as bolt:
        assert bolt.panel_users() == [] and authenticate(bolt, "olive", PASSWORD) is None
    # Bolt's panel, served over its own store, does not let Acme's user in.
    host = Host.from_settings(
        stores["bolt"],
        plugins=extra_plugins(),
        store=open_store(stores["bolt"].store, lock=False),
    )
    server = LoopbackServer(create_panel_app(host), name="bolt panel")
    server.start()
    try:
        with httpx.Client(base_url=server.base_url, timeout=20) as client:
            assert login(client, "olive", PASSWORD).status_code == 401
    finally:
        server.stop()
        host.close()
