"""Registers the ``magento`` connector type (entry point ``serialsync_magento.plugin``)."""

from __future__ import annotations

from serialsync import ConnectorType, ConnectorTypeRegistrar, Role, hookimpl

from serialsync_magento.connector import MagentoConnector
from serialsync_magento.fake import FakeMagento
from serialsync_magento.settings import MagentoSettings


@hookimpl
def register_connector_types(registrar: ConnectorTypeRegistrar) -> None:
    """Declare the Magento channel connector type and its fake."""
    registrar.add(
        ConnectorType(
            name="magento",
            role=Role.CHANNEL,
            settings_model=MagentoSettings,
            factory=MagentoConnector,
            description="Magento 2 / Adobe Commerce over REST V1 with MSI: one configurable "
            "parent per POS SKU, one simple child per serial",
            fake=FakeMagento,
        )
    )
