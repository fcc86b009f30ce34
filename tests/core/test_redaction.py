"""Secrets never reach a log event, an exception message or a repr."""

from __future__ import annotations

import io
import json
import logging
import random
from typing import Any

import httpx
import pytest
import structlog
from pydantic import BaseModel, SecretStr
from serialsync import (
    Connector,
    ConnectorContext,
    ConnectorSettings,
    ConnectorType,
    HttpClient,
    RemoteError,
    RetryPolicy,
    Role,
    hookimpl,
)
from serialsync.logging import configure_logging
from serialsync.manager import ConnectorHandle, PluginManager
from serialsync.redaction import (
    MASK,
    Redactor,
    redact_event,
    redact_personal_data,
    register_secret,
)

BASE = "https://shop.example"
TOKEN = "shpat_0123456789abcdef"  # the header token, held as a SecretStr setting
CONSUMER_SECRET = "cs_8f7e6d5c4b3a"
SIGNATURE = "sig_Zm9vYmFyYmF6"
SECRETS = (TOKEN, CONSUMER_SECRET, SIGNATURE)


class ShopSettings(ConnectorSettings):
    shop: str = "acme"
    access_token: SecretStr
    consumer_secret: SecretStr


class ShopConnector(Connector[ShopSettings]):
    def __init__(self, settings: ShopSettings, context: ConnectorContext) -> None:
        super().__init__(settings, context)
        self.http = context.http_client(
            settings,
            base_url=BASE,
            headers={"X-Shopify-Access-Token": settings.access_token.get_secret_value()},
        )

    @hookimpl
    def check_connection(self) -> str:
        secret = self.settings.consumer_secret.get_secret_value()
        response = self.http.get(
            "/shop.json", params={"consumer_secret": secret, "oauth_signature": SIGNATURE}
        )
        self.http.raise_for_status(response)
        return "ok"


def build(transport: httpx.BaseTransport, **policy: Any) -> tuple[PluginManager, ConnectorHandle]:
    manager = PluginManager(load_entrypoints=False)
    ctype = ConnectorType(
        name="shop", role=Role.CHANNEL, settings_model=ShopSettings, factory=ShopConnector
    )
    sleeps: list[float] = []
    context = ConnectorContext(
        name="main", transport=transport, sleep=sleeps.append, rng=random.Random(1)
    )
    settings = {
        "access_token": TOKEN,
        "consumer_secret": CONSUMER_SECRET,
        "retry": RetryPolicy(max_attempts=2, **policy).model_dump(),
    }
    manager.connector_types["shop"] = ctype
    handle = manager.add_connector("main", "shop", settings, context)
    return manager, handle


def shop(handle: ConnectorHandle) -> ShopConnector:
    assert isinstance(handle.impl, ShopConnector)
    return handle.impl


def echo_everything(status: int) -> httpx.MockTransport:
    """A platform that echoes the request back in its error body, headers included."""

    def handler(request: httpx.Request) -> httpx.Response:
        echoed = f"{request.url} {dict(request.headers)}"
        return httpx.Response(status, text=f"denied: {echoed}", request=request)

    return httpx.MockTransport(handler)


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_header_token_and_query_secrets_absent_from_logs_and_errors_when_refused():
    manager, _ = build(echo_everything(401))
    with structlog.testing.capture_logs() as logs, pytest.raises(RemoteError) as info:
        manager.check_connection("main")
    assert logs, "the attempt must have been logged"
    assert_no_secret(repr(logs))
    assert_no_secret(str(info.value))
    assert_no_secret(repr(info.value.url))
    assert "denied" in str(info.value)  # the body is in the message, with secrets masked
    assert MASK in str(info.value)


def test_secrets_absent_when_retries_run_out():
    manager, _ = build(echo_everything(503))
    with structlog.testing.capture_logs() as logs, pytest.raises(RemoteError) as info:
        manager.check_connection("main")
    assert any(e["event"] == "http.gave_up" for e in logs)
    assert_no_secret(repr(logs))
    assert_no_secret(str(info.value))


def test_secrets_absent_when_a_post_fails_after_sending():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout(f"timed out reading {request.url}", request=request)

    _, handle = build(httpx.MockTransport(handler))
    with structlog.testing.capture_logs() as logs, pytest.raises(RemoteError) as info:
        shop(handle).http.post("/orders", params={"consumer_secret": CONSUMER_SECRET}, json={})
    assert_no_secret(repr(logs))
    assert_no_secret(str(info.value))


def test_reprs_of_settings_connector_handle_and_client_hide_secrets():
    manager, handle = build(echo_everything(200))
    for shown in (
        repr(handle.settings),
        str(handle.settings),
        repr(handle.impl),
        repr(shop(handle).http),
        repr(handle),
        repr(manager.connectors()),
    ):
        assert_no_secret(shown)


