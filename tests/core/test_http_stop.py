"""A stop ends the HTTP client's waits at once and keeps its next request from going (#21/1)."""

from __future__ import annotations

import threading

import httpx
import pytest
from serialsync import HttpClient, RetryPolicy
from serialsync.stopping import StopRequested


def _unavailable(sent: list[httpx.Request]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(503)

    return httpx.MockTransport(answer)


def test_a_stop_wakes_a_real_retry_wait_and_no_request_follows():
    sent: list[httpx.Request] = []
    stop = threading.Event()
    # A 60-second backoff, waited in real time: only the stop can end it early.
    policy = RetryPolicy(backoff_initial=60, backoff_max=60, max_total_wait=600)
    http = HttpClient(
        connector="shop",
        base_url="https://shop.test",
        policy=policy,
        transport=_unavailable(sent),
        stop=stop,
    )
    timer = threading.Timer(0.2, stop.set)
    timer.start()
    try:
        with pytest.raises(StopRequested, match=r"^http\.wait$"):
            http.get("/products")
    finally:
        timer.cancel()
    assert len(sent) == 1  # the retry after the wait was never sent
    assert http.stats["retries"] == 1


def test_an_injected_sleep_is_called_and_the_stop_checked_after_it():
    sent: list[httpx.Request] = []
    stop = threading.Event()
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        stop.set()  # the operator's Ctrl-C, during the (recorded) wait

    http = HttpClient(
        connector="shop",
        base_url="https://shop.test",
        transport=_unavailable(sent),
        sleep=sleep,
        stop=stop,
    )
    with pytest.raises(StopRequested):
        http.get("/products")
    assert len(waits) == 1 and len(sent) == 1


def test_a_stopped_client_sends_nothing():
    sent: list[httpx.Request] = []
    stop = threading.Event()
    stop.set()
    http = HttpClient(
        connector="shop", base_url="https://shop.test", transport=_unavailable(sent), stop=stop
    )
    with pytest.raises(StopRequested, match=r"^http\.before_send$"):
        http.get("/products")
    assert sent == []


def test_without_a_stop_event_the_client_waits_out_its_retries():
    sent: list[httpx.Request] = []
    waits: list[float] = []
    http = HttpClient(
        connector="shop",
        base_url="https://shop.test",
        transport=_unavailable(sent),
        sleep=waits.append,
        policy=RetryPolicy(max_attempts=3),
    )
    response_error = pytest.raises(Exception, match="still failing after retries")
    with response_error:
        http.get("/products")
    assert len(sent) == 3 and len(waits) == 2
