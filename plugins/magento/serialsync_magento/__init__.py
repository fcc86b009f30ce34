"""serialsync plugin: magento (Magento 2 / Adobe Commerce, REST V1 with MSI).

Modules: ``settings`` (connector settings), ``auth`` (OAuth 1.0a signing), ``client`` (every
REST call), ``mapping`` (payloads and orders <-> canonical model), ``serial_options`` (the
serial attribute and its options), ``publish`` (publish_variants, with its request counts),
``bulk`` (the asynchronous bulk path, used while the store's consumers run), ``connector``
(the hooks), ``fake`` (an in-memory Magento), ``plugin`` (registration).
"""

from serialsync_magento.connector import MagentoConnector
from serialsync_magento.fake import FakeMagento
from serialsync_magento.settings import MagentoSettings, OAuth1Credentials

__all__ = ["FakeMagento", "MagentoConnector", "MagentoSettings", "OAuth1Credentials"]