def test_a_secret_percent_encoded_in_a_url_is_masked():
    secret = "p+ss/w=rd!"
    redactor = Redactor([SecretStr(secret)])
    url = str(httpx.URL(f"{BASE}/x", params={"q": secret}))
    assert "p%2Bss%2Fw%3Drd" in url  # how it really travels
    masked = redactor.url(url)
    assert "p%2Bss" not in masked
    assert "p+ss" not in masked


def test_user_info_and_secret_headers_are_masked():
    redactor = Redactor(["tok_abcdef"], headers=["X-Custom-Key"])
    assert redactor.url("https://user:pw@h.example/p?api_key=1&b=2") == (
        "https://***@h.example/p?api_key=***&b=2"
    )
    assert redactor.headers(
        {"Authorization": "Basic Zm9v", "X-Custom-Key": "v", "Accept": "tok_abcdef json"}
    ) == {"Authorization": MASK, "X-Custom-Key": MASK, "Accept": f"{MASK} json"}


def test_basic_credentials_echoed_in_an_error_body_are_masked():
    # WooCommerce-style: consumer key and secret as HTTP Basic; the header holds them encoded.
    sleeps: list[float] = []
    http = ConnectorContext(name="woo", transport=echo_everything(401), sleep=sleeps.append)
    client = http.http_client(
        ConnectorSettings(), base_url=BASE, auth=httpx.BasicAuth("ck_0123456789", CONSUMER_SECRET)
    )
    response = client.get("/products")
    encoded = response.request.headers["authorization"].split(" ", 1)[1]
    assert encoded in response.text  # the platform did echo it
    error = client.error_for(response)
    assert encoded not in str(error)
    assert "denied" in str(error)


def test_a_secret_at_the_excerpt_cut_is_not_half_shown():
    http = HttpClient(connector="x", secrets=[SecretStr(TOKEN)])
    body = "x" * 290 + TOKEN  # the 300-character cut falls inside the token
    request = httpx.Request("GET", f"{BASE}/x")
    excerpt = http.excerpt(httpx.Response(500, text=body, request=request))
    assert TOKEN[:10] not in excerpt


def test_redact_event_scrubs_registered_secrets_everywhere_in_an_event():
    register_secret(SecretStr("reg_secret_123"))
    register_secret("reg_secret_123_longer")  # contains the first: masked whole
    event = {
        "event": "failed with reg_secret_123_longer",
        "nested": {"list": ["x reg_secret_123 y", 5], "tuple": ("reg_secret_123",)},
        "setting": SecretStr("anything"),
        "count": 3,
    }
    scrubbed = redact_event(None, "info", event)
    assert scrubbed == {
        "event": f"failed with {MASK}",
        "nested": {"list": [f"x {MASK} y", 5], "tuple": (MASK,)},
        "setting": MASK,
        "count": 3,
    }


def test_short_values_are_not_registered_as_secrets():
    register_secret("ab1")
    assert redact_event(None, "info", {"event": "ab1 stays"}) == {"event": "ab1 stays"}


def test_configured_cli_logging_scrubs_a_registered_secret_from_json_lines():
    old = structlog.get_config()
    out = io.StringIO()
    try:
        register_secret("cli_secret_value_42")
        configure_logging(level="debug", format="json", stream=out)
        structlog.get_logger("t").info("boom", detail="token=cli_secret_value_42")
    finally:
        structlog.configure(**old)
    line = json.loads(out.getvalue().strip().splitlines()[-1])
    assert line["event"] == "boom"
    assert line["detail"] == f"token={MASK}"


def test_the_http_stack_own_logs_carry_no_secret(caplog):
    # HttpClient sends through the transport, not httpx.Client (which logged every request
    # URL at INFO): whatever is logged of a request, down to DEBUG, holds no secret.
    manager, _ = build(echo_everything(200))
    with caplog.at_level(logging.DEBUG):
        manager.check_connection("main")
    assert "http.response" in caplog.text  # the request was logged, with its path ...
    assert_no_secret(caplog.text)  # ... without its secrets
    assert "consumer_secret=***" in caplog.text


def test_httpx_own_request_log_is_redacted_by_the_filter(caplog):
    # An embedding application may still log through httpx.Client: its URL argument is masked.
    build(echo_everything(200))  # a client made installs the filter
    with caplog.at_level(logging.INFO, logger="httpx"):
        logging.getLogger("httpx").info(
            'HTTP Request: %s %s "%s"',
            "GET",
            httpx.URL("https://shop.example/x?consumer_secret=" + CONSUMER_SECRET),
            "HTTP/1.1 200 OK",
        )
    assert_no_secret(caplog.text)
    assert "consumer_secret=***" in caplog.text


