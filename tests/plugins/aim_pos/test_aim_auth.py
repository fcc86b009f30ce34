"""Discovery, login, token renewal, and auth failures of the AIM client."""

from __future__ import annotations

import json

import httpx
import pytest
import respx
import structlog
from serialsync import AuthenticationError, ConnectorContext
from serialsync_aim_pos import AimConnector, AimSettings, FakeAim
from serialsync_aim_pos.client import store_root

DISCOVERY = "https://active-ewebservice.biz/aeservices30"


def test_discovery_then_login_then_call_with_all_headers(fake, helpers):
    fake.add_product(helpers.product("SKU1", "S1"))
    seen: list[httpx.Request] = []

    def spy(request):
        seen.append(request)
        return fake(request)

    settings = AimSettings.model_validate(fake.connector_settings(DISCOVERY))
    connector = AimConnector(
        settings, ConnectorContext(name="aim", transport=httpx.MockTransport(spy))
    )

    connector.check_connection()

    ops = [r.url.path.rsplit("/", 1)[-1] for r in seen]
    assert ops == ["GetEndPoint", "Security", "SearchInventory"]
    discovery, login, search = seen
    assert discovery.headers["ApiKey"] == FakeAim.API_KEY
    assert discovery.headers["AppId"] == FakeAim.APP_ID
    assert "Token" not in discovery.headers
    assert login.headers["OAuthToken"]
    # The password travels in the body, never in the URL.
    assert FakeAim.PASSWORD not in str(login.url)
    assert FakeAim.PASSWORD in login.content.decode()
    for name in ("ApiKey", "AppId", "OAuthToken", "Token", "DeviceId"):
        assert search.headers.get(name), name
    # Later calls carry the OAuthToken that Security returned, not discovery's (which the fake,
    # like AIM, accepts for Security alone).
    assert search.headers["OAuthToken"] != login.headers["OAuthToken"]
    assert search.headers["OAuthToken"] in fake.issued_tokens
    sent = json.loads(login.content)
    assert set(sent) == {"Username", "Password", "DeviceId", "AppId"}


def test_optional_login_fields_are_sent_when_configured(clock, helpers):
    fake = FakeAim(clock=clock, acct="ACME-2")
    fake.add_product(helpers.product("SKU1", "S1"))
    options = fake.connector_settings(DISCOVERY)
    refused = AimConnector(
        AimSettings.model_validate(options),
        ConnectorContext(name="aim", transport=httpx.MockTransport(fake)),
    )
    with pytest.raises(AuthenticationError):
        refused.check_connection()
    connector = AimConnector(
        AimSettings.model_validate({**options, "acct": "ACME-2", "device_name": "Web sync"}),
        ConnectorContext(name="aim", transport=httpx.MockTransport(fake)),
    )
    connector.check_connection()
    assert fake.last_login["Acct"] == "ACME-2"
    assert fake.last_login["DeviceName"] == "Web sync"


def test_a_secured_call_with_the_discovery_oauth_token_is_refused(fake, helpers):
    fake.add_product(helpers.product("SKU1", "S1"))
    client = httpx.Client(transport=httpx.MockTransport(fake))
    base = {"ApiKey": FakeAim.API_KEY, "AppId": FakeAim.APP_ID, "DeviceId": "d"}
    found = client.get(f"{DISCOVERY}/api/GetEndPoint", headers=base).json()
    login = client.post(
        f"{DISCOVERY}/api/Security",
        headers={**base, "OAuthToken": found["OAuthToken"]},
        json={
            "Username": FakeAim.USERNAME,
            "Password": FakeAim.PASSWORD,
            "AppId": "a",
            "DeviceId": "d",
        },
    ).json()
    assert login["Status"]["StatusCode"] == "Ok"
    assert login["UserDetails"]["Location"] == fake.login_location
    search = f"{DISCOVERY}/api/SearchInventory"
    stale = client.post(
        search,
        headers={**base, "OAuthToken": found["OAuthToken"], "Token": login["Token"]},
        json={},
    )
    assert stale.json()["Status"]["StatusCode"] == "Failed"
    fresh = client.post(
        search,
        headers={**base, "OAuthToken": login["OAuthToken"], "Token": login["Token"]},
        json={},
    )
    assert fresh.json()["Status"]["StatusCode"] == "Ok"


