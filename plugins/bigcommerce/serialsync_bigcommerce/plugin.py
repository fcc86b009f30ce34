"""Registration of the ``bigcommerce`` connector type (entry point ``serialsync``)."""

from __future__ import annotations

from serialsync import ConnectorType, ConnectorTypeRegistrar, Role, hookimpl

from serialsync_bigcommerce.connector import BigCommerceConnector
from serialsync_bigcommerce.fake import FakeBigCommerce
from serialsync_bigcommerce.settings import BigCommerceSettings


@hookimpl
def register_connector_types(registrar: ConnectorTypeRegistrar) -> None:
    """Declare the ``bigcommerce`` channel."""
    registrar.add(
        ConnectorType(
            name="bigcommerce",
            role=Role.CHANNEL,
            settings_model=BigCommerceSettings,
            factory=BigCommerceConnector,
            description="BigCommerce store: catalog v3 variants, orders v2",
            fake=FakeBigCommerce,
        )
    )
