"""Settings of one Shopify connector (one store)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from serialsync import ConnectorSettings

DEFAULT_API_VERSION = "2026-07"
_SHOP = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
#: Shopify refuses more than 250 items in one input array of a bulk mutation.
MAX_BATCH = 250


class ShopifySettings(ConnectorSettings):
    """One store: its domain, the Admin API token, and how the plugin lists units there.

    ``shop`` accepts ``acme`` or ``acme.myshopify.com`` (a scheme and a trailing slash are
    dropped). ``base_url`` points the connector at a fake (``http://127.0.0.1:PORT``) instead of
    ``https://<shop>``. ``location_id`` is the location units are stocked at; by default the
    shop's primary location. ``batch_size`` caps every bulk mutation (Shopify's limit: 250).
    ``customer_email`` reads the order's email, which Shopify treats as protected customer data:
    turn it on only once the app is approved to read it. ``client_secret`` is the app's client
    secret (API secret key): Shopify signs every webhook delivery with it, so webhooks need it.
    """

    shop: str
    access_token: SecretStr
    client_secret: SecretStr | None = None
    api_version: str = Field(default=DEFAULT_API_VERSION, pattern=r"^\d{4}-\d{2}$")
    location_id: str | None = None
    product_status: Literal["ACTIVE", "DRAFT", "UNLISTED"] = "ACTIVE"
    batch_size: int = Field(default=MAX_BATCH, ge=1, le=MAX_BATCH)
    orders_page_size: int = Field(default=250, ge=1, le=250)
    customer_email: bool = False
    base_url: str | None = None
    listings_bulk_from: int = Field(
        default=10_000,
        ge=1,
        description="reconcile reads the shop's variants with one bulk query from this many "
        "variants on (fewer: paged queries, 250 variants each)",
    )
    bulk_poll_interval: float = Field(default=2.0, gt=0, description="seconds between polls")
    bulk_timeout: float = Field(default=3600.0, gt=0, description="seconds to wait for a bulk")

    @field_validator("shop")
    @classmethod
    def _normalise_shop(cls, value: str) -> str:
        shop = value.strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/")
        if "." not in shop:
            shop = f"{shop}.myshopify.com"
        if not _SHOP.match(shop):
            raise ValueError(f"{value!r} is not a shop domain like 'acme.myshopify.com'")
        return shop

    @field_validator("access_token")
    @classmethod
    def _token_present(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value().strip()) < 8:
            raise ValueError("the access token is missing or too short")
        return value

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @property
    def graphql_path(self) -> str:
        """The path of the Admin GraphQL endpoint for the configured API version."""
        return f"/admin/api/{self.api_version}/graphql.json"

    @property
    def root_url(self) -> str:
        """Where requests go: ``base_url`` when set, else the shop's own domain."""
        return self.base_url or f"https://{self.shop}"
