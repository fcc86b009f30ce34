"""The plugin registers like any third-party plugin, and its hooks answer through the manager."""

from __future__ import annotations

import ast
import pathlib
from datetime import UTC, datetime
from decimal import Decimal

from serialsync import (
    ConnectorContext,
    FinancialStatus,
    Product,
    Role,
    Sale,
    SaleLine,
    SerializedUnit,
)
from serialsync.manager import PluginManager
from serialsync_aim_pos import plugin
from serialsync_aim_pos.fake import FakeAim

PLUGIN_DIR = pathlib.Path(plugin.__file__).parent


def test_registers_the_aim_pos_type_with_its_fake():
    manager = PluginManager(load_entrypoints=False, plugins={"aim_pos": plugin})
    ctype = manager.connector_types["aim_pos"]
    assert ctype.role is Role.POS
    assert ctype.fake is FakeAim
    assert isinstance(ctype.fake(), FakeAim)


def test_hooks_answer_through_the_plugin_manager():
    fake = FakeAim()
    fake.add_product(
        Product(sku="A", title="A", price=10, units=(SerializedUnit(sku="A", serial="A1"),))
    )
    manager = PluginManager(load_entrypoints=False, plugins={"aim_pos": plugin})
    manager.add_connector(
        "store",
        "aim_pos",
        fake.connector_settings("https://active-ewebservice.biz/aeservices30"),
        ConnectorContext(name="store", transport=fake.transport()),
    )
    assert "employee 1001" in manager.check_connection("store")
    page = manager.fetch_inventory("store", None, None)
    assert [u.serial for p in page.products for u in p.units] == ["A1"]
    sale = Sale(
        idempotency_key="shop:1",
        channel="shop",
        order_id="1",
        order_number="1001",
        status=FinancialStatus.PAID,
        lines=(SaleLine(line_id="1", sku="A", serial="A1", quantity=1, price=Decimal("10")),),
        placed_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert manager.report_sale("store", sale).already_recorded is False
    assert manager.report_sale("store", sale).already_recorded is True
    assert sorted(manager.plugin_hooks("store")) == [
        "check_connection",
        "fetch_inventory",
        "probe_contract",
        "report_sale",
    ]


def test_the_plugin_imports_only_public_serialsync_names():
    allowed = {"serialsync", "serialsync.testing"}
    for path in PLUGIN_DIR.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("serialsync")
                and not node.module.startswith("serialsync_aim_pos")
            ):
                assert node.module in allowed, f"{path.name} imports {node.module}"
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith("serialsync_") or alias.name.startswith(
                        "serialsync_aim_pos"
                    ), f"{path.name} imports {alias.name}"
