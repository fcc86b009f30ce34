"""Settings of a WooCommerce connector: the site, its REST API keys, and how to send them."""

from __future__ import annotations

import warnings
from typing import Literal

from pydantic import AnyHttpUrl, Field, SecretStr, field_validator, model_validator
from serialsync import ConnectorSettings, FinancialStatus

#: WooCommerce refuses a variations batch of more than 100 items (create + update + delete).
MAX_BATCH_ITEMS = 100

AuthMode = Literal["basic", "query", "oauth1"]


class WooCommerceSettings(ConnectorSettings):
    """One WooCommerce store.

    ``site_url`` is the WordPress site (``https://shop.example.com``; a sub-folder install keeps
    its folder); the REST root ``wp-json/wc/v3`` is appended to it. ``consumer_key`` and
    ``consumer_secret`` are the REST API keys (WooCommerce > Settings > Advanced > REST API).

    ``auth_mode`` says how the keys travel:

    * ``basic`` — HTTP Basic over HTTPS (the default);
    * ``query`` — ``consumer_key`` / ``consumer_secret`` query parameters over HTTPS, for hosts
      whose web server strips the ``Authorization`` header;
    * ``oauth1`` — OAuth 1.0a one-legged HMAC-SHA1 signatures, the only mode WooCommerce accepts
      over plain HTTP (the secret itself never travels).

    ``withdraw_mode`` is how a unit is taken off sale: ``zero_stock`` keeps its variation with
    stock 0 (the default: order history keeps its SKU), ``delete`` removes the variation and its
    serial from the product's options. The spelling is BigCommerce's too; ``stock_zero``, this
    plugin's first spelling, is still read, with a deprecation warning.
    ``withdraw_concurrency`` is how many products' batches a withdrawal of many sold units sends
    at once.

    ``order_statuses`` maps custom order statuses to what they mean (``{shipped = "paid"}``);
    an order in a status WooCommerce does not define and this does not map is quarantined
    with its reason, never guessed.
    """

    site_url: AnyHttpUrl
    consumer_key: SecretStr = Field(min_length=8)
    consumer_secret: SecretStr = Field(min_length=8)
    auth_mode: AuthMode = "basic"
    batch_size: int = Field(default=MAX_BATCH_ITEMS, ge=1, le=MAX_BATCH_ITEMS)
    withdraw_mode: Literal["zero_stock", "delete"] = "zero_stock"
    withdraw_concurrency: int = Field(
        default=16,
        ge=1,
        le=32,
        description=(
            "variations/batch requests sent side by side when sold units of many products are "
            "withdrawn (WooCommerce batches variations of one product only); lower it for a "
            "host with few PHP workers"
        ),
    )
    serial_attribute: str = Field(
        default="Serial",
        min_length=1,
        description="name of the order-line attribute that carries the serial as sold",
    )
    order_statuses: dict[str, FinancialStatus] = Field(
        default_factory=dict,
        description=(
            "custom order statuses (added by the store's plugins) and what each means, "
            'such as {shipped = "paid"}: an order in a status neither here nor '
            "WooCommerce's own is quarantined"
        ),
    )

    @field_validator("withdraw_mode", mode="before")
    @classmethod
    def _old_spelling(cls, value: object) -> object:
        # One spelling for one meaning across plugins; a file written for an older release
        # keeps working, and says what to write instead.
        if value == "stock_zero":
            warnings.warn(
                'withdraw_mode = "stock_zero" is deprecated: write "zero_stock" (the spelling '
                "every plugin uses); the old one will be refused in a later release",
                FutureWarning,
                stacklevel=2,
            )
            return "zero_stock"
        return value

    @field_validator("order_statuses")
    @classmethod
    def _status_slugs(cls, value: dict[str, FinancialStatus]) -> dict[str, FinancialStatus]:
        # WordPress stores a status as "wc-shipped" and the REST API shows "shipped": an
        # operator may copy either from the store's admin.
        return {key.strip().removeprefix("wc-"): status for key, status in value.items()}

    @model_validator(mode="after")
    def _no_clear_text_secret(self) -> WooCommerceSettings:
        # Basic and query-string keys send the secret itself; over plain HTTP anyone on the path
        # reads it, and WooCommerce refuses both there anyway (it only trusts OAuth over HTTP).
        if self.site_url.scheme == "http" and self.auth_mode != "oauth1":
            raise ValueError(
                f"auth_mode {self.auth_mode!r} would send the consumer secret in clear over plain "
                "HTTP, and WooCommerce accepts only OAuth 1.0a there: use an https:// site_url "
                "or auth_mode = 'oauth1'"
            )
        return self

    @property
    def api_root(self) -> str:
        """The REST root every request is relative to, ending with a slash."""
        return str(self.site_url).rstrip("/") + "/wp-json/wc/v3/"
