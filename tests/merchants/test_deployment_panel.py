"""One panel for a deployment's merchants (issue 19, many merchants): its users see only the
merchants granted to them, on a real PostgreSQL server, through the real app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serialsync.cli.runtime import extra_plugins
from serialsync.panel.deployment import (
    GRANT_TTL,
    create_deployment_panel_app,
    open_users_store,
)
from serialsync.panel.users import Role, add_user
from serialsync.sandbox.server import LoopbackServer
from serialsync.settings import load_settings

from tests.merchants.world import invoke, merchant_file
from tests.panel.world import csrf_of, login

PASSWORD = "a-long-enough-password"
#: The panel's grant cache reads this clock (a test moves it on).
CLOCK = [0.0]


@pytest.fixture
def served(deployment: Path, tmp_path: Path) -> Iterator[httpx.Client]:
    for name, serials in (("acme", ("ACME1", "ACME2")), ("bolt", ("BOLT1",))):
        config = merchant_file(tmp_path / name, serials)
        assert invoke(deployment, "merchants", "add", name, "--config", str(config)).exit_code == 0
        assert invoke(deployment, "--merchant", name, "run", "--once").exit_code == 0
    settings = load_settings(deployment)
    with open_users_store(settings) as users:
        add_user(users, "ann", Role.OPERATOR, PASSWORD)
        add_user(users, "vic", Role.VIEWER, PASSWORD)
    assert invoke(deployment, "merchants", "grant", "ann", "acme").exit_code == 0
    app, close = create_deployment_panel_app(
        settings, plugins=extra_plugins(), clock=lambda: CLOCK[0]
    )
    server = LoopbackServer(app, name="deployment panel")
    server.start()
    try:
        with httpx.Client(base_url=server.base_url, follow_redirects=False, timeout=30) as client:
            yield client
    finally:
        server.stop()
        close()


def _choose(client: httpx.Client, merchant: str) -> int:
    page = client.get("/merchants")
    answer = client.post(
        "/merchants", data={"merchant": merchant, "csrf_token": csrf_of(page.text)}
    )
    return answer.status_code


def test_a_user_sees_and_opens_only_the_merchants_granted_to_them(
    served: httpx.Client, deployment: Path
) -> None:
    assert login(served, "ann", PASSWORD).status_code == 303
    # No page of a merchant before one is chosen.
    assert served.get("/serials").headers["location"] == "/merchants"
    listed = served.get("/merchants").text
    assert "acme" in listed and "bolt" not in listed
    assert _choose(served, "bolt") == 403  # not granted: refused, whatever the form says
    assert _choose(served, "acme") == 303
    serials = served.get("/serials").text
    assert "ACME1" in serials and "ACME2" in serials and "BOLT1" not in serials

    # A grant taken back counts once the grants read last are older than GRANT_TTL: until
    # then the page is still served (the register is not asked on every request).
    assert invoke(deployment, "merchants", "revoke", "ann", "acme").exit_code == 0
    assert served.get("/serials").status_code == 200
    CLOCK[0] += GRANT_TTL - 0.5
    assert served.get("/serials").status_code == 200
    CLOCK[0] += 1.0
    assert served.get("/serials").headers["location"] == "/merchants"
    assert "acme" not in served.get("/merchants").text.split("<main>")[1]


def test_a_user_without_grants_sees_no_merchant_and_a_merchants_own_users_cannot_log_in(
    served: httpx.Client, deployment: Path
) -> None:
    assert login(served, "vic", PASSWORD).status_code == 303
    page = served.get("/merchants").text
    assert "No merchant is granted to you" in page
    assert _choose(served, "acme") == 403
    served.cookies.clear()
    # A user of one merchant's own panel is not a user of the deployment's.
    settings = load_settings(deployment)
    from serialsync.merchants import MerchantRegistry
    from serialsync.store.opening import open_store

    with MerchantRegistry.open(settings) as registry:
        acme = registry.settings("acme")
    with open_store(acme.store, lock=False) as store:
        add_user(store, "local", Role.OPERATOR, PASSWORD)
    assert login(served, "local", PASSWORD).status_code == 401
