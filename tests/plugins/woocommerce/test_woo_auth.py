"""The three auth modes, the OAuth 1.0a signature against known vectors, and secrets kept out."""

from __future__ import annotations

import base64
import string

import httpx
import pydantic
import pytest
import respx
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from serialsync import AuthenticationError
from serialsync_woocommerce import FakeWooCommerce, OAuth1Auth, WooCommerceSettings
from serialsync_woocommerce.auth import hmac_sha1_signature, signature_base_string
from serialsync_woocommerce.fake_auth import AuthRefusedError
from structlog.testing import capture_logs

from .conftest import HTTP_SITE, HTTPS_SITE, product, units, upserts

MODES = [("basic", HTTPS_SITE), ("query", HTTPS_SITE), ("oauth1", HTTP_SITE)]

# -- the signature against published vectors --------------------------------------------------


def test_signature_matches_the_oauth_1_0_spec_appendix_a_vector():
    # OAuth Core 1.0, Appendix A.5: photos.example.net, HMAC-SHA1.
    url = httpx.URL("http://photos.example.net/photos?file=vacation.jpg&size=original")
    params = [
        *url.params.multi_items(),
        ("oauth_consumer_key", "dpf43f3p2l4k3l03"),
        ("oauth_token", "nnch734d00sl2jdk"),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", "1191242096"),
        ("oauth_nonce", "kllo9940pd9333jh"),
        ("oauth_version", "1.0"),
    ]
    base = signature_base_string("GET", url, params)

    assert base == (
        "GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26oauth_consumer_key%3D"
        "dpf43f3p2l4k3l03%26oauth_nonce%3Dkllo9940pd9333jh%26oauth_signature_method%3DHMAC-SHA1%26"
        "oauth_timestamp%3D1191242096%26oauth_token%3Dnnch734d00sl2jdk%26oauth_version%3D1.0%26"
        "size%3Doriginal"
    )
    assert hmac_sha1_signature(base, "kd94hf93k423kf44", "pfkkdhi9sl3r4s00") == (
        "tR3+Ty81lMeYAr/Fid0kMTYa/WM="
    )


def test_signature_matches_the_rfc_5849_section_1_2_vector_as_corrected_by_errata():
    # RFC 5849 §1.2 prints a wrong value; erratum 2550 gives the signature of its inputs.
    url = httpx.URL("http://photos.example.net/photos?file=vacation.jpg&size=original")
    params = [
        *url.params.multi_items(),
        ("oauth_consumer_key", "dpf43f3p2l4k3l03"),
        ("oauth_token", "nnch734d00sl2jdk"),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", "137131202"),
        ("oauth_nonce", "chapoH"),
    ]
    base = signature_base_string("GET", url, params)

    assert hmac_sha1_signature(base, "kd94hf93k423kf44", "pfkkdhi9sl3r4s00") == (
        "MdpQcU8iPSUjWoN/UDMsK2sui9I="
    )


def test_base_string_matches_rfc_5849_section_3_4_1_1():
    # Encoded query values, an empty value, a repeated name, '+' as a space in a form body.
    url = httpx.URL("http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b")
    params = [
        *url.params.multi_items(),
        ("c2", ""),
        ("a3", "2 q"),
        ("oauth_consumer_key", "9djdj82h48djs9d2"),
        ("oauth_token", "kkk9d7dh3k39sjv7"),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", "137131201"),
        ("oauth_nonce", "7d8f3e4a"),
    ]

    assert signature_base_string("POST", url, params) == (
        "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D"
        "%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce"
        "%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26"
        "oauth_token%3Dkkk9d7dh3k39sjv7"
    )


def test_base_string_uri_lowercases_and_drops_the_default_port_only():
    params = [("a", "1")]
    assert signature_base_string("get", httpx.URL("HTTP://Shop.Example.COM:80/x"), params) == (
        "GET&http%3A%2F%2Fshop.example.com%2Fx&a%3D1"
    )
    assert "8080" in signature_base_string("GET", httpx.URL("http://h:8080/x"), params)


def _oauth(fake: FakeWooCommerce, nonce: str = "n0nce") -> OAuth1Auth:
    return OAuth1Auth(
        SecretStr(fake.consumer_key),
        SecretStr(fake.consumer_secret),
        clock=lambda: 1_790_000_000,
        nonce=lambda: nonce,
    )


