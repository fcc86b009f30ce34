"""serialsync plugin: Shopify, a sales channel spoken to through the Admin GraphQL API 2026-07.

Modules: ``settings`` (the connector's settings), ``documents`` (every GraphQL document sent),
``client`` (the wire), ``ratelimit`` (cost-bucket pacing and THROTTLED retries), ``mapping``
(Shopify JSON <-> canonical model), ``publish`` (publish_variants), ``connector`` (the hooks),
``fake`` / ``fake_graphql`` (the in-memory store), ``plugin`` (registration).
"""

from serialsync_shopify.connector import ShopifyConnector
from serialsync_shopify.fake import FakeShopify
from serialsync_shopify.settings import ShopifySettings

__all__ = ["FakeShopify", "ShopifyConnector", "ShopifySettings"]
