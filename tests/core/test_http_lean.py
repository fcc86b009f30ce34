"""The lean HTTP path (issue 22 #4): requests built as httpx.Client built them, less what a
connector never needs (a cookie jar), sent through the transport; stats safe across threads."""

from __future__ import annotations

import threading
from collections.abc import Generator

import httpx
import pytest
from serialsync.http import HttpClient, RetryPolicy


def _recording() -> tuple[list[httpx.Request], httpx.MockTransport]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True}, headers={"Set-Cookie": "session=abc"})

    return seen, httpx.MockTransport(handler)


def test_a_request_is_built_as_httpx_client_built_it() -> None:
    seen, transport = _recording()
    http = HttpClient(
        connector="c",
        base_url="https://shop.example/api/v1",
        headers={"X-Token": "t"},
        params={"lang": "en", "page": "1"},
        transport=transport,
    )
    http.get("/orders", params={"page": "2"}, headers={"x-token": "override"})
    http.get("products?fields=id")
    http.get("https://cdn.example/image.png")
    with httpx.Client(
        base_url="https://shop.example/api/v1",
        headers={"X-Token": "t"},
        params={"lang": "en", "page": "1"},
    ) as client:
        reference = client.build_request(
            "GET", "/orders", params={"page": "2"}, headers={"x-token": "override"}
        )
        # httpx's own quirk, kept: default parameters replace a query written in the URL.
        second_reference = client.build_request("GET", "products?fields=id")

    first, second, absolute = seen
    assert first.url == reference.url == "https://shop.example/api/v1/orders?lang=en&page=2"
    assert dict(first.headers) == dict(reference.headers)
    assert first.headers["x-token"] == "override"
    assert second.url == second_reference.url
    assert absolute.url.host == "cdn.example"
    assert first.extensions["timeout"] == reference.extensions["timeout"] | {
        "connect": 10.0,
        "read": 60.0,
        "write": 60.0,
        "pool": 10.0,
    }


def test_no_cookie_a_platform_sets_is_sent_back() -> None:
    seen, transport = _recording()
    http = HttpClient(connector="c", base_url="https://shop.example/", transport=transport)
    http.get("a")
    http.get("b")
    assert "cookie" not in seen[1].headers


class _Challenge(httpx.Auth):
    """A two-step auth: the first answer's nonce signs the request sent again."""

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        response = yield request
        if response.status_code == 401:
            request.headers["Authorization"] = f"Nonce {response.headers['X-Nonce']}"
            yield request


def test_an_auth_flow_runs_as_httpx_runs_it() -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Authorization"))
        if request.headers.get("Authorization") != "Nonce n1":
            return httpx.Response(401, headers={"X-Nonce": "n1"})
        return httpx.Response(200, json={"ok": True})

    http = HttpClient(
        connector="c",
        base_url="https://shop.example/",
        auth=_Challenge(),
        transport=httpx.MockTransport(handler),
    )
    response = http.get("x")
    assert response.status_code == 200
    assert response.request.headers["Authorization"] == "Nonce n1"
    assert seen == [None, "Nonce n1"]
    basic = HttpClient(
        connector="c",
        base_url="https://shop.example/",
        auth=httpx.BasicAuth("u", "p"),
        transport=httpx.MockTransport(
            lambda r: httpx.Response(200, text=r.headers["authorization"])
        ),
    )
    assert basic.get("y").text == "Basic dTpw"


def test_a_transport_error_names_its_request() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("reset")

    http = HttpClient(
        connector="c",
        base_url="https://shop.example/",
        transport=httpx.MockTransport(handler),
        policy=RetryPolicy(max_attempts=1),
        sleep=lambda _s: None,
    )
    with pytest.raises(httpx.ReadError) as raised:
        http._send(http._build("GET", "z", None, None, None, None, None))
    assert raised.value.request.url == "https://shop.example/z"


def test_stats_count_every_request_of_many_threads() -> None:
    answered = threading.Barrier(8)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={})

    http = HttpClient(
        connector="c", base_url="https://shop.example/", transport=httpx.MockTransport(handler)
    )

    def work() -> None:
        answered.wait()
        for _ in range(500):
            http.get("x")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert http.stats["requests"] == 4000
    http.stats["requests"] = 0  # a copy: reading cannot reset the counters
    assert http.stats["requests"] == 4000
