"""The POS changes while a pass reads it: no item may be skipped for good.

AIM pages by offset over items sorted by their change time. An item that changes while a
multi-page read is under way moves to the end, every later item moves up one place, and the
next page starts one item too far: the item at the boundary is skipped. Its change is older
than the cursor the pass saves, so no later pass would read it either.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from serialsync.sandbox import Sandbox

from tests.reliability import harness as h

pytestmark = [pytest.mark.reliability, pytest.mark.e2e, pytest.mark.timeout(h.timeout())]


class PosClock:
    """The POS's clock: the catalogue was stocked an hour ago, ten seconds between changes
    (AIM keeps whole seconds); once ``live``, changes happen now."""

    def __init__(self) -> None:
        self.live = False
        self._ticks = itertools.count()
        self._start = datetime.now(UTC) - timedelta(hours=1)

    def __call__(self) -> datetime:
        if self.live:
            return datetime.now(UTC)
        return self._start + timedelta(seconds=10 * next(self._ticks))


@pytest.mark.parametrize("page_size", [1, 2, 3])
def test_an_item_changed_during_a_multi_page_read_skips_nothing(tmp_path, page_size) -> None:
    catalogue = h.catalogue(skus=6, units=12, seed=h.seed())
    clock = PosClock()
    options = {"aim_pos": {"clock": clock}}
    with Sandbox(
        catalogue=catalogue,
        types=["aim_pos", "woocommerce"],
        plugins=h.sandbox_plugins(options=options),
    ) as sandbox:
        aim = sandbox.pos_fakes()[h.POS]
        serve = aim.handle
        changed: list[str] = []

        def change_after_the_first_page(request: httpx.Request) -> httpx.Response:
            response = serve(request)
            if request.url.path.endswith("/SearchInventory") and not changed:
                # The store's staff reprice the first item while the pass reads on.
                unit = catalogue[0].units[0]
                clock.live = True
                aim.set_price(unit.sku, unit.serial, "1.00")  # type: ignore[attr-defined]
                changed.append(unit.sku)
            return response

        aim.handle = change_after_the_first_page  # type: ignore[method-assign]
        config = h.write_config(sandbox, tmp_path, connectors={"aim_pos": {"page_size": page_size}})
        with h.open_host(config) as host:
            for _ in range(3):
                host.inventory_pass()
            assert changed
            assert host.store.product_skus() == sorted(p.sku for p in catalogue)
            assert len(host.store.all_units()) == 12
            h.check_listings(host.store, sandbox)
