"""The fake AIM holds to AIM's rules, and serves over respx, a transport and real loopback HTTP."""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any

import httpx
import pytest
import uvicorn
from serialsync import ConnectorContext, Product, SerializedUnit, UnitStatus
from serialsync.testing import FakePOS, Faults
from serialsync_aim_pos import AimConnector, AimSettings, FakeAim

ROOT = "https://active-ewebservice.biz/aeservices30/api"


def logged_in(fake: FakeAim) -> dict[str, str]:
    """Headers of a logged-in session, obtained the way the plugin does."""
    base = {"ApiKey": FakeAim.API_KEY, "AppId": FakeAim.APP_ID}
    found = fake(httpx.Request("GET", f"{ROOT}/GetEndPoint", headers=base)).json()
    oauth = {**base, "OAuthToken": found["OAuthToken"]}
    login = fake(
        httpx.Request(
            "POST",
            f"{ROOT}/Security",
            headers=oauth,
            json={
                "Username": "1001",
                "Password": FakeAim.PASSWORD,
                "AppId": "a",
                "DeviceId": "d",
            },
        )
    ).json()
    # Secured calls carry the OAuthToken Security returned, as AIM's login hands it out.
    return {**base, "OAuthToken": login["OAuthToken"], "Token": login["Token"]}


def call(
    fake: FakeAim, method: str, op: str, headers: dict[str, str], **kwargs: Any
) -> tuple[int, Any]:
    response = fake(httpx.Request(method, f"{ROOT}/{op}", headers=headers, **kwargs))
    return response.status_code, response.json()


def test_fake_builds_with_no_arguments_and_is_a_fake_pos():
    fake = FakeAim()
    assert isinstance(fake, FakePOS)
    assert fake.recorded_orders() == []
    settings = AimSettings.model_validate(fake.connector_settings("http://127.0.0.1:9"))
    assert settings.discovery_url == "http://127.0.0.1:9"


def test_discovery_answers_its_own_root_from_the_request_url():
    fake = FakeAim()
    answer = fake(
        httpx.Request(
            "GET",
            "http://127.0.0.1:8123/some/prefix/api/GetEndPoint",
            headers={"ApiKey": FakeAim.API_KEY, "AppId": "a"},
        )
    ).json()
    assert answer["NewEndpointDomain"] == "http://127.0.0.1:8123/some/prefix"
    assert answer["Status"]["StatusCode"] == "Ok"


def test_errors_are_in_band_with_http_200():
    fake = FakeAim()
    code, body = call(fake, "POST", "SearchInventory", {"ApiKey": FakeAim.API_KEY, "AppId": "a"})
    assert code == 200
    assert body["Status"]["StatusCode"] != "Ok"
    assert body["Status"]["ErrorCode"]


def test_secured_calls_need_a_live_token():
    fake = FakeAim()
    headers = logged_in(fake)
    assert (
        call(fake, "POST", "SearchInventory", headers, json={})[1]["Status"]["StatusCode"] == "Ok"
    )
    fake.expire_tokens()
    status = call(fake, "POST", "SearchInventory", headers, json={})[1]["Status"]
    assert (status["ErrorCode"], status["Login"]) == ("InvalidToken", "Expired")


def test_record_count_above_the_limit_is_a_validation_error():
    fake = FakeAim()
    body = call(fake, "POST", "SearchInventory", logged_in(fake), json={"RecordCount": 501})[1]
    assert body["Status"]["ErrorCode"] == "ValidationError"


def test_unknown_operations_and_wrong_methods_are_refused():
    fake = FakeAim()
    headers = logged_in(fake)
    assert call(fake, "GET", "NoSuchThing", headers)[0] == 404
    assert call(fake, "GET", "CustomerOrders", headers)[0] == 405


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ({"Sku": "NOPE", "Qty": 1, "Price": 1}, "Sku 'NOPE' not found"),
        ({"Sku": "A", "Qty": 0, "Price": 1}, "Qty"),
        ({"Sku": "A", "SerialNumber": "A9", "Qty": 1, "Price": 1}, "Serial 'A9'"),
        ({"Sku": "A", "SerialNumber": "A1", "Qty": 2, "Price": 1}, "Qty must be 1"),
        ({"Sku": "A", "Qty": 1, "Price": "x"}, "Price"),
    ],
)
def test_customer_orders_refuses_what_aim_would_and_records_nothing(line, problem):
    fake = FakeAim()
    fake.add_product(
        Product(sku="A", title="A", price=1, units=(SerializedUnit(sku="A", serial="A1"),))
    )
    order = {"OrderNumber": "1", "LineItems": [line]}
    body = call(fake, "POST", "CustomerOrders", logged_in(fake), json={"Orders": [order]})[1]
    assert problem in body["Status"]["ErrorMessage"]
    assert fake.recorded_orders() == []


def test_unit_controls_change_what_inventory_reports():
    fake = FakeAim()
    fake.add_product(
        Product(
            sku="A",
            title="A",
            price=10,
            units=(
                SerializedUnit(sku="A", serial="A1"),
                SerializedUnit(sku="A", serial="A2", status=UnitStatus.RESERVED),
            ),
        )
    )
    assert fake.unit_status("A", "A2") == "On Hold"
    fake.mark_sold("A", "A1")
    assert fake.unit_status("A", "A1") == "Sold"
    fake.remove_unit("A", "A1")
    assert fake.unit_status("A", "A1") == "Deleted"
    with pytest.raises(KeyError, match="no serial"):
        fake.mark_sold("A", "A404")


def test_the_plugin_survives_injected_transport_faults(sleeps):
    fake = FakeAim(faults=Faults(rate_429=0.2, rate_5xx=0.2, rate_malformed=0.2, seed=7))
    fake.add_product(
        Product(sku="A", title="A", price=10, units=(SerializedUnit(sku="A", serial="A1"),))
    )
    settings = AimSettings.model_validate(
        {**fake.connector_settings("https://aim.test"), "retry": {"max_attempts": 20}}
    )
    connector = AimConnector(
        settings, ConnectorContext(name="aim", transport=fake.transport(), sleep=sleeps.append)
    )
    assert [p.sku for p in connector.fetch_inventory(None, None).products] == ["A"]
    assert sum(fake.injected.values()) > 0
    assert len(sleeps) >= sum(fake.injected.values())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_served_over_loopback_http_the_plugin_works_end_to_end():
    fake = FakeAim()
    fake.add_product(
        Product(sku="A", title="A", price=10, units=(SerializedUnit(sku="A", serial="A1"),))
    )
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(fake.asgi_app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60  # a hang guard, for a loaded machine
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.started
        base = f"http://127.0.0.1:{port}/aeservices30"
        settings = AimSettings.model_validate(fake.connector_settings(base))
        connector = AimConnector(settings, ConnectorContext(name="aim"))
        page = connector.fetch_inventory(None, None)
        assert [p.sku for p in page.products] == ["A"]
        connector.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert ("GET", "/aeservices30/api/GetEndPoint") in fake.requests


def test_fake_json_is_what_the_wire_carries():
    fake = FakeAim()
    fake.add_product(
        Product(sku="A", title="A", price=10, units=(SerializedUnit(sku="A", serial="A1"),))
    )
    body = call(fake, "POST", "SearchInventory", logged_in(fake), json={"IncludeSerials": True})[1]
    assert json.loads(json.dumps(body)) == body
    assert body["Records"][0]["Detail"]["Sku"] == "A"
    assert body["TotalRecords"] == 1
