"""Testing kit for serialsync and its plugins: platform fake base classes and fault injection.

The conformance suite for plugin authors lives in :mod:`serialsync.testing.conformance` and is
shipped as a pytest plugin (entry point ``pytest11``).
"""

from serialsync.testing.fake import (
    FakeChannel,
    FakeListing,
    FakePlatform,
    FakePOS,
    Faults,
    ItemDamage,
    OrderDamage,
    RecordedOrder,
)
from serialsync.testing.webhooks import Delivery, DeliveryLog, WebhookSender

__all__ = [
    "Delivery",
    "DeliveryLog",
    "FakeChannel",
    "FakeListing",
    "FakePOS",
    "FakePlatform",
    "Faults",
    "ItemDamage",
    "OrderDamage",
    "RecordedOrder",
    "WebhookSender",
]
