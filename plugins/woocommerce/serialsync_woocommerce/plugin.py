"""Registers the ``woocommerce`` connector type with serialsync."""

from __future__ import annotations

from serialsync import ConnectorType, ConnectorTypeRegistrar, Role, hookimpl

from serialsync_woocommerce.connector import WooCommerceConnector
from serialsync_woocommerce.fake import FakeWooCommerce
from serialsync_woocommerce.settings import WooCommerceSettings


@hookimpl
def register_connector_types(registrar: ConnectorTypeRegistrar) -> None:
    """Declare the WooCommerce channel."""
    registrar.add(
        ConnectorType(
            name="woocommerce",
            role=Role.CHANNEL,
            settings_model=WooCommerceSettings,
            factory=WooCommerceConnector,
            description="WooCommerce store (REST wp-json/wc/v3): one variation per serial",
            fake=FakeWooCommerce,
        )
    )
