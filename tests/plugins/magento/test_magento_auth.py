"""Credentials: bearer token, OAuth 1.0a signing, settings validation, secrets kept out of logs."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from pydantic import ValidationError
from serialsync import (
    AuthenticationError,
    ConnectorContext,
    ListingAction,
    ListingChange,
    Product,
    SerializedUnit,
)
from serialsync_magento import FakeMagento, MagentoConnector, MagentoSettings, OAuth1Credentials
from serialsync_magento.auth import OAuth1Auth
from structlog.testing import capture_logs

PRODUCT = Product(sku="P1", title="Guitar", price=Decimal("10"))
CHANGE = ListingChange(unit=SerializedUnit(sku="P1", serial="S1"), action=ListingAction.UPSERT)
OAUTH = {
    "consumer_key": "ck-visible-in-header",
    "consumer_secret": "cs-very-secret",
    "access_token": "at-token-value",
    "access_token_secret": "ats-very-secret",
}


def test_the_integration_token_is_sent_as_a_bearer_token(fake, make_connector, respx_mock):
    text = make_connector().check_connection()
    assert "Magento store http://magento.test/" in text
    request = respx_mock.calls.last.request
    assert request.headers["authorization"] == f"Bearer {fake.token}"
    assert request.url.path == "/rest/all/V1/store/storeConfigs"


def test_oauth_signing_matches_the_rfc_5849_reference_signature():
    # The widely published worked example (Twitter's "Creating a signature" guide), HMAC-SHA1.
    credentials = OAuth1Credentials(
        consumer_key="xvz1evFS4wEEPTGEFPHBog",
        consumer_secret="kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
        access_token="370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
        access_token_secret="LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
        signature_method="HMAC-SHA1",
    )
    auth = OAuth1Auth(
        credentials,
        clock=lambda: 1318622958,
        nonce=lambda: "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg",
    )
    request = httpx.Request(
        "POST",
        "https://api.twitter.com/1.1/statuses/update.json",
        params={
            "include_entities": "true",
            "status": "Hello Ladies + Gentlemen, a signed OAuth request!",
        },
    )
    header = auth.header(request.method, request.url)
    assert 'oauth_signature="hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D"' in header
    assert header.startswith("OAuth ")


def test_oauth_uses_hmac_sha256_by_default_and_signs_every_request(respx_mock):
    store = FakeMagento(oauth_consumer_key=OAUTH["consumer_key"], serial_attribute="serial_number")
    route = respx_mock.route(host=store.host).mock(side_effect=store)
    settings = MagentoSettings(base_url=f"http://{store.host}", oauth=OAuth1Credentials(**OAUTH))
    connector = MagentoConnector(settings, ConnectorContext(name="m", sleep=lambda _s: None))
    connector.check_connection()
    header = route.calls[0].request.headers["authorization"]
    assert 'oauth_signature_method="HMAC-SHA256"' in header
    assert "cs-very-secret" not in header and "ats-very-secret" not in header
    assert "Bearer" not in header


@pytest.mark.parametrize(
    "credentials",
    [{}, {"access_token": "t", "oauth": OAUTH}],
    ids=["none", "both"],
)
def test_exactly_one_credential_is_required(credentials):
    with pytest.raises(ValidationError, match="exactly one of access_token"):
        MagentoSettings(base_url="https://shop.example", **credentials)


def test_settings_refuse_a_bad_base_url_and_a_template_without_sku():
    with pytest.raises(ValidationError, match="base_url"):
        MagentoSettings(base_url="shop.example", access_token="t")
    with pytest.raises(ValidationError, match="parent_sku_template"):
        MagentoSettings(base_url="https://shop.example", access_token="t", parent_sku_template="X")


def test_the_parent_sku_is_configurable_per_pos_sku(fake, make_connector):
    make_connector(parent_sku_template="web-{sku}").publish_variants(PRODUCT, [CHANGE])
    assert fake.product("web-P1")["type_id"] == "configurable"
    assert [c["sku"] for c in fake.children_of("web-P1")] == ["P1|||S1"]


def test_secrets_are_absent_from_logs_errors_and_reprs(respx_mock):
    store = FakeMagento(token="the-real-token", serial_attribute="serial_number")
    respx_mock.route(host=store.host).mock(side_effect=store)
    good = MagentoSettings(base_url=f"http://{store.host}", access_token="the-real-token")
    bad = MagentoSettings(base_url=f"http://{store.host}", access_token="a-wrong-token")
    oauth = MagentoSettings(base_url=f"http://{store.host}", oauth=OAuth1Credentials(**OAUTH))
    texts = [repr(good), repr(bad), repr(oauth), str(good.model_dump())]
    with capture_logs() as logs:
        connector = MagentoConnector(good, ConnectorContext(name="m", sleep=lambda _s: None))
        connector.publish_variants(PRODUCT, [CHANGE])
        connector.fetch_orders(None, None)
        texts.append(repr(connector))
        for settings in (bad, oauth):
            refused = MagentoConnector(settings, ConnectorContext(name="m", sleep=lambda _s: None))
            with pytest.raises(AuthenticationError) as error:
                refused.check_connection()
            texts.append(str(error.value))
    assert logs, "nothing was logged: the check below would prove nothing"
    texts += [str(event) for event in logs]
    for secret in (
        "the-real-token",
        "a-wrong-token",
        "cs-very-secret",
        "ats-very-secret",
        "at-token-value",
    ):
        assert not any(secret in text for text in texts), secret
