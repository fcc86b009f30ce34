"""Many merchants in one deployment: their register and their sealed configurations."""

from serialsync.merchants.registry import (
    Merchant,
    MerchantExistsError,
    MerchantNotFoundError,
    MerchantRegistry,
)
from serialsync.merchants.secrets import SECRET_KEY_ENV, SecretBox, SecretKeyError, new_key

__all__ = [
    "SECRET_KEY_ENV",
    "Merchant",
    "MerchantExistsError",
    "MerchantNotFoundError",
    "MerchantRegistry",
    "SecretBox",
    "SecretKeyError",
    "new_key",
]
