"""The fake platform base: faults happen before or after the request is applied, as asked."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from serialsync.testing import FakePlatform, Faults


class Counter(FakePlatform):
    """Counts the requests it applied."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.applied = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.applied += 1
        return httpx.Response(200, json={"applied": self.applied})


@pytest.mark.parametrize(("after_apply", "applied"), [(1.0, 1), (0.0, 0)])
def test_timeout_fault_happens_after_or_before_applying(after_apply, applied):
    fake = Counter(faults=Faults(rate_timeout=1, after_apply=after_apply, seed=3))
    with pytest.raises(httpx.ReadTimeout):
        fake(httpx.Request("POST", "https://fake.invalid/orders"))
    assert fake.applied == applied
    assert fake.injected == {"timeout": 1}
    assert fake.requests == [("POST", "/orders")]


def test_fake_serves_as_a_mock_transport_and_injects_429():
    fake = Counter(faults=Faults(rate_429=1, seed=1))
    with httpx.Client(transport=fake.transport()) as client:
        response = client.get("https://fake.invalid/x")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert fake.applied == 0