class Store(BaseModel):
    name: str
    key: SecretStr


class MultiStoreSettings(ConnectorSettings):
    keys: dict[str, SecretStr] = {}
    stores: list[Store] = []


def test_secrets_nested_in_dicts_and_lists_of_settings_are_redacted():
    settings = MultiStoreSettings(
        keys={"eu": SecretStr("key_eu_5551")},
        stores=[Store(name="us", key=SecretStr("key_us_777"))],
    )
    assert {s.get_secret_value() for s in settings.secret_values()} == {"key_eu_5551", "key_us_777"}
    http = ConnectorContext(name="multi").http_client(settings)
    assert http.redactor.text("key_eu_5551 / key_us_777") == f"{MASK} / {MASK}"


# -- customers' personal data ------------------------------------------------------------------

PERSON = ("Philippa", "Quarrington", "phil.q@example.org", "+44 20 7946 0958", "17 Larkspur")


@pytest.mark.parametrize(
    "text",
    [
        # JSON bodies, snake_case and camelCase, the person in a container or field by field.
        '{"billing_address": {"first_name": "Philippa", "street_1": "17 Larkspur Lane"}}',
        '{"customer": {"firstName": "Philippa", "lastName": "Quarrington", "note": "x"}}',
        '{"customer_firstname": "Philippa", "customer_email": "phil.q@example.org"}',
        '[{"shippingAddress": {"address1": "17 Larkspur Lane", "phone": "+44 20 7946 0958"}}]',
        # A body cut short, and a body quoted (escaped) inside a message.
        'answered 400: {"billing": {"first_name": "Philippa", "last_name": "Quarrin',
        'refused: "{\\"email\\": \\"phil.q@example.org\\", \\"last_name\\": \\"Quarrington\\"}"',
        # Forms, query strings, XML, a PHP dump in an error page, and free text.
        "GET /orders?customer_email=phil.q%40example.org&first_name=Philippa",
        "<customer><firstname>Philippa</firstname><lastname>Quarrington</lastname></customer>",
        "WC_Order Object ( [billing] => Array ( [first_name] => Philippa [phone] => 020 ) )",
        "The order of phil.q@example.org (call +44 20 7946 0958) could not be loaded.",
    ],
)
def test_personal_data_is_masked_in_every_shape_a_platform_sends(text: str) -> None:
    masked = redact_personal_data(text)
    assert MASK in masked
    for piece in PERSON:
        assert piece not in masked, masked


def test_what_an_operator_needs_is_left_alone() -> None:
    text = (
        '{"id": 1001, "customer_id": 77, "status": "paid", "sku": "0113942719|||US210033734", '
        '"title": "Martin D-28", "date_modified": "2026-12-06T21:27:58+00:00", "total": "2999.00"}'
    )
    assert json.loads(redact_personal_data(text)) == json.loads(text)
    free = (
        "serial US210033734 of SKU 0113942719, order #1001 at 127.0.0.1:8080 on 2026-12-06, "
        "modified Tue, 20 Nov 2012 10:00:00 +0000, at 2026-12-06T21:27:58+05:30, qty +1 2"
    )
    assert redact_personal_data(free) == free


def test_an_error_message_is_masked_whoever_wrote_it() -> None:
    error = RemoteError("AIM refused: customer phil.q@example.org, phone (555) 123-4567")
    assert "phil.q" not in str(error) and "123-4567" not in str(error)
    assert str(error) == f"AIM refused: customer {MASK}, phone {MASK}"


def test_an_excerpt_of_a_response_body_carries_no_personal_data() -> None:
    body = {"errors": {"billing_address": {"first_name": "Philippa", "email": "p@example.org"}}}
    response = httpx.Response(422, json=body, request=httpx.Request("GET", f"{BASE}/orders"))
    client = HttpClient(connector="shop", base_url=BASE)
    excerpt = client.excerpt(response)
    assert "Philippa" not in excerpt and "p@example.org" not in excerpt
    assert "billing_address" in excerpt  # what the platform complained about stays readable
    assert "Philippa" not in str(client.error_for(response))


def test_redact_event_masks_personal_fields_and_personal_data_in_text() -> None:
    event = redact_event(
        None,
        "info",
        {
            "event": "orders.read",
            "customer_email": "phil.q@example.org",
            "billing": {"name": "Philippa Quarrington"},
            "error": 'answered 400: {"last_name": "Quarrington"}',
            "order_id": "1001",
        },
    )
    assert "Quarrington" not in str(event) and "phil.q" not in str(event)
    assert event["order_id"] == "1001" and event["event"] == "orders.read"