def test_calls_move_to_the_store_host_that_discovery_names(clock, helpers):
    fake = FakeAim(clock=clock, store_domain="https://store42.example.com:7500/aeservices30")
    fake.add_product(helpers.product("SKU1", "S1"))
    settings = AimSettings.model_validate(fake.connector_settings(DISCOVERY))
    with respx.mock(assert_all_called=True) as mock:
        discovery = mock.route(host="active-ewebservice.biz").mock(side_effect=fake)
        store = mock.route(host="store42.example.com", port=7500).mock(side_effect=fake)
        connector = AimConnector(settings, ConnectorContext(name="aim"))
        text = connector.check_connection()
    assert discovery.call_count == 1
    assert store.call_count == 2  # Security + SearchInventory
    assert "1 serialized items" in text


@pytest.mark.parametrize(
    ("domain", "root"),
    [
        ("store.example.com", "https://store.example.com/api"),
        (
            "https://store.example.com:7500/aeServices30/",
            "https://store.example.com:7500/aeServices30/api",
        ),
        ("http://127.0.0.1:8123/api", "http://127.0.0.1:8123/api"),
    ],
)
def test_store_root_accepts_bare_hosts_and_urls(domain, root):
    assert store_root(domain) == root


def test_expired_token_is_renewed_once_and_the_call_succeeds(fake, connector, helpers):
    fake.add_product(helpers.product("SKU1", "S1"))
    connector.fetch_inventory(None, None)
    assert fake.logins == 1

    fake.expire_tokens()
    page = connector.fetch_inventory(None, None)

    assert [p.sku for p in page.products] == ["SKU1"]
    assert fake.logins == 2
    assert connector.client.logins == 2


def test_expired_oauth_token_is_renewed_by_rediscovery(fake, connector, helpers):
    fake.add_product(helpers.product("SKU1", "S1"))
    connector.check_connection()
    fake.expire_tokens(oauth=True)
    connector.check_connection()
    assert [p for _, p in fake.requests].count("/aeservices30/api/GetEndPoint") == 2


def test_auth_refused_again_after_renewal_is_a_clear_authentication_error(fake, connector):
    connector.check_connection()
    fake.fail_next("SearchInventory", "auth", times=2)
    with pytest.raises(AuthenticationError, match="credentials refused or token expired"):
        connector.check_connection()
    assert fake.logins == 2  # renewed exactly once


def test_wrong_password_is_an_authentication_error_without_retrying(make_connector, fake):
    connector = make_connector(password="not-the-password")
    with pytest.raises(AuthenticationError, match="Security"):
        connector.check_connection()
    assert [p for _, p in fake.requests].count("/aeservices30/api/Security") == 1


def test_wrong_api_key_is_an_authentication_error(make_connector):
    connector = make_connector(api_key="wrong-key-123")
    with pytest.raises(AuthenticationError, match="GetEndPoint"):
        connector.check_connection()


def test_http_401_counts_as_an_expired_token(fake, helpers):
    fake.add_product(helpers.product("SKU1", "S1"))
    answers = iter([httpx.Response(401, text="Unauthorized")])

    def first_401(request):
        if request.url.path.endswith("/SearchInventory"):
            refusal = next(answers, None)
            if refusal is not None:
                return refusal
        return fake(request)

    settings = AimSettings.model_validate(fake.connector_settings(DISCOVERY))
    connector = AimConnector(
        settings, ConnectorContext(name="aim", transport=httpx.MockTransport(first_401))
    )
    assert "1 serialized items" in connector.check_connection()
    assert connector.client.logins == 2


def test_secrets_never_reach_logs_or_errors(fake, make_connector, helpers):
    fake.add_product(helpers.product("SKU1", "S1"))
    connector = make_connector()
    with structlog.testing.capture_logs() as logs:
        connector.fetch_inventory(None, None)
        fake.expire_tokens()
        connector.fetch_inventory(None, None)
        fake.fail_next("SearchInventory", "auth", times=2)
        with pytest.raises(AuthenticationError) as refused:
            connector.fetch_inventory(None, None)
    assert logs, "the connector logged nothing: the check below would be empty"
    # Three logins, three tokens each (discovery OAuthToken, Security Token and OAuthToken).
    assert len(fake.issued_tokens) == 9
    text = repr(logs) + str(refused.value) + repr(connector) + repr(connector.settings)
    for secret in (FakeAim.API_KEY, FakeAim.PASSWORD, *fake.issued_tokens):
        assert secret not in text
