"""The shared HTTP client: retries, Retry-After, safe non-idempotent writes, pacing, bounds.

Nothing here really waits: the client is given a fake ``sleep`` and ``clock``, and what it
would have slept is asserted instead.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import structlog
from serialsync import (
    AuthenticationError,
    ConnectorContext,
    ConnectorSettings,
    HttpClient,
    PermanentRemoteError,
    RateLimitedError,
    RetryableRemoteError,
    RetryHint,
    RetryPolicy,
)
from serialsync.http import parse_retry_after

from tests.clocks import FakeClock

BASE = "https://shop.example"


@pytest.fixture
def fake_time() -> FakeClock:
    return FakeClock()


def client(fake_time: FakeClock, **kwargs: Any) -> HttpClient:
    kwargs.setdefault("policy", RetryPolicy())
    return HttpClient(
        connector="shop",
        base_url=BASE,
        sleep=fake_time.sleep,
        clock=fake_time,
        rng=random.Random(7),
        **kwargs,
    )


def ok(body: str = "ok") -> httpx.Response:
    return httpx.Response(200, text=body)


# -- 429 and Retry-After --------------------------------------------------------------------


def test_429_retry_after_seconds_is_slept_through_the_injected_sleep(respx_mock, fake_time):
    route = respx_mock.get(f"{BASE}/items").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "7"}), ok()]
    )
    response = client(fake_time).get("/items")
    assert response.status_code == 200
    assert route.call_count == 2
    assert len(fake_time.sleeps) == 1
    assert 7.0 <= fake_time.sleeps[0] <= 7.1  # the asked wait plus a little jitter


def test_429_on_a_post_is_retried_because_it_was_refused_not_applied(respx_mock, fake_time):
    route = respx_mock.post(f"{BASE}/orders").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "2"}), httpx.Response(201)]
    )
    assert client(fake_time).post("/orders", json={"a": 1}).status_code == 201
    assert route.call_count == 2


def test_retry_after_http_date_is_read_against_the_response_date(respx_mock, fake_time):
    # Both dates are long past: measured against our own clock the wait would be 0.
    server_now = datetime(2020, 5, 1, 12, 0, 0, tzinfo=UTC)
    headers = {
        "Date": format_datetime(server_now, usegmt=True),
        "Retry-After": format_datetime(server_now + timedelta(seconds=12), usegmt=True),
    }
    respx_mock.get(f"{BASE}/items").mock(side_effect=[httpx.Response(429, headers=headers), ok()])
    client(fake_time).get("/items")
    assert len(fake_time.sleeps) == 1
    assert 12.0 <= fake_time.sleeps[0] <= 12.1


def test_retry_after_http_date_without_date_header_is_read_against_now(respx_mock, fake_time):
    when = datetime.now(UTC) + timedelta(seconds=30)
    headers = {"Retry-After": format_datetime(when, usegmt=True)}
    respx_mock.get(f"{BASE}/items").mock(side_effect=[httpx.Response(429, headers=headers), ok()])
    client(fake_time).get("/items")
    assert len(fake_time.sleeps) == 1
    assert 25.0 <= fake_time.sleeps[0] <= 30.1  # the header has whole seconds only


def test_retry_after_is_capped_by_retry_after_cap(respx_mock, fake_time):
    policy = RetryPolicy(retry_after_cap=20, max_total_wait=10_000)
    respx_mock.get(f"{BASE}/items").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "3600"}), ok()]
    )
    client(fake_time, policy=policy).get("/items")
    assert len(fake_time.sleeps) == 1
    assert 20.0 <= fake_time.sleeps[0] <= 20.1


def test_retry_after_beyond_the_wait_budget_gives_up_at_once(respx_mock, fake_time):
    policy = RetryPolicy(max_total_wait=60)
    route = respx_mock.get(f"{BASE}/items").mock(
        return_value=httpx.Response(429, headers={"Retry-After": "600"})
    )
    with pytest.raises(RateLimitedError) as info:
        client(fake_time, policy=policy).get("/items")
    assert info.value.retry_after == 600
    assert info.value.status == 429
    assert route.call_count == 1
    assert fake_time.sleeps == []


# -- 5xx and transport errors ---------------------------------------------------------------


def test_503_then_success_is_retried_after_a_backoff(respx_mock, fake_time):
    route = respx_mock.get(f"{BASE}/items").mock(side_effect=[httpx.Response(503), ok()])
    response = client(fake_time).get("/items")
    assert response.status_code == 200
    assert route.call_count == 2
    # First backoff: between half and all of backoff_initial (0.5 s), jittered.
    assert len(fake_time.sleeps) == 1
    assert 0.25 <= fake_time.sleeps[0] <= 0.5


@pytest.mark.parametrize("status", [502, 504])
def test_gateway_errors_are_retried(respx_mock, fake_time, status):
    route = respx_mock.get(f"{BASE}/items").mock(side_effect=[httpx.Response(status), ok()])
    assert client(fake_time).get("/items").status_code == 200
    assert route.call_count == 2


def test_500_is_returned_not_retried(respx_mock, fake_time):
    route = respx_mock.get(f"{BASE}/items").mock(return_value=httpx.Response(500))
    assert client(fake_time).get("/items").status_code == 500
    assert route.call_count == 1


def test_backoff_grows_exponentially_up_to_backoff_max(respx_mock, fake_time):
    policy = RetryPolicy(max_attempts=7, backoff_initial=1, backoff_max=4, max_total_wait=1000)
    respx_mock.get(f"{BASE}/items").mock(return_value=httpx.Response(503))
    with pytest.raises(RetryableRemoteError):
        client(fake_time, policy=policy).get("/items")
    ceilings = [1, 2, 4, 4, 4, 4]
    assert len(fake_time.sleeps) == len(ceilings)
    for slept, ceiling in zip(fake_time.sleeps, ceilings, strict=True):
        assert ceiling / 2 <= slept <= ceiling


@pytest.mark.parametrize("error", [httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError])
def test_get_failing_after_it_was_sent_is_retried(respx_mock, fake_time, error):
    route = respx_mock.get(f"{BASE}/items").mock(side_effect=[error("boom"), ok()])
    assert client(fake_time).get("/items").status_code == 200
    assert route.call_count == 2


@pytest.mark.parametrize("error", [httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.WriteError])
def test_post_failing_after_it_was_sent_is_not_retried(respx_mock, fake_time, error):
    route = respx_mock.post(f"{BASE}/orders").mock(side_effect=[error("boom"), httpx.Response(201)])
    with pytest.raises(RetryableRemoteError, match="may have been applied"):
        client(fake_time).post("/orders", json={"sku": "A|||1"})
    assert route.call_count == 1
    assert fake_time.sleeps == []


@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout])
def test_post_whose_connection_never_opened_is_retried(respx_mock, fake_time, error):
    route = respx_mock.post(f"{BASE}/orders").mock(side_effect=[error("no"), httpx.Response(201)])
    assert client(fake_time).post("/orders", json={"sku": "A|||1"}).status_code == 201
    assert route.call_count == 2


def test_post_on_503_is_returned_unless_marked_idempotent(respx_mock, fake_time):
    route = respx_mock.post(f"{BASE}/graphql").mock(
        side_effect=[httpx.Response(503), httpx.Response(503), ok()]
    )
    assert client(fake_time).post("/graphql", json={}).status_code == 503
    assert route.call_count == 1
    assert client(fake_time).post("/graphql", json={}, idempotent=True).status_code == 200
    assert route.call_count == 3


def test_post_timeout_marked_idempotent_is_retried(respx_mock, fake_time):
    route = respx_mock.post(f"{BASE}/graphql").mock(side_effect=[httpx.ReadTimeout("t"), ok()])
    assert client(fake_time).post("/graphql", json={}, idempotent=True).status_code == 200
    assert route.call_count == 2


def test_retried_request_sends_the_same_body(respx_mock, fake_time):
    route = respx_mock.put(f"{BASE}/items/1").mock(side_effect=[httpx.Response(503), ok()])
    client(fake_time).put("/items/1", json={"stock": 0})
    bodies = [call.request.content for call in route.calls]
    assert bodies == [b'{"stock":0}', b'{"stock":0}']


# -- bounds ---------------------------------------------------------------------------------


def test_attempts_are_bounded_by_max_attempts(respx_mock, fake_time):
    route = respx_mock.get(f"{BASE}/items").mock(return_value=httpx.Response(503, text="down"))
    with pytest.raises(RetryableRemoteError) as info:
        client(fake_time, policy=RetryPolicy(max_attempts=3)).get("/items")
    assert not isinstance(info.value, RateLimitedError)
    assert route.call_count == 3
    assert len(fake_time.sleeps) == 2
    assert info.value.status == 503
    assert info.value.connector == "shop"
    assert "down" in str(info.value)


def test_total_wait_is_bounded_by_max_total_wait(respx_mock, fake_time):
    policy = RetryPolicy(max_attempts=50, backoff_initial=2, backoff_max=8, max_total_wait=15)
    route = respx_mock.get(f"{BASE}/items").mock(return_value=httpx.Response(503))
    with pytest.raises(RetryableRemoteError):
        client(fake_time, policy=policy).get("/items")
    assert sum(fake_time.sleeps) <= 15 + 1e-9
    assert sum(fake_time.sleeps) >= 15 - 1e-9  # the budget was used, not abandoned early
    assert route.call_count < 50


def test_max_attempts_one_means_no_retry(respx_mock, fake_time):
    route = respx_mock.get(f"{BASE}/items").mock(side_effect=httpx.ReadTimeout("t"))
    with pytest.raises(RetryableRemoteError):
        client(fake_time, policy=RetryPolicy(max_attempts=1)).get("/items")
    assert route.call_count == 1
    assert fake_time.sleeps == []


# -- a plugin's own retry signal, and pacing --------------------------------------------------


def throttled_in_body(response: httpx.Response) -> RetryHint | None:
    if b"THROTTLED" in response.content:
        return RetryHint("THROTTLED", wait=2.5)
    return None


def test_retry_hint_in_a_200_body_is_retried_with_its_wait(respx_mock, fake_time):
    route = respx_mock.post(f"{BASE}/graphql").mock(
        side_effect=[httpx.Response(200, json={"errors": [{"code": "THROTTLED"}]}), ok()]
    )
    http = client(fake_time, retry_signal=throttled_in_body)
    # A plain POST: the hint means "refused", so it is retried whatever the method.
    assert http.post("/graphql", json={}).text == "ok"
    assert route.call_count == 2
    assert len(fake_time.sleeps) == 1
    assert 2.5 <= fake_time.sleeps[0] <= 2.6
    assert http.stats["throttled"] == 1


def test_retry_hint_until_exhausted_raises_rate_limited(respx_mock, fake_time):
    respx_mock.post(f"{BASE}/graphql").mock(return_value=httpx.Response(200, text="THROTTLED"))
    http = client(fake_time, retry_signal=throttled_in_body, policy=RetryPolicy(max_attempts=2))
    with pytest.raises(RateLimitedError) as info:
        http.post("/graphql", json={})
    assert info.value.retry_after == 2.5


class RecordingLimiter:
    """A RateLimiter that asks for scripted waits and records what it observes."""

    def __init__(self, waits: list[float], events: list[str]) -> None:
        self.waits = list(waits)
        self.events = events
        self.observed: list[int] = []

    def wait_time(self) -> float:
        return self.waits.pop(0) if self.waits else 0.0

    def observe(self, response: httpx.Response) -> None:
        self.observed.append(response.status_code)


def test_rate_limiter_wait_is_slept_before_sending_and_sees_every_response(respx_mock, fake_time):
    events: list[str] = []

    def send(request):
        events.append("send")
        return responses.pop(0)

    def sleep(seconds):
        events.append(f"sleep {seconds:g}")
        fake_time.sleep(seconds)

    responses = [ok(), httpx.Response(429, headers={"Retry-After": "1"}), ok()]
    respx_mock.get(f"{BASE}/items").mock(side_effect=send)
    limiter = RecordingLimiter([0.0, 1.5, 0.0], events)
    http = HttpClient(
        connector="shop", base_url=BASE, sleep=sleep, clock=fake_time, rate_limiter=limiter
    )
    http.get("/items")
    http.get("/items")
    assert events[:3] == ["send", "sleep 1.5", "send"]
    assert events[3].startswith("sleep 1")  # the 429's Retry-After
    assert events[4:] == ["send"]
    assert limiter.observed == [200, 429, 200]
    assert http.stats["requests"] == 3


# -- errors, redaction of URLs, transports ------------------------------------------------------


def test_exhausted_throttling_raises_rate_limited_with_a_redacted_url(respx_mock, fake_time):
    respx_mock.get(f"{BASE}/items").mock(
        return_value=httpx.Response(429, headers={"Retry-After": "1"})
    )
    http = client(fake_time, policy=RetryPolicy(max_attempts=2))
    with pytest.raises(RateLimitedError) as info:
        http.get("/items", params={"consumer_secret": "cs_TOPSECRET", "page": "2"})
    error = info.value
    assert "cs_TOPSECRET" not in str(error)
    assert error.url is not None
    assert "cs_TOPSECRET" not in error.url
    assert "consumer_secret=***" in error.url
    assert "page=2" in error.url
    assert error.retry_after == 1
    assert error.status == 429


def test_exhausted_5xx_raises_retryable_with_a_redacted_url(respx_mock, fake_time):
    respx_mock.get(f"{BASE}/items").mock(return_value=httpx.Response(503))
    http = client(fake_time, policy=RetryPolicy(max_attempts=2))
    with pytest.raises(RetryableRemoteError) as info:
        http.get("/items", params={"oauth_signature": "sig_TOPSECRET"})
    assert not isinstance(info.value, RateLimitedError)
    assert "sig_TOPSECRET" not in str(info.value)
    assert "sig_TOPSECRET" not in (info.value.url or "")
    assert "oauth_signature=***" in str(info.value)


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, PermanentRemoteError),
        (422, PermanentRemoteError),
        (400, PermanentRemoteError),
        (429, RateLimitedError),
        (500, RetryableRemoteError),
        (502, RetryableRemoteError),
        (503, RetryableRemoteError),
    ],
)
def test_raise_for_status_maps_statuses_to_typed_errors(fake_time, status, error_type):
    request = httpx.Request("GET", f"{BASE}/items/9?token=tk_TOPSECRET")
    response = httpx.Response(status, text="refused tk_TOPSECRET", request=request)
    http = client(fake_time, secrets=["tk_TOPSECRET"])
    with pytest.raises(error_type) as info:
        http.raise_for_status(response)
    assert type(info.value) is error_type
    assert info.value.status == status
    assert "tk_TOPSECRET" not in str(info.value)
    assert "/items/9" in str(info.value)
    if error_type in (PermanentRemoteError, AuthenticationError):
        assert not isinstance(info.value, RetryableRemoteError)


@pytest.mark.parametrize("status", [200, 201, 204, 302])
def test_raise_for_status_returns_success(fake_time, status):
    response = httpx.Response(status, request=httpx.Request("GET", f"{BASE}/x"))
    assert client(fake_time).raise_for_status(response) is response


def test_caller_supplied_transport_is_used(fake_time):
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"from": "mock transport"})

    http = client(fake_time, transport=httpx.MockTransport(handler))
    assert http.get("/items", params={"page": "1"}).json() == {"from": "mock transport"}
    assert seen == [f"{BASE}/items?page=1"]


def test_connector_context_passes_transport_sleep_and_clock_to_the_client(fake_time):
    calls = iter([httpx.Response(503), httpx.Response(200)])
    context = ConnectorContext(
        name="shop",
        transport=httpx.MockTransport(lambda request: next(calls)),
        sleep=fake_time.sleep,
        clock=fake_time,
    )
    settings = ConnectorSettings(retry=RetryPolicy(backoff_initial=4))
    http = context.http_client(settings, base_url=BASE)
    assert http.get("/x").status_code == 200
    assert len(fake_time.sleeps) == 1
    assert 2 <= fake_time.sleeps[0] <= 4  # the settings' policy, not the default one


def test_every_attempt_is_logged_with_its_context(respx_mock, fake_time):
    respx_mock.get(f"{BASE}/items/5").mock(side_effect=[httpx.Response(503), ok()])
    with structlog.testing.capture_logs() as logs:
        client(fake_time).get("/items/5", operation="fetch_orders")
    attempts = [e for e in logs if e["event"] in ("http.retryable_status", "http.response")]
    assert [(e["attempt"], e["status"]) for e in attempts] == [(1, 503), (2, 200)]
    for event in attempts:
        assert event["connector"] == "shop"
        assert event["method"] == "GET"
        assert event["host"] == "shop.example"
        assert event["path"] == "/items/5"
        assert event["operation"] == "fetch_orders"
        assert isinstance(event["elapsed_ms"], float)


def test_transport_errors_are_logged_per_attempt(respx_mock, fake_time):
    respx_mock.get(f"{BASE}/items").mock(side_effect=[httpx.ConnectError("refused"), ok()])
    with structlog.testing.capture_logs() as logs:
        client(fake_time).get("/items")
    failures = [e for e in logs if e["event"] == "http.transport_error"]
    assert [(e["attempt"], e["error"]) for e in failures] == [(1, "ConnectError")]


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        (" 7 ", 7.0),
        ("2.5", 2.5),
        ("-3", 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # long past: go now
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after_reads_seconds_and_dates(value, seconds):
    assert parse_retry_after(value) == seconds


def test_parse_retry_after_date_is_relative_to_the_given_now():
    now = datetime(2015, 10, 21, 7, 27, 0, tzinfo=UTC)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 60.0


def test_unparseable_retry_after_falls_back_to_backoff(respx_mock, fake_time):
    respx_mock.get(f"{BASE}/items").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "soon"}), ok()]
    )
    client(fake_time).get("/items")
    assert len(fake_time.sleeps) == 1
    assert 0.25 <= fake_time.sleeps[0] <= 0.5


def test_truncated_json_is_retried_when_json_is_expected_and_safe(respx_mock, fake_time):
    cut = httpx.Response(
        200, content=b'{"items": [1, 2', headers={"content-type": "application/json"}
    )
    whole = httpx.Response(200, json={"items": [1, 2]})
    route = respx_mock.get(f"{BASE}/items").mock(side_effect=[cut, whole])
    response = client(fake_time).get("/items", expect_json=True)
    assert response.json() == {"items": [1, 2]}
    assert route.call_count == 2


def test_truncated_json_of_an_unsafe_post_is_returned_not_resent(respx_mock, fake_time):
    cut = httpx.Response(200, content=b'{"id": 4', headers={"content-type": "application/json"})
    route = respx_mock.post(f"{BASE}/orders").mock(side_effect=[cut, ok()])
    response = client(fake_time).post("/orders", json={}, expect_json=True)
    assert response.content == b'{"id": 4'
    assert route.call_count == 1


def test_without_expect_json_a_body_is_never_judged(respx_mock, fake_time):
    route = respx_mock.get(f"{BASE}/page").mock(side_effect=[httpx.Response(200, text="<html>")])
    assert client(fake_time).get("/page").text == "<html>"
    assert route.call_count == 1
