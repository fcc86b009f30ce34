"""Settings of one BigCommerce connector (one store)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator
from serialsync import ConnectorSettings

DEFAULT_BASE_URL = "https://api.bigcommerce.com"


class BigCommerceSettings(ConnectorSettings):
    """One BigCommerce store.

    ``base_url`` is the API host; the sandbox points it at a fake on ``http://127.0.0.1:PORT``.
    Requests go to ``{base_url}/stores/{store_hash}/v3/…`` and ``…/v2/…``.

    ``plan_quota`` is the store's requests per 30-second window (150 on Standard/Plus, 450 on
    Pro); the limiter uses it only until the first response reports the real quota.
    ``rate_limit_reserve`` is how many requests of the window to leave unused: the quota is
    shared by every app installed on the store, so running it down to zero starves them and
    invites a 429.

    ``withdraw_mode``: ``"zero_stock"`` (default) sets a withdrawn unit's variant to inventory 0
    through the batch endpoint, 50 units a request; ``"delete"`` deletes the variant (one
    request per unit, as BigCommerce has no batch delete) and so frees room under the
    600-variants-per-product limit.
    """

    store_hash: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$")
    access_token: SecretStr
    base_url: str = DEFAULT_BASE_URL
    location_id: int = Field(default=1, ge=1)
    plan_quota: int = Field(default=150, ge=1)
    rate_limit_reserve: int = Field(default=5, ge=0)
    withdraw_mode: Literal["zero_stock", "delete"] = "zero_stock"
    orders_page_size: int = Field(default=250, ge=1, le=250)

    @field_validator("access_token")
    @classmethod
    def _token_not_blank(cls, value: SecretStr) -> SecretStr:
        # Too short a token could not be scrubbed from free text (see serialsync.redaction).
        if len(value.get_secret_value().strip()) < 4:
            raise ValueError("the access token is empty or too short")
        return value

    @field_validator("location_id")
    @classmethod
    def _default_location_only(cls, value: int) -> int:
        # Catalog writes (variant inventory_level) land on the default location only; other
        # locations need the asynchronous inventory adjustments API, not spoken yet.
        if value != 1:
            raise ValueError(
                "only the default inventory location (1) is supported: variant stock is "
                "written through the catalog, which addresses the default location"
            )
        return value

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        value = value.rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value

    @property
    def store_url(self) -> str:
        """The root every API path hangs from: ``{base_url}/stores/{store_hash}``."""
        return f"{self.base_url}/stores/{self.store_hash}"