_VALUE = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="%"),
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(
    params=st.dictionaries(
        st.text(alphabet=string.ascii_lowercase + "_[]", min_size=1, max_size=8).filter(
            lambda k: not k.startswith("oauth_")
        ),
        _VALUE,
        max_size=4,
    ),
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
)
def test_the_signer_and_woocommerces_own_check_agree(params, method):
    # The fake checks signatures the way WooCommerce's PHP does, not with the plugin's code.
    # ('%' is left out: WooCommerce decodes values once more than RFC 5849 says.)
    fake = FakeWooCommerce(now=lambda: 1_790_000_000)
    request = httpx.Request(method, f"{HTTP_SITE}/wp-json/wc/v3/products/7", params=params)
    _oauth(fake).sign(request)

    fake.auth.check(request)  # raises when the signature is wrong


def test_a_request_signed_again_carries_one_fresh_signature():
    # A retry signs the same request object again: the first attempt's oauth_* are replaced,
    # not added to, and the query's own parameters are kept.
    fake = FakeWooCommerce(now=lambda: 1_790_000_000)
    request = httpx.Request("GET", f"{HTTP_SITE}/wp-json/wc/v3/orders", params={"page": "2"})
    nonces = iter(["first", "second"])
    signer = OAuth1Auth(
        SecretStr(fake.consumer_key),
        SecretStr(fake.consumer_secret),
        clock=lambda: 1_790_000_000,
        nonce=lambda: next(nonces),
    )
    signer.sign(request)
    signer.sign(request)
    keys = [k for k, _ in request.url.params.multi_items()]
    assert len(keys) == 6 and set(keys) == {
        "page",
        "oauth_consumer_key",
        "oauth_nonce",
        "oauth_signature_method",
        "oauth_timestamp",
        "oauth_signature",
    }
    assert request.url.params["oauth_nonce"] == "second"
    fake.auth.check(request)


def test_a_tampered_oauth_request_is_refused(fake):
    fake.now = lambda: 1_790_000_000
    fake.auth.now = fake.now
    request = httpx.Request("GET", f"{HTTP_SITE}/wp-json/wc/v3/orders", params={"page": "1"})
    _oauth(fake).sign(request)
    request.url = request.url.copy_set_param("page", "2")

    with pytest.raises(AuthRefusedError, match="signature does not match"):
        fake.auth.check(request)


def test_the_fake_refuses_a_replayed_nonce_and_a_stale_timestamp(fake):
    fake.auth.now = lambda: 1_790_000_000
    first = httpx.Request("GET", f"{HTTP_SITE}/wp-json/wc/v3/orders")
    _oauth(fake).sign(first)
    fake.auth.check(first)
    again = httpx.Request("GET", f"{HTTP_SITE}/wp-json/wc/v3/orders")
    _oauth(fake).sign(again)
    with pytest.raises(AuthRefusedError, match="nonce has already been used"):
        fake.auth.check(again)

    fake.auth.now = lambda: 1_790_000_000 + 16 * 60
    late = httpx.Request("GET", f"{HTTP_SITE}/wp-json/wc/v3/orders")
    _oauth(fake, nonce="other").sign(late)
    with pytest.raises(AuthRefusedError, match="Invalid timestamp"):
        fake.auth.check(late)


# -- the modes end to end ---------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "site"), MODES)
def test_each_auth_mode_is_accepted_by_the_fake(fake, make_connector, mode, site):
    with respx.mock() as router:
        route = router.route(host="shop.example.com").mock(side_effect=fake)
        connector = make_connector(site=site, auth_mode=mode, transport=None)
        text = connector.check_connection()
        connector.publish_variants(product(), upserts(units(2)))

    assert "shop.example.com" in text
    assert len(fake.variations) == 2
    sent = route.calls[0].request
    header = sent.headers.get("authorization", "")
    query = dict(sent.url.params)
    if mode == "basic":
        expected = f"{fake.consumer_key}:{fake.consumer_secret}".encode()
        assert header == "Basic " + base64.b64encode(expected).decode()
        assert "consumer_secret" not in query
    elif mode == "query":
        assert header == ""
        assert query["consumer_key"] == fake.consumer_key
        assert query["consumer_secret"] == fake.consumer_secret
    else:
        assert header == ""
        assert query["oauth_consumer_key"] == fake.consumer_key
        assert query["oauth_signature_method"] == "HMAC-SHA1"
        assert query["oauth_signature"]
        # The secret itself never travels over plain HTTP.
        assert fake.consumer_secret not in str(sent.url)


