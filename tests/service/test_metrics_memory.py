"""``Metrics`` keeps bounded memory for the life of a process (no server, no HTTP)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from serialsync.service import metrics as metrics_module
from serialsync.service.metrics import Metrics
from serialsync.store import SaleWindow, SQLiteStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def metrics(tmp_path: Path) -> Iterator[Metrics]:
    store = SQLiteStore.open(tmp_path / "s.db")
    yield Metrics(store)
    store.close()


def _window(n: int) -> SaleWindow:
    return SaleWindow(
        channel="shop",
        order_id=f"o{n}",
        serial=f"S{n}",
        placed_at=T0,
        claimed_at=T0,
        closed_at=T0 + timedelta(seconds=2),
    )


def _count(metrics: Metrics) -> float | None:
    return metrics.registry.get_sample_value("serialsync_oversell_window_seconds_count")


def test_windows_remembered_to_observe_once_stay_bounded_over_many_passes(metrics, monkeypatch):
    monkeypatch.setattr(metrics_module, "RECENT_WINDOWS", 8)
    for n in range(1000):
        metrics.observe_window(_window(n))
        assert len(metrics._timed) <= 8
    assert _count(metrics) == 1000


def test_a_window_closed_again_soon_after_is_observed_once(metrics, monkeypatch):
    monkeypatch.setattr(metrics_module, "RECENT_WINDOWS", 8)
    for n in range(5):
        metrics.observe_window(_window(n))
    # A transaction retried after the close closes the same windows again.
    for n in range(5):
        metrics.observe_window(_window(n))
    assert _count(metrics) == 5


def test_an_open_window_is_not_observed_nor_remembered(metrics):
    metrics.observe_window(SaleWindow("shop", "o1", "S1", placed_at=T0, claimed_at=T0))
    assert _count(metrics) == 0
    assert len(metrics._timed) == 0
