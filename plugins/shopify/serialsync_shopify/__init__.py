"""serialsync plugin: Shopify, a sales channel spoken to through the Admin GraphQL API 2026-07.

Modules: ``settings`` (the connector's settings), ``documents`` (every GraphQL document sent,
and its expected cost), ``client`` (the wire), ``ratelimit`` (cost-bucket pacing and THROTTLED
retries), ``mapping`` (Shopify JSON <-> canonical model), ``publish`` (publish_variants),
``outcomes`` (per-unit outcomes from userErrors), ``connector`` (the hooks), ``plugin``
(registration). The fake store: ``fake`` (HTTP, auth, cost bucket), ``fake_graphql`` (parsing,
cost, projection), ``fake_catalog`` (products, variants, stock), ``fake_orders`` (orders).
"""

from serialsync_shopify.connector import ShopifyConnector
from serialsync_shopify.fake import FakeShopify
from serialsync_shopify.settings import ShopifySettings

__all__ = ["FakeShopify", "ShopifyConnector", "ShopifySettings"]
