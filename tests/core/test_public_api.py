"""The public surface of ``serialsync``: what plugins may import, pinned (as httpx does).

Adding or removing a public name is a decision: make it here, in the same change.
"""

from __future__ import annotations

import types

import serialsync
import serialsync.testing

EXPECTED_ALL = [
    "AdaptiveLimit",
    "AuthenticationError",
    "CHANNEL_SKU_LIMITS",
    "ConfigurationError",
    "Connector",
    "ConnectorContext",
    "ConnectorSettings",
    "ConnectorType",
    "ConnectorTypeRegistrar",
    "ContractGap",
    "DuplicateSerialError",
    "FieldGroup",
    "FinancialStatus",
    "HttpClient",
    "IntegrationId",
    "IntegrationIdError",
    "InvalidRecordError",
    "InventoryPage",
    "LifecycleError",
    "ListingAction",
    "ListingChange",
    "ListingsPage",
    "MoveSource",
    "Order",
    "OrderLine",
    "OrdersPage",
    "PermanentRemoteError",
    "PluginError",
    "ProbeReport",
    "Product",
    "PublishOutcome",
    "PublishResult",
    "RateLimitedError",
    "RateLimiter",
    "RemoteError",
    "RemoteIds",
    "RemoteListing",
    "RetryHint",
    "RetryPolicy",
    "RetrySignal",
    "RetryableRemoteError",
    "Role",
    "Sale",
    "SaleLine",
    "SaleLinesRefusedError",
    "SaleReceipt",
    "SchemaVersionError",
    "SerialPatternError",
    "SerialRules",
    "SerializedUnit",
    "SerialsyncError",
    "StillForSale",
    "StoreError",
    "StoreLockedError",
    "Timeouts",
    "UnitKey",
    "UnitStatus",
    "UnreadableRecord",
    "WebhookDelivery",
    "WebhookSignatureError",
    "WebhookSubscription",
    "__version__",
    "check_length",
    "compose",
    "every_unit_for_sale",
    "hmac_sha256_base64",
    "hookimpl",
    "in_this_context",
    "is_urgent",
    "is_withdrawing",
    "parse",
    "secret_matches",
    "signature_matches",
    "urgent",
    "withdrawing",
]

EXPECTED_TESTING_ALL = [
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


def test_all_is_pinned():
    assert sorted(serialsync.__all__) == EXPECTED_ALL
    assert len(set(serialsync.__all__)) == len(serialsync.__all__)


def test_testing_kit_all_is_pinned():
    assert sorted(serialsync.testing.__all__) == EXPECTED_TESTING_ALL


def test_every_exported_name_exists():
    for module in (serialsync, serialsync.testing):
        missing = [name for name in module.__all__ if not hasattr(module, name)]
        assert missing == [], module.__name__


def test_every_public_attribute_of_the_package_is_exported():
    # Submodules are attributes too; they are reached through the names above, not directly.
    public = {
        name
        for name, value in vars(serialsync).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public <= set(serialsync.__all__)


def test_every_exported_error_belongs_to_the_one_tree():
    errors = [
        getattr(serialsync, name)
        for name in serialsync.__all__
        if isinstance(getattr(serialsync, name), type)
        and issubclass(getattr(serialsync, name), BaseException)
    ]
    assert len(errors) == 18
    assert all(issubclass(error, serialsync.SerialsyncError) for error in errors)
