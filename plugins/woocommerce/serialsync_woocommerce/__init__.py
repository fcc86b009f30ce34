"""serialsync plugin: woocommerce — a WooCommerce store as a channel (REST ``wp-json/wc/v3``).

Each POS SKU is one ``variable`` product whose "Serial" attribute lists the live serials; each
unit is one variation whose SKU is the integration id ``SKU|||SERIAL``.
"""

from serialsync_woocommerce.auth import OAuth1Auth, QueryStringAuth
from serialsync_woocommerce.connector import WooCommerceConnector
from serialsync_woocommerce.fake import FakeWooCommerce
from serialsync_woocommerce.settings import WooCommerceSettings

__all__ = [
    "FakeWooCommerce",
    "OAuth1Auth",
    "QueryStringAuth",
    "WooCommerceConnector",
    "WooCommerceSettings",
]
