"""Fixtures for the AIM plugin's tests: a fake AIM, a controllable clock, connectors on it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from serialsync import (
    ConnectorContext,
    FinancialStatus,
    Product,
    Sale,
    SaleLine,
    SerializedUnit,
)
from serialsync_aim_pos import AimConnector, AimSettings, FakeAim

from tests.clocks import WallClock

DISCOVERY = "https://active-ewebservice.biz/aeservices30"


@pytest.fixture
def clock() -> WallClock:
    return WallClock(datetime(2026, 11, 23, 15, 0, 0, tzinfo=UTC))


@pytest.fixture
def fake(clock: WallClock) -> FakeAim:
    return FakeAim(clock=clock)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_connector(
    fake: FakeAim, sleeps: list[float], clock: WallClock
) -> Callable[..., AimConnector]:
    """Build a connector on the fake (through its transport unless ``use_transport=False``)."""

    def build(*, use_transport: bool = True, **overrides: Any) -> AimConnector:
        options = {**fake.connector_settings(DISCOVERY), **overrides}
        settings = AimSettings.model_validate(options)
        context = ConnectorContext(
            name="aim",
            transport=fake.transport() if use_transport else None,
            sleep=sleeps.append,
            clock=lambda: 0.0,
        )
        connector = AimConnector(settings, context)
        # An hour ahead of AIM's clock: the cursor bound stays out of the way unless a test
        # sets its own.
        connector.wall_clock = lambda: clock.now + timedelta(hours=1)
        return connector

    return build


@pytest.fixture
def connector(make_connector: Callable[..., AimConnector]) -> AimConnector:
    return make_connector()


def product(sku: str, *serials: str, price: str = "100.00", **unit_fields: Any) -> Product:
    """A product with one in-stock unit per serial."""
    return Product(
        sku=sku,
        title=f"Item {sku}",
        price=Decimal(price),
        units=tuple(SerializedUnit(sku=sku, serial=s, **unit_fields) for s in serials),
    )


def sale(
    *lines: tuple[str, str | None],
    number: str = "1001",
    status: FinancialStatus = FinancialStatus.PAID,
    channel: str = "shop",
) -> Sale:
    """A sale of ``(sku, serial)`` lines, one unit each, at 100.00."""
    return Sale(
        idempotency_key=f"{channel}:{number}",
        channel=channel,
        order_id=f"gid-{number}",
        order_number=number,
        status=status,
        lines=tuple(
            SaleLine(line_id=str(i), sku=sku, serial=serial, quantity=1, price=Decimal("100"))
            for i, (sku, serial) in enumerate(lines, 1)
        ),
        total=Decimal(100 * len(lines)),
        placed_at=datetime(2026, 11, 23, 14, 0, tzinfo=UTC),
    )


@pytest.fixture
def helpers() -> Any:
    """The builders above, for tests (conftest modules are not importable by name)."""

    class Helpers:
        product = staticmethod(product)
        sale = staticmethod(sale)

    return Helpers
