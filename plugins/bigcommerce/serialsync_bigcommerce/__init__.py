"""serialsync plugin: BigCommerce (catalog v3 for listings, orders v2 for sales).

How BigCommerce is spoken lives here and nowhere else: :mod:`.client` (every HTTP call),
:mod:`.mapping` (BigCommerce JSON <-> the canonical model), :mod:`.ratelimit` (the
``X-Rate-Limit-*`` pacing), :mod:`.publish` (``publish_variants``), :mod:`.orders`
(``fetch_orders`` paging), :mod:`.connector` (the hooks), :mod:`.fake` (the in-memory store),
:mod:`.plugin` (registration).
"""

from serialsync_bigcommerce.connector import BigCommerceConnector
from serialsync_bigcommerce.fake import FakeBigCommerce
from serialsync_bigcommerce.settings import BigCommerceSettings

__all__ = ["BigCommerceConnector", "BigCommerceSettings", "FakeBigCommerce"]
