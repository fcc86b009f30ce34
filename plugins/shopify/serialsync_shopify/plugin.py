"""Registers the Shopify connector type (entry point ``shopify``)."""

from __future__ import annotations

from serialsync import ConnectorType, ConnectorTypeRegistrar, Role, hookimpl

from serialsync_shopify.connector import ShopifyConnector
from serialsync_shopify.fake import FakeShopify
from serialsync_shopify.settings import ShopifySettings


@hookimpl
def register_connector_types(registrar: ConnectorTypeRegistrar) -> None:
    """Declare the ``shopify`` channel, its settings, its connector and its fake."""
    registrar.add(
        ConnectorType(
            name="shopify",
            role=Role.CHANNEL,
            settings_model=ShopifySettings,
            factory=ShopifyConnector,
            description="Shopify store (Admin GraphQL API 2026-07): one variant per serial",
            fake=FakeShopify,
        )
    )