@pytest.mark.parametrize(("mode", "site"), MODES)
def test_bad_credentials_raise_authentication_error(make_connector, mode, site):
    connector = make_connector(
        site=site, auth_mode=mode, consumer_secret="cs_wrong000000000000000000000000000000000"
    )

    with pytest.raises(AuthenticationError) as caught:
        connector.check_connection()

    assert caught.value.status == 401
    assert caught.value.code == "woocommerce_rest_authentication_error"


def test_the_fake_ignores_basic_auth_over_plain_http(fake):
    client = httpx.Client(
        transport=fake.transport(), auth=(fake.consumer_key, fake.consumer_secret)
    )

    response = client.get(f"{HTTP_SITE}/wp-json/wc/v3/products")

    assert response.status_code == 401
    assert response.json()["code"] == "woocommerce_rest_cannot_view"


def test_settings_refuse_a_clear_text_secret_over_plain_http(fake):
    for mode in ("basic", "query"):
        with pytest.raises(pydantic.ValidationError, match="oauth1"):
            WooCommerceSettings.model_validate(
                {**fake.connector_settings(HTTP_SITE), "auth_mode": mode}
            )
    assert WooCommerceSettings.model_validate(fake.connector_settings(HTTP_SITE)).auth_mode == (
        "oauth1"
    )


def test_settings_and_connector_reprs_hide_the_secrets(fake, connector):
    settings_ = WooCommerceSettings.model_validate(fake.connector_settings(HTTPS_SITE))
    for text in (repr(settings_), str(settings_), repr(connector), repr(connector.client.http)):
        assert fake.consumer_key not in text and fake.consumer_secret not in text


def test_batch_size_above_100_is_refused(fake):
    with pytest.raises(pydantic.ValidationError, match="batch_size"):
        WooCommerceSettings.model_validate(
            {**fake.connector_settings(HTTPS_SITE), "batch_size": 101}
        )


# -- secrets stay out of logs and of the URLs in logs and errors ------------------------------


@pytest.mark.parametrize(("mode", "site"), MODES)
def test_secrets_and_signatures_are_absent_from_logs_and_logged_urls(
    fake, make_connector, mode, site
):
    with respx.mock() as router, capture_logs() as events:
        route = router.route(host="shop.example.com").mock(side_effect=fake)
        connector = make_connector(site=site, auth_mode=mode, transport=None)
        connector.publish_variants(product(), upserts(units(2)))
        connector.fetch_orders(None, None)
        bad = make_connector(
            site=site,
            auth_mode=mode,
            consumer_key="ck_wrong000000000000000000000000000000000",
            consumer_secret="cs_wrong000000000000000000000000000000000",
            transport=None,
        )
        with pytest.raises(AuthenticationError) as caught:
            bad.fetch_orders(None, None)

    sent = [call.request for call in route.calls]
    signatures = [
        r.url.params["oauth_signature"] for r in sent if "oauth_signature" in r.url.params
    ]
    assert (mode == "oauth1") == bool(signatures)
    secrets = [
        fake.consumer_key,
        fake.consumer_secret,
        "ck_wrong000000000000000000000000000000000",
        "cs_wrong000000000000000000000000000000000",
        *signatures,
        *(httpx.URL(f"?s={s}").query.decode().removeprefix("s=") for s in signatures),
    ]
    logged = [repr(event) for event in events]
    assert any("path" in event for event in events)  # the client did log the requests
    texts = [*logged, str(caught.value), caught.value.url or ""]
    for secret in secrets:
        for text in texts:
            assert secret not in text
    # The URL in the error keeps the parameter names, with their values masked by the core.
    masked = {"basic": None, "query": "consumer_secret=***", "oauth1": "oauth_signature=***"}[mode]
    assert masked is None or masked in str(caught.value)
